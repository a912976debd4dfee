// The test sandbox: a checkout decorator that wraps each owner's connection
// in a transaction that checkin rolls back, so tests can run concurrently
// against one database and leave nothing behind. It owns these rules:
//  - checkout (sandbox on) opens `BEGIN [ISOLATION LEVEL ...]` and arms the
//    commit guard (a holdable cursor; two statements, no write). The first
//    checkout on a physical connection does it at once, in one round trip
//    with the safeguard's check of the live connection; later ones defer
//    both to the test's first statement, whatever path it takes (exec(),
//    exec_direct(), a pipeline, native()), and send them in its round trip
//    (pq::connection::defer_opening): a test that sends nothing costs none;
//  - through exec(), the code under test sees a plain PostgreSQL session:
//    PostgreSQL's transaction semantics, warnings, command tags and
//    transaction_status(), run on savepoints inside the sandbox's
//    transaction, which it can never end;
//  - whatever reaches the server otherwise (native(), a procedure), the
//    commit guard makes a COMMIT of the sandbox's transaction fail;
//  - checkin is ROLLBACK and DISCARD ALL in one round trip, sent without
//    waiting for the answer (the next use reads it), nothing if the test
//    sent nothing, and says so loudly if the transaction was already gone.
// How statements are translated is documented on sandbox::on_checkout.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/ownership/decorator.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/sandbox/safeguard.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

struct sandbox_options {
  // The sandbox transaction's isolation level, one of PostgreSQL's four in
  // any case ("SERIALIZABLE", "repeatable read", ...); unset: the server's
  // default. The code under test cannot change it from inside.
  std::optional<std::string> isolation;
  // Before the rollback at checkin, run SET CONSTRAINTS ALL IMMEDIATE so a
  // deferred constraint the test violated fails checkin, as it would have
  // failed the commit. Same round trip.
  bool check_deferred_constraints = false;
  // Which databases may be sandboxed.
  safeguard_options safeguard{};
};

class sandbox_session;  // per-connection state and the statement hook

class sandbox final : public checkout_decorator<pq::connection> {
 public:
  // Errors: InvalidArgument for an isolation level that is not one of the
  // four, or a malformed safeguard_options.allowed_servers entry.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<sandbox>> create(sandbox_options o = {});
  ~sandbox() override;
  sandbox(const sandbox&) = delete;
  sandbox& operator=(const sandbox&) = delete;

  // Sandbox off: nothing (real commits). On: BEGIN, safeguard, the commit
  // guard's arming (one round trip); then, until the
  // connection leaves its owner, exec() on c runs as on a plain session
  // (PostgreSQL's rules, applied to the code under test's own state):
  //   outside a block, a string        -> SAVEPOINT sandpool_tx; string;
  //                                       RELEASE (one round trip; all or
  //                                       nothing, as the implicit
  //                                       transaction of a string; a failure
  //                                       is rolled back in a second trip;
  //                                       one simple-protocol string when
  //                                       the server's parser accepts it and
  //                                       no parameters are bound, else a
  //                                       pipeline)
  //   BEGIN / START TRANSACTION        -> SAVEPOINT sandpool_tx (the block)
  //   BEGIN inside a block             -> the server's warning, no change
  //   COMMIT / END                     -> RELEASE SAVEPOINT sandpool_tx,
  //                                       tag COMMIT (ROLLBACK for a failed
  //                                       block, which it rolls back)
  //   ROLLBACK / ABORT                 -> ROLLBACK TO + RELEASE sandpool_tx
  //   ... AND CHAIN                    -> the block is reopened at once
  //   COMMIT / ROLLBACK with no block  -> the server's warning (25P01)
  //   SAVEPOINT, RELEASE, ROLLBACK TO  -> sent as written in a block; with
  //                                       none, the server's error 25P01
  //   anything else inside a block     -> sent as written (a failure leaves
  //                                       the block failed, 25P02 after it,
  //                                       until ROLLBACK or ROLLBACK TO)
  // A string with transaction control among its statements runs them one by
  // one, as the server does: what runs outside a block is one implicit
  // transaction, BEGIN makes it part of a block, COMMIT ends it, and the
  // first error stops the string. transaction_status() reports what a plain
  // session would: idle outside a block, in_transaction or in_error inside.
  // Refused, with an error that says why and what to do, and nothing sent:
  // an isolation level other than the sandbox's, READ ONLY, SET TRANSACTION
  // SNAPSHOT, two-phase commit, COPY (unsupported by exec() anyway), DISCARD
  // ALL (the sandbox resets the session at checkin), a savepoint named
  // sandpool_..., and any statement once the transaction was ended behind
  // the sandbox's back (e.g. through native()). Statements are read by
  // PostgreSQL's parser; what it rejects is sent, and the server's syntax
  // error comes back. Whatever gets through, the commit guard makes the
  // server refuse a COMMIT (SQLSTATE 25SB1). Server errors keep their
  // SQLSTATE; 25001 and 2D000 get a hint (run_unboxed, run unsandboxed).
  // What still differs from a plain session: statements that cannot run in
  // a transaction block (VACUUM, CREATE DATABASE, ...) fail with 25001;
  // txid_current_if_assigned() and similar see the sandbox's transaction;
  // current_query() shows a protected string with its savepoint statements;
  // native() sees the server's real state. Errors of on_checkout: the
  // safeguard's refusal, the guard's creation (the role may not create
  // schema sandpool), the server's. A deferred opening that fails fails the
  // statement that carried it, which does not run (the error names BEGIN
  // and the guard); it is rolled back and tried again with the next one.
  [[nodiscard]] absl::Status on_checkout(pq::connection& c, const checkout_options& o) override;
  // ROLLBACK and DISCARD ALL, one round trip (DISCARD ALL alone after an
  // unsandboxed checkout); nothing if the test sent nothing. It is not waited for (pq::connection::
  // send_rollback), except after SET CONSTRAINTS ALL IMMEDIATE (if
  // configured), whose verdict checkin must report. Errors:
  // FailedPrecondition if the transaction was already ended
  // behind the sandbox's back (its writes may be committed); the deferred
  // constraint violation; Unavailable if the connection was lost.
  [[nodiscard]] absl::Status on_checkin(pq::connection& c) override;
  // Removes the statement hook. No I/O.
  void on_release(pq::connection& c) noexcept override;

  // Whether c is inside a sandbox now. Thread-safe.
  [[nodiscard]] bool is_sandboxed(const pq::connection& c) const;
  // Whether the code under test has a transaction block open on c.
  [[nodiscard]] bool in_block(const pq::connection& c) const;
  const sandbox_options& options() const noexcept { return options_; }

  // Suite-level savepoints, for data loaded once per suite inside the
  // sandbox: begin_suite_savepoint marks the current state (SAVEPOINT
  // sandpool_mark_<n>, marks nest), rollback_to returns to the latest mark,
  // or to the state at checkout when there is none (one round trip each, the
  // mark is kept, an open block of the code under test is discarded; with
  // no mark the transaction is restarted, so REPEATABLE READ and
  // SERIALIZABLE take a new snapshot), and
  // release_suite_savepoint drops the latest mark, keeping its changes.
  // Call them with a turn on c (e.g. through a lease). Errors:
  // FailedPrecondition if c is not sandboxed, if begin/release is called
  // with a block of the code under test open, or release with no mark; the
  // server's.
  [[nodiscard]] absl::Status begin_suite_savepoint(pq::connection& c);
  [[nodiscard]] absl::Status rollback_to(pq::connection& c);
  [[nodiscard]] absl::Status release_suite_savepoint(pq::connection& c);

 private:
  explicit sandbox(sandbox_options o);
  // The session for c, created on first use; never null. Thread-safe.
  sandbox_session& session_for(const pq::connection& c);
  // BEGIN, the safeguard (first time per backend) and the guard's arming,
  // in one round trip.
  [[nodiscard]] absl::Status open_transaction(pq::connection& c, sandbox_session& s);
  // BEGIN with the configured isolation level.
  [[nodiscard]] std::string begin_sql() const;
  // The session for c if c is sandboxed now, else null. Thread-safe.
  sandbox_session* active_session(const pq::connection& c) const;

  const sandbox_options options_;
  mutable std::mutex lock_;  // guards sessions_ (the map, not the sessions)
  // One per connection ever sandboxed; a pool's connections live in fixed
  // slots, so this is bounded by the pool size.
  absl::flat_hash_map<const pq::connection*, std::unique_ptr<sandbox_session>> sessions_;
};

// The statements that create the sandbox's commit guard (schema sandpool: a
// function that raises SQLSTATE 25SB1, run by a holdable cursor each
// sandboxed checkout declares, so that the server refuses to commit a
// sandboxed transaction). The first sandboxed checkout in a database runs
// them itself; a role that may not create a schema needs them run once by
// the database owner (e.g. in the test database's migrations). Idempotent.
[[nodiscard]] std::string_view sandbox_guard_sql() noexcept;

// Creates a sandbox and installs it on pool's ownership layer; do it before
// anyone checks out, and replace or remove it (set_decorator) only when
// nobody is checked out: the sandbox removes its hook from a connection when
// the connection leaves its owner, which it only hears about while it is
// the installed decorator. Errors: sandbox::create's.
template <class Pool>
[[nodiscard]] absl::StatusOr<std::shared_ptr<sandbox>> install_sandbox(Pool& pool,
                                                                       sandbox_options o = {}) {
  auto box = sandbox::create(std::move(o));
  if (!box.ok()) return box.status();
  pool.ownership().set_decorator(*box);
  return box;
}

}  // namespace sandpool

#pragma GCC visibility pop
