// Wording of the sandbox's errors; see sandbox_messages.hpp.
#include "sandbox/messages.hpp"

#include <string>

#include "absl/strings/cord.h"
#include "pq/error.hpp"
#include "sandpool/pq/server_error.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "text.hpp"

namespace sandpool::sandbox_messages {
namespace {

using text::concat;

constexpr std::string_view unsandboxed =
    "run this test unsandboxed: check out with checkout_options{.sandbox = false} and clean "
    "up with a cleanup strategy";

std::string stmt(std::string_view sql) {
  return concat(" (statement: ", pq::internal::sql_excerpt(sql), ")");
}

absl::Status make(absl::StatusCode code, const std::string& message, std::string_view state = "") {
  return pq::internal::with_sqlstate(code, message, state);
}

// The error's message with `more` appended; code and payloads kept.
absl::Status append(const absl::Status& e, std::string_view more) {
  absl::Status out(e.code(), text::to_absl(concat(text::from_absl(e.message()), more)));
  e.ForEachPayload([&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
  return out;
}

}  // namespace

absl::Status needs_block(std::string_view command, std::string_view sql) {
  // The server's own error, with its fields for clients that read them.
  const std::string server = concat(command, " can only be used in transaction blocks");
  absl::Status s = make(pq::code_for_sqlstate("25P01"),
                        concat("query failed [SQLSTATE 25P01]: ", server, " (while running: ",
                               pq::internal::sql_excerpt(sql), ")"),
                        "25P01");
  pq::attach_error_fields(s, {{'S', "ERROR"}, {'V', "ERROR"}, {'C', "25P01"}, {'M', server}});
  return s;
}

absl::Status isolation_refused(std::string_view command, std::string_view requested,
                               std::string_view actual, std::string_view sql, bool aborted) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: ", command, " asks for isolation level ", requested,
                     ", but the test's transaction was opened at checkout with ", actual,
                     " and a savepoint cannot change it; ",
                     aborted ? "the code under test's transaction is now aborted and needs a "
                               "ROLLBACK, as it would without the sandbox"
                             : "the statement had no effect",
                     stmt(sql),
                     ". Set sandbox_options.isolation = \"", requested,
                     "\" so the whole test runs at that level, or ", unsandboxed),
              "25001");
}

absl::Status read_only_refused(std::string_view command, std::string_view sql) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: ", command, " READ ONLY was not sent: a savepoint cannot be "
                     "read-only, and making the test's whole transaction read-only would "
                     "break every write after it", stmt(sql),
                     ". Drop READ ONLY in the test build, or ", unsandboxed),
              "25001");
}

absl::Status snapshot_refused(std::string_view sql) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: SET TRANSACTION SNAPSHOT was not sent: it must be the first "
                     "statement of a transaction, and the sandbox's transaction began at "
                     "checkout", stmt(sql), "; ", unsandboxed),
              "25001");
}

absl::Status discard_all_refused(std::string_view sql) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: DISCARD ALL was not sent: it cannot run inside a transaction "
                     "block, and a sandboxed test always runs in one", stmt(sql),
                     ". The sandbox resets the session itself when the test checks in "
                     "(DISCARD ALL after its ROLLBACK), so the next test starts clean; drop "
                     "the statement from the test build, or reset only what the test needs "
                     "inside the transaction (DEALLOCATE ALL, RESET ALL, CLOSE ALL, "
                     "DISCARD PLANS / TEMP / SEQUENCES)"),
              "25001");
}

absl::Status two_phase_refused(std::string_view command, std::string_view sql) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: ", command, " (two-phase commit) was not sent: it would end "
                     "the sandbox's transaction, which has to stay open until checkin rolls "
                     "it back", stmt(sql), "; ", unsandboxed));
}

absl::Status copy_refused(std::string_view sql) {
  return make(absl::StatusCode::kUnimplemented,
              concat("COPY is not supported by exec(), and the sandbox did not send it",
                     stmt(sql), "; use native() with libpq's COPY functions"));
}

absl::Status string_syntax_changed(std::string_view sql) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: the rest of this string was not run: it changed "
                     "standard_conforming_strings and goes on, and the server reads a whole "
                     "string with the setting in force when it arrives, which the sandbox "
                     "cannot reproduce for a string with transaction control (it runs those "
                     "statement by statement)", stmt(sql),
                     ". Send the SET in an exec() of its own; outside a block, what the "
                     "string ran before is rolled back"),
              "0A000");
}

absl::Status reserved_name(std::string_view name, std::string_view sql) {
  return make(absl::StatusCode::kInvalidArgument,
              concat("sandbox: the savepoint name \"", name, "\" was not sent: names starting "
                     "with sandpool_ are reserved for the sandbox's own savepoints",
                     stmt(sql), "; rename the savepoint"));
}

absl::Status guard_cursor_refused(std::string_view sql) {
  return make(absl::StatusCode::kInvalidArgument,
              concat("sandbox: a statement that fetches from, moves or closes the cursor "
                     "sandpool_guard was not sent: that cursor is the sandbox's commit guard",
                     stmt(sql), "; name your own cursor differently"));
}

absl::Status guard_not_rearmed(const absl::Status& error, std::string_view sql) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: the statement ran, but the sandbox could not declare its commit "
                     "guard again after a CLOSE", stmt(sql), ", so a COMMIT sent through "
                     "native() would not be refused; the server said: ",
                     text::from_absl(error.message()),
                     ". Fix: check that this role may execute sandpool.refuse_commit_now()"));
}

absl::Status transaction_gone(std::string_view target, std::string_view when) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox: the test's transaction on ", target, " had already ended ",
                     when, ": the code under test ended it without going through exec() "
                     "(a COMMIT or ROLLBACK sent through native() or a client library). The "
                     "sandbox's guard makes the server refuse every COMMIT, so what the test "
                     "wrote until then was rolled back, not committed; but statements sent "
                     "through native() after that point ran on their own and may be "
                     "committed. Send transaction control through exec(), or ", unsandboxed));
}

absl::Status lost_at_checkin(const absl::Status& cause) {
  return append(pq::internal::annotate(cause, "sandbox checkin: "),
                "; the server rolled the test's transaction back when the connection was lost");
}

absl::Status busy_at_checkin(std::string_view target) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox checkin: a command is still in flight on ", target,
                     ", so the sandbox could not roll back; the pool rolls back or discards "
                     "the connection when it is returned. Wait for every query to finish "
                     "before checking in"));
}

absl::Status deferred_violation(const absl::Status& cause) {
  return pq::internal::annotate(
      cause, "sandbox checkin: a deferred constraint is violated, so this test's writes "
             "could not have committed (they were rolled back): ");
}

absl::Status not_sandboxed(std::string_view function, std::string_view target) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox::", function, ": the connection to ", target,
                     " is not in a sandbox (checked out with checkout_options{.sandbox = "
                     "false}, or from a pool this sandbox is not installed on); check out "
                     "with the sandbox on first"));
}

absl::Status block_open(std::string_view function) {
  return make(absl::StatusCode::kFailedPrecondition,
              concat("sandbox::", function, ": the code under test still has a transaction "
                     "block open; COMMIT or ROLLBACK it first, or call rollback_to() to "
                     "discard it"));
}

absl::Status no_mark() {
  return make(absl::StatusCode::kFailedPrecondition,
              "sandbox::release_suite_savepoint: there is no suite savepoint to release; "
              "call begin_suite_savepoint() first");
}

absl::Status with_hint(const absl::Status& error, bool inside_level) {
  const std::string state = pq::sqlstate(error);
  if (state == "25001") {
    return append(error, concat("; in the sandbox every statement runs inside the test's "
                                "transaction: run this one with sandpool::run_unboxed() (e.g. "
                                "as part of a migration), or ", unsandboxed));
  }
  if (state == "2D000") {
    return append(error, concat("; a procedure (or DO block) ran COMMIT or ROLLBACK, which "
                                "PostgreSQL forbids inside a transaction block, and a "
                                "sandboxed test always runs in one: ", unsandboxed));
  }
  if (state == "25P02" && inside_level) {
    return append(error, "; an earlier statement in the code under test's transaction failed: "
                         "it must ROLLBACK (the sandbox turns that into a rollback to its "
                         "savepoint) before running more statements");
  }
  return error;
}

absl::Status recovery_failed(const absl::Status& error, const absl::Status& recovery) {
  return append(error, concat("; then rolling back to the statement's savepoint failed too, so "
                              "the test's transaction may be unusable: ",
                              text::from_absl(recovery.message())));
}

absl::Status lost(const absl::Status& error, std::string_view sql) {
  std::string message(text::from_absl(error.message()));
  if (const auto at = message.rfind(" (while running: "); at != std::string::npos) {
    message.resize(at);
  }
  message += concat(" (while running: ", pq::internal::sql_excerpt(sql), ")");
  absl::Status out(error.code(), text::to_absl(message));
  error.ForEachPayload([&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
  return out;
}

absl::Status while_doing(const absl::Status& error, std::string_view what) {
  return pq::internal::annotate(error, concat("sandbox: ", what, " failed: "));
}

}  // namespace sandpool::sandbox_messages
