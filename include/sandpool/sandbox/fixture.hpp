// A suite-level fixture over the sandbox: data loaded once per suite inside
// the suite's sandbox transaction, and each test rolled back to the state
// right after loading (one round trip) instead of reloading it. It owns the
// order: start() checks out, loads, and marks; reset() returns to the mark;
// stop() checks in, which rolls everything back, the loaded data included.
//
// The calling thread or fiber becomes the owner, so run the suite's tests on
// it (or allow their workers on it); see owner_thread for suites that need
// an owner of its own.
#pragma once

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "sandpool/pool.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/sandbox/sandbox.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

template <class Pool>
class basic_suite_fixture {
 public:
  // box must be installed on pool (see install_sandbox).
  basic_suite_fixture(Pool& pool, std::shared_ptr<sandbox> box)
      : pool_(pool), box_(std::move(box)) {}

  // Checks out (sandboxed) for the caller, runs load(pq::connection&) ->
  // absl::Status once, then marks the state with a suite savepoint. Errors:
  // the checkout's, load's (the caller is checked in again), the savepoint's.
  template <class Load>
  [[nodiscard]] absl::Status start(Load&& load) {
    auto r = pool_.ownership().checkout();
    if (!r.ok()) return r.status();
    absl::Status s = with_connection(std::forward<Load>(load));
    if (s.ok()) s = with_connection([&](pq::connection& c) { return box_->begin_suite_savepoint(c); });
    if (!s.ok()) (void)pool_.ownership().checkin();
    return s;
  }

  // Rolls the suite's connection back to the state after load (one round
  // trip); call it after (or before) each test. Errors: the sandbox's.
  [[nodiscard]] absl::Status reset() {
    return with_connection([&](pq::connection& c) { return box_->rollback_to(c); });
  }

  // Checks in: the loaded data is rolled back too. Errors: checkin's.
  [[nodiscard]] absl::Status stop() { return pool_.ownership().checkin(); }

 private:
  template <class F>
  absl::Status with_connection(F&& f) {
    auto lease = pool_.checkout();
    if (!lease.ok()) return lease.status();
    return std::forward<F>(f)(**lease);
  }

  Pool& pool_;
  std::shared_ptr<sandbox> box_;
};

using suite_fixture = basic_suite_fixture<pool>;

}  // namespace sandpool

#pragma GCC visibility pop
