// libpq's blocking calls as send-then-wait loops for fiber threads; see
// wait.hpp.
#include "pq/wait.hpp"

#include <poll.h>

#include <boost/fiber/operations.hpp>
#include <atomic>
#include <chrono>
#include <thread>

#include "sandpool/core/fiber_io.hpp"

namespace sandpool::pq::internal {

bool wait_socket(int fd, bool write, std::chrono::steady_clock::time_point deadline) noexcept {
  switch (fiber_io::wait(fd, write, deadline)) {
    case fiber_io::wait_result::ready: return true;
    case fiber_io::wait_result::timed_out: return false;
    case fiber_io::wait_result::not_suspended: break;
  }
  pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
  for (;;) {
    int ms = -1;
    if (deadline != std::chrono::steady_clock::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      ms = static_cast<int>(std::min<long long>(left.count(), 1'000'000));
    }
    const int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // the next read reports the failure
  }
}

void await_result(PGconn* conn) noexcept {
  if (!fiber_io::active()) return;  // PQgetResult blocks the thread itself
  // Everything sent first: libpq in blocking mode writes it all, but a
  // partial write leaves the rest for PQflush.
  while (PQflush(conn) == 1) {
    (void)wait_socket(PQsocket(conn), true, std::chrono::steady_clock::time_point::max());
  }
  while (PQisBusy(conn) == 1) {
    (void)wait_socket(PQsocket(conn), false, std::chrono::steady_clock::time_point::max());
    if (PQconsumeInput(conn) == 0) return;
  }
}

namespace {

// PQexec's way of collecting results: the last one, stopping at COPY or a
// broken connection.
PGresult* finish(PGconn* conn) noexcept {
  PGresult* last = nullptr;
  for (;;) {
    await_result(conn);
    PGresult* r = PQgetResult(conn);
    if (r == nullptr) break;
    PQclear(last);
    last = r;
    const ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH ||
        PQstatus(conn) == CONNECTION_BAD)
      break;
  }
  return last;
}

}  // namespace

void abort_copy(PGconn* conn, ExecStatusType status) noexcept {
  if (status == PGRES_COPY_IN || status == PGRES_COPY_BOTH) {
    PQputCopyEnd(conn, "COPY is not supported by sandpool::pq::connection::exec");
  }
  if (status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
    char* row = nullptr;
    while (PQgetCopyData(conn, &row, 0) > 0) PQfreemem(row);
  }
  while (PGresult* rest = PQgetResult(conn)) PQclear(rest);
}

PGresult* exec(PGconn* conn, const char* sql) noexcept {
  if (!fiber_io::active()) return PQexec(conn, sql);
  if (PQsendQuery(conn, sql) != 1) return nullptr;
  return finish(conn);
}

PGresult* exec_params(PGconn* conn, const char* sql, int n, const char* const* values) noexcept {
  if (!fiber_io::active()) return PQexecParams(conn, sql, n, nullptr, values, nullptr, nullptr, 0);
  if (PQsendQueryParams(conn, sql, n, nullptr, values, nullptr, nullptr, 0) != 1) return nullptr;
  return finish(conn);
}

connect_outcome connect(const char* const* keys, const char* const* values,
                        std::chrono::seconds timeout) noexcept {
  if (!fiber_io::active()) return {PQconnectdbParams(keys, values, 0), false};
  PGconn* conn = PQconnectStartParams(keys, values, 0);
  if (conn == nullptr || PQstatus(conn) == CONNECTION_BAD) return {conn, false};
  const auto deadline = timeout.count() > 0 ? std::chrono::steady_clock::now() + timeout
                                            : std::chrono::steady_clock::time_point::max();
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    if (!wait_socket(PQsocket(conn), st == PGRES_POLLING_WRITING, deadline)) {
      PQfinish(conn);
      return {nullptr, true};
    }
    st = PQconnectPoll(conn);
  }
  return {conn, false};
}

int cancel(PGcancel* cancel, char* error, int size) noexcept {
  if (!fiber_io::active()) return PQcancel(cancel, error, size);
  std::atomic<bool> done{false};
  int delivered = 0;
  std::thread helper;
  try {
    helper = std::thread([&] {
      delivered = PQcancel(cancel, error, size);
      done.store(true, std::memory_order_release);
    });
  } catch (...) {
    // No thread to be had: the request is sent from this one.
    return PQcancel(cancel, error, size);
  }
  // A timer, not a socket or a fiber future: it wakes this fiber while the
  // thread's other fibers keep it busy, and ThreadSanitizer can follow it.
  // The request takes a connection setup, far above 1 ms.
  while (!done.load(std::memory_order_acquire)) {
    boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
  }
  helper.join();  // it has finished: only its exit is left
  return delivered;
}

}  // namespace sandpool::pq::internal
