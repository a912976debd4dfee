// Running work outside every sandbox: run_unboxed() gives a function a
// connection of its own, opened with the pool's driver, where COMMIT is a
// real commit (migrations, fixtures shared by every test, statements that
// cannot run in a transaction block such as CREATE DATABASE or VACUUM). It
// owns the rule that the caller's sandbox is not touched: the caller's
// connection, its transaction and its savepoints are exactly as before.
//
// The connection is opened for the call and closed after it, so it does not
// count against the pool's max_size. A statement of the function that waits
// for a lock held by the caller's own sandboxed transaction (VACUUM of a
// table the test wrote, say) would wait forever, since the caller waits for
// the function: it is cancelled within a fraction of a second and
// run_unboxed says which lock and what to do (detail/lock_watch.hpp).
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sandpool/pq/connection.hpp"
#include "sandpool/sandbox/detail/lock_watch.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// Runs fn(pq::connection&) -> absl::Status on a fresh connection to the
// pool's server and returns fn's status. Errors: the driver's connect error;
// fn's; FailedPrecondition if fn returned ok but left a transaction open
// (its uncommitted work is lost when the connection closes);
// FailedPrecondition (SQLSTATE 55P03) if a statement waited on the caller's
// own sandbox and was cancelled. Thread-safe.
template <class Pool, class F>
[[nodiscard]] absl::Status run_unboxed(Pool& pool, F&& fn) {
  int holder = 0;  // the backend of the caller's own (sandboxed) connection
  (void)pool.ownership().inspect_caller_connection(
      [&](const pq::connection& mine) { holder = mine.backend_pid(); });
  auto c = pool.driver().connect();
  if (!c.ok()) return c.status();
  detail::lock_watch watch(pool.driver(), *c, holder);
  absl::Status s = watch.finish(std::forward<F>(fn)(*c));
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
