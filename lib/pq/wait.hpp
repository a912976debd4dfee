// Waiting for the server without blocking a fiber: libpq's blocking calls
// (PQexec, PQexecParams, PQconnectdbParams, a PQgetResult that has to wait,
// PQcancel) as calls that suspend the calling fiber on a thread that runs
// fiber_io_scheduler: send-then-wait loops, and for PQcancel, which has no
// asynchronous form before libpq 17, a helper thread. On any other thread
// each is the blocking libpq call itself, unchanged.
#pragma once

#include <libpq-fe.h>

#include <chrono>

namespace sandpool::pq::internal {

// Until a result can be read from conn without blocking (or the connection
// failed; the next PQgetResult says so).
void await_result(PGconn* conn) noexcept;

// PQexec and PQexecParams (text parameters, text results).
[[nodiscard]] PGresult* exec(PGconn* conn, const char* sql) noexcept;
[[nodiscard]] PGresult* exec_params(PGconn* conn, const char* sql, int n,
                                    const char* const* values) noexcept;

// PQconnectdbParams; `timeout` (zero: none) bounds the whole connect on a
// fiber thread, where timed_out says it expired (conn is then null).
struct connect_outcome {
  PGconn* conn = nullptr;
  bool timed_out = false;
};
[[nodiscard]] connect_outcome connect(const char* const* keys, const char* const* values,
                                      std::chrono::seconds timeout) noexcept;

// PQcancel. On a fiber I/O thread it runs on a helper thread while the
// calling fiber sleeps in 1 ms steps until it is done (the request connects
// to the server and waits for it to hang up); if no thread can be started,
// it blocks the thread instead.
[[nodiscard]] int cancel(PGcancel* cancel, char* error, int size) noexcept;

// Ends a COPY a statement started by accident (status is its result's),
// so the connection stays usable: the rest of the COPY's results are read.
void abort_copy(PGconn* conn, ExecStatusType status) noexcept;

// Waits until fd is readable (or writable), suspending the fiber if it can;
// false if the deadline passed first.
bool wait_socket(int fd, bool write, std::chrono::steady_clock::time_point deadline) noexcept;

}  // namespace sandpool::pq::internal
