// P9's subjects, each one timed run on one client thread:
//  - callers of a pool (pool_cycle: checkout, exec(sql), checkin) on a new
//    thread: the thread itself, or N fibers under Boost.Fiber's default
//    round robin, or N fibers under sandpool::fiber_io_scheduler;
//  - raw libpq async: one thread driving N connections by PQsendQuery and
//    poll(), the floor for one thread and N connections;
//  - pgbench -n -f SCRIPT -c N -j 1: one thread and N connections too.
// The rule it owns: every subject counts only operations that completed
// and whose result it checked, and a run lasts from its start to the end
// of the last operation still in flight at its deadline.
#pragma once

#include <libpq-fe.h>
#include <poll.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/all.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "p3_harness.hpp"
#include "p8_pgbench.hpp"
#include "sandpool/core/fiber_io.hpp"
#include "sandpool/sandpool.hpp"
#include "warm_pool.hpp"

namespace sandpool::bench {

// One run's figures, whichever subject measured them.
struct figures {
  double ops = 0;      // operations per second, all callers together
  double us = 0;       // mean time of one operation as its caller saw it
  double cpu_us = -1;  // client CPU (user + system) per operation; < 0: not measured
};

inline figures figures_of(const tally& t) { return {t.per_second(), t.mean_us(), t.cpu_us()}; }

enum class scheduling {
  plain,          // no fibers: the thread itself is the one caller
  boost_default,  // fibers under Boost.Fiber's round robin: a query blocks the thread
  fiber_io,       // fibers under sandpool::fiber_io_scheduler: a query suspends its fiber
};

// Runs cycle() (returning absl::Status) from `fibers` callers on a new
// thread for `d`. Under fiber_io_scheduler a fiber gives up the thread at
// every query; under the default scheduler it never does, so there fibers
// yield after each cycle (as in P3's harness) to take turns instead of one
// of them looping alone.
template <class Cycle>
tally run_on_one_thread(scheduling how, int fibers, std::chrono::duration<double> d,
                        Cycle& cycle) {
  using clock = std::chrono::steady_clock;
  tally out;
  const double cpu_before = process_cpu_seconds();
  std::thread t([&] {
    if (how == scheduling::fiber_io)
      boost::fibers::use_scheduling_algorithm<sandpool::fiber_io_scheduler>();
    const auto begin = clock::now();
    const auto deadline = begin + std::chrono::duration_cast<clock::duration>(d);
    bool stop = false;  // shared by fibers of this one thread only
    auto caller = [&] {
      while (!stop && clock::now() < deadline) {
        const auto t0 = clock::now();
        absl::Status s = cycle();
        const auto t1 = clock::now();
        if (!s.ok()) {
          if (out.error.ok()) out.error = std::move(s);
          stop = true;
          return;
        }
        ++out.cycles;
        out.busy_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
        if (how == scheduling::boost_default) boost::this_fiber::yield();
      }
    };
    if (how == scheduling::plain) {
      caller();
    } else {
      std::vector<boost::fibers::fiber> crew;
      for (int f = 0; f < fibers; ++f) crew.emplace_back(caller);
      for (auto& fb : crew) fb.join();
    }
    out.seconds = std::chrono::duration<double>(clock::now() - begin).count();
  });
  t.join();
  out.cpu_seconds = process_cpu_seconds() - cpu_before;
  return out;
}

// A pool of exactly `connections`, all open before open() returns, and its
// cycle: checkout, exec(sql) expecting one row, checkin. Thread- and
// fiber-safe, as the pool is.
class pool_cycle {
 public:
  // Errors: the driver's or the pool's, or Unavailable if the pool did not
  // fill within 10 s (with the checkout's explanation).
  static absl::StatusOr<pool_cycle> open(const std::string& dsn, std::size_t connections) {
    auto driver = pq::driver::create(dsn + " application_name=sandpool-p9");
    if (!driver.ok()) return driver.status();
    absl::StatusOr<pool> p =
        open_warm_pool(std::move(*driver), absl::StrCat("p9-", connections), connections);
    if (!p.ok()) return p.status();
    return pool_cycle(std::move(*p));
  }

  absl::Status operator()(const char* sql) {
    absl::StatusOr<lease> l = pool_.checkout();
    if (!l.ok()) return l.status();
    absl::StatusOr<pq::result> r = (*l)->exec(sql);
    if (!r.ok()) return r.status();
    if (r->rows() != 1)
      return absl::InternalError(absl::StrCat("p9: ", sql, " gave ", r->rows(), " rows"));
    return absl::OkStatus();  // the lease goes back here
  }

  sandpool::metrics metrics() const { return pool_.metrics(); }

 private:
  explicit pool_cycle(pool p) : pool_(std::move(p)) {}
  pool pool_;
};

// N libpq connections driven from the calling thread: each has one query
// in flight, sent again as soon as its result is in, until the deadline.
class raw_async {
 public:
  static absl::StatusOr<raw_async> open(const std::string& dsn, int connections) {
    raw_async r;
    for (int i = 0; i < connections; ++i) {
      PGconn* c = PQconnectdb(dsn.c_str());
      r.conns_.push_back(c);
      if (PQstatus(c) != CONNECTION_OK)
        return absl::UnavailableError(absl::StrCat("raw async: cannot connect: ",
                                                   PQerrorMessage(c)));
    }
    return r;
  }
  raw_async(raw_async&& o) noexcept : conns_(std::move(o.conns_)) { o.conns_.clear(); }
  raw_async& operator=(raw_async&&) = delete;
  ~raw_async() {
    for (PGconn* c : conns_) PQfinish(c);
  }

  // Sends stay blocking (a short query fits the socket buffer); reads are
  // PQconsumeInput + PQisBusy after poll() says a socket is readable.
  tally run(const char* sql, std::chrono::duration<double> d) {
    using clock = std::chrono::steady_clock;
    tally out;
    const double cpu_before = process_cpu_seconds();
    const auto begin = clock::now();
    const auto deadline = begin + std::chrono::duration_cast<clock::duration>(d);
    const std::size_t n = conns_.size();
    std::vector<pollfd> fds(n);
    std::vector<clock::time_point> sent(n);
    std::vector<int> rows(n, 0);
    std::size_t in_flight = 0;
    auto fail = [&](PGconn* c, const char* what) {
      out.error = absl::InternalError(absl::StrCat("raw async: ", what, ": ", PQerrorMessage(c)));
    };
    auto send = [&](std::size_t i) {
      if (PQsendQuery(conns_[i], sql) != 1) return fail(conns_[i], "PQsendQuery");
      sent[i] = clock::now();
      rows[i] = 0;
      ++in_flight;
    };
    for (std::size_t i = 0; i < n && out.error.ok(); ++i) {
      fds[i] = {PQsocket(conns_[i]), POLLIN, 0};
      send(i);
    }
    while (in_flight > 0 && out.error.ok()) {
      if (::poll(fds.data(), n, -1) < 0) {
        if (errno == EINTR) continue;
        out.error = absl::InternalError(absl::StrCat("raw async: poll: ", std::strerror(errno)));
        break;
      }
      for (std::size_t i = 0; i < n && out.error.ok(); ++i) {
        if (fds[i].revents == 0) continue;
        PGconn* c = conns_[i];
        if (PQconsumeInput(c) == 0) {
          fail(c, "PQconsumeInput");
          break;
        }
        bool done = false;
        while (!done && PQisBusy(c) == 0) {
          PGresult* r = PQgetResult(c);
          if (r == nullptr) {
            done = true;
            break;
          }
          if (PQresultStatus(r) != PGRES_TUPLES_OK) fail(c, sql);
          rows[i] += PQntuples(r);
          PQclear(r);
        }
        if (!done) continue;
        --in_flight;
        if (rows[i] != 1) fail(c, "not one row");
        const auto now = clock::now();
        ++out.cycles;
        out.busy_ns += std::chrono::duration<double, std::nano>(now - sent[i]).count();
        if (now < deadline && out.error.ok()) send(i);
        else fds[i].fd = -1;  // poll() skips it from now on
      }
    }
    out.seconds = std::chrono::duration<double>(clock::now() - begin).count();
    out.cpu_seconds = process_cpu_seconds() - cpu_before;
    return out;
  }

 private:
  raw_async() = default;
  std::vector<PGconn*> conns_;
};

// User + system CPU time of this process's children that have ended.
inline double children_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// One `pgbench -n -f script -c clients -j 1 -T seconds conninfo`: tps
// without connection time, the latency average, and pgbench's CPU per
// transaction (its whole life, connecting included).
inline absl::StatusOr<figures> run_pgbench_one_thread(const std::string& pgbench,
                                                      const std::string& script, int clients,
                                                      int seconds, const std::string& conninfo) {
  const double cpu_before = children_cpu_seconds();
  absl::StatusOr<std::string> out =
      run_captured({pgbench, "-n", "-f", script, "-c", std::to_string(clients), "-j", "1", "-T",
                    std::to_string(seconds), conninfo});
  if (!out.ok()) return out.status();
  const double cpu = children_cpu_seconds() - cpu_before;
  figures f;
  f.ops = pgbench_figure(*out, "tps = ");
  f.us = pgbench_figure(*out, "latency average = ") * 1e3;
  const double done = pgbench_figure(*out, "number of transactions actually processed: ");
  if (f.ops <= 0 || f.us <= 0)
    return absl::InternalError(
        absl::StrCat("pgbench printed no \"latency average\" or \"tps\" line: ", *out));
  if (done > 0) f.cpu_us = cpu * 1e6 / done;
  return f;
}

}  // namespace sandpool::bench
