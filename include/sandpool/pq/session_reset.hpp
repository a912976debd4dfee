// What happens to a connection's session when a lease returns it, so that
// the next lease does not see the previous one's settings, locks or
// notifications. By default it runs only after a lease whose statements may
// have changed the session (a SET, PREPARE, LISTEN, DECLARE, DO, CALL,
// set_config(), a session advisory lock, a temp table, or native() access:
// see connection::session_touched()); always() runs it after every lease,
// for code whose server-side functions change the session unseen.
// The pool never runs it on a caller's path: the returning
// caller only queues it on the socket (one write, no wait) and the next use
// of the connection reads the answer, usually long arrived; a connection
// returned inside a transaction is rolled back and reset by housekeeping.
// PgBouncer's server_reset_query (DISCARD ALL) and HikariCP's reset of what
// the previous user changed are the references; the README says why
// keep_prepared is the default.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

class session_reset {
 public:
  // Only an open transaction is rolled back; settings (SET), prepared
  // statements, advisory locks, LISTEN, temp tables and cursors WITH HOLD
  // pass to the next lease. Costs nothing on a clean return.
  static session_reset none();
  // Everything DISCARD ALL undoes except prepared statements and their
  // plans: SET SESSION AUTHORIZATION DEFAULT, RESET ALL, CLOSE ALL,
  // UNLISTEN *, pg_advisory_unlock_all(), DISCARD TEMP, DISCARD SEQUENCES.
  // Code that prepares its statements once per connection keeps them.
  static session_reset keep_prepared();
  // DISCARD ALL: a session as fresh as a new connection's.
  static session_reset discard_all();
  // Statements of your own, each a single statement, run in order in one
  // implicit transaction (so DISCARD ALL, which refuses to run in one with
  // others, must be alone). Checked on every new connection: a
  // statement that fails there fails the connect (InvalidArgument).
  // Errors: InvalidArgument for an empty list, an empty statement or a NUL.
  static absl::StatusOr<session_reset> custom(std::vector<std::string> statements);

  // The same reset, sent after every lease, touched or not.
  [[nodiscard]] session_reset always() const {
    session_reset copy = *this;
    copy.always_ = true;
    return copy;
  }
  bool every_lease() const noexcept { return always_; }

  // The statements sent after a lease; empty for none().
  const std::vector<std::string>& statements() const noexcept { return statements_; }
  // "none", "keep_prepared", "discard_all" or "custom", for messages.
  std::string_view name() const noexcept { return name_; }
  bool is_custom() const noexcept { return name_ == "custom"; }

 private:
  session_reset(std::string_view name, std::vector<std::string> statements)
      : name_(name), statements_(std::move(statements)) {}

  std::string_view name_;
  std::vector<std::string> statements_;
  bool always_ = false;
};

// Whether sql (any of its statements) may leave state in the session that
// outlives its transaction: a setting, a prepared statement, a LISTEN, a
// cursor WITH HOLD, a temp table, a session advisory lock, a loaded library.
// A cheap scan, not a parser: the first word of every statement (SET, RESET,
// PREPARE, LISTEN, DECLARE, LOAD, DISCARD, DO, CALL) and, anywhere,
// set_config, advisory_lock and temp. A false yes costs one reset; what it
// cannot see is a server-side function changing the session (setseed(),
// dblink_connect(), a function calling set_config()), nor the currval()
// state an INSERT into a serial column leaves; session_reset::always() is
// for code that relies on those being reset.
[[nodiscard]] bool may_change_session(std::string_view sql) noexcept;

}  // namespace sandpool::pq

#pragma GCC visibility pop
