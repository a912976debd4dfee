// The two things P3 compares, each behind one cycle(thread) call:
//  - raw libpq: one PGconn per thread, PQexec("SELECT 1"), PQclear. The
//    floor any pool is measured against: no pool, no wrapper.
//  - sandpool: checkout, exec("SELECT 1") through pq::connection, checkin,
//    on a pool of exactly `connections` connections opened ahead of time,
//    with the default session reset (keep_prepared) or another one.
// Both check the result, so neither can skip work the other does.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "sandpool/sandpool.hpp"
#include "warm_pool.hpp"

namespace sandpool::bench {

constexpr const char* select1 = "SELECT 1";

class raw_libpq {
 public:
  static constexpr const char* name = "raw libpq";

  // Opens one connection per thread. Errors: Unavailable with libpq's reason.
  static absl::StatusOr<raw_libpq> open(const std::string& dsn, int threads) {
    raw_libpq r;
    for (int t = 0; t < threads; ++t) {
      PGconn* c = PQconnectdb(dsn.c_str());
      r.conns_.push_back(c);
      if (PQstatus(c) != CONNECTION_OK)
        return absl::UnavailableError(
            absl::StrCat("raw libpq: cannot connect: ", PQerrorMessage(c)));
    }
    return r;
  }
  raw_libpq(raw_libpq&& o) noexcept : conns_(std::move(o.conns_)) { o.conns_.clear(); }
  raw_libpq& operator=(raw_libpq&&) = delete;
  ~raw_libpq() {
    for (PGconn* c : conns_) PQfinish(c);
  }

  absl::Status operator()(int thread) {
    PGconn* c = conns_[static_cast<std::size_t>(thread)];
    PGresult* r = PQexec(c, select1);
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (ok) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("raw libpq: SELECT 1 failed: ", PQerrorMessage(c)));
  }

 private:
  raw_libpq() = default;
  std::vector<PGconn*> conns_;
};

class pooled {
 public:
  static constexpr const char* name = "sandpool";

  // A pool of exactly `connections`, all open before this returns (up to
  // 10 s). Production options otherwise. Errors: the driver's or pool's
  // error, or the checkout error explaining why the pool did not fill.
  static absl::StatusOr<pooled> open(const std::string& dsn, std::size_t connections,
                                     pq::session_reset reset = pq::session_reset::keep_prepared()) {
    absl::StatusOr<pq::driver> driver = pq::driver::create(dsn, {std::move(reset)});
    if (!driver.ok()) return driver.status();
    absl::StatusOr<pool> p = open_warm_pool(std::move(*driver), "p3", connections);
    if (!p.ok()) return p.status();
    return pooled(std::move(*p));
  }

  absl::Status operator()(int /*thread*/) {
    absl::StatusOr<lease> l = pool_.checkout();
    if (!l.ok()) return l.status();
    absl::StatusOr<pq::result> r = (*l)->exec(select1);
    if (!r.ok()) return r.status();
    if (r->rows() != 1)
      return absl::InternalError(absl::StrCat("sandpool: SELECT 1 gave ", r->rows(), " rows"));
    return absl::OkStatus();  // the lease goes back here
  }

  sandpool::metrics metrics() const { return pool_.metrics(); }

 private:
  explicit pooled(pool p) : pool_(std::move(p)) {}
  pool pool_;
};

}  // namespace sandpool::bench
