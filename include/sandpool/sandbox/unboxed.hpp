// Running work outside every sandbox: run_unboxed() gives a function a
// connection of its own, opened with the pool's driver, where COMMIT is a
// real commit (migrations, fixtures shared by every test, statements that
// cannot run in a transaction block such as CREATE DATABASE or VACUUM). It
// owns the rule that the caller's sandbox is not touched: the caller's
// connection, its transaction and its savepoints are exactly as before.
//
// The connection is opened for the call and closed after it, so it does not
// count against the pool's max_size. Mind locks: if the caller's sandbox
// holds a lock the function needs, the function waits for it (forever, since
// the caller is waiting for the function).
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sandpool/pq/connection.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// Runs fn(pq::connection&) -> absl::Status on a fresh connection to the
// pool's server and returns fn's status. Errors: the driver's connect error;
// fn's; FailedPrecondition if fn returned ok but left a transaction open
// (its uncommitted work is lost when the connection closes). Thread-safe.
template <class Pool, class F>
[[nodiscard]] absl::Status run_unboxed(Pool& pool, F&& fn) {
  auto c = pool.driver().connect();
  if (!c.ok()) return c.status();
  absl::Status s = std::forward<F>(fn)(*c);
  if (s.ok() && c->transaction_status() != tx_status::idle) {
    s = absl::FailedPreconditionError(absl::StrCat(
        "run_unboxed: the function returned ok but left a transaction open on ", c->target(),
        "; its uncommitted work was discarded when the connection closed. End it with COMMIT "
        "(or ROLLBACK) before returning"));
  }
  c->close();
  return s;
}

}  // namespace sandpool

#pragma GCC visibility pop
