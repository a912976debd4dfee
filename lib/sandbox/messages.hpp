// The sandbox's error messages. Every refusal says what the statement would
// have done to the sandbox, that it was not sent, and what to do instead;
// every text that echoes SQL goes through sql_excerpt (short, one line,
// passwords masked). Kept apart from the logic so the wording is reviewed in
// one place.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace sandpool::sandbox_messages {

// What the server says to `command` (SAVEPOINT, COMMIT AND CHAIN, ...)
// outside a transaction block: 25P01, word for word.
[[nodiscard]] absl::Status needs_block(std::string_view command, std::string_view sql);
// BEGIN / SET TRANSACTION asking for `requested`; the sandbox runs at `actual`.
// With aborted, the code under test's level is now aborted (as it would be
// without the sandbox) and needs a ROLLBACK.
[[nodiscard]] absl::Status isolation_refused(std::string_view command, std::string_view requested,
                                             std::string_view actual, std::string_view sql,
                                             bool aborted = false);
[[nodiscard]] absl::Status read_only_refused(std::string_view command, std::string_view sql);
[[nodiscard]] absl::Status snapshot_refused(std::string_view sql);
[[nodiscard]] absl::Status two_phase_refused(std::string_view command, std::string_view sql);
[[nodiscard]] absl::Status copy_refused(std::string_view sql);
[[nodiscard]] absl::Status discard_all_refused(std::string_view sql);
// A string with transaction control changed standard_conforming_strings
// before `sql`, the next of its statements.
[[nodiscard]] absl::Status string_syntax_changed(std::string_view sql);
[[nodiscard]] absl::Status reserved_name(std::string_view name, std::string_view sql);
// FETCH, MOVE or CLOSE naming the commit guard's cursor: not sent.
[[nodiscard]] absl::Status guard_cursor_refused(std::string_view sql);
// The commit guard could not be declared again after a CLOSE (error).
[[nodiscard]] absl::Status guard_not_rearmed(const absl::Status& error, std::string_view sql);
// The sandbox's transaction ended behind its back (found at `when`).
[[nodiscard]] absl::Status transaction_gone(std::string_view target, std::string_view when);
[[nodiscard]] absl::Status lost_at_checkin(const absl::Status& cause);
[[nodiscard]] absl::Status busy_at_checkin(std::string_view target);
[[nodiscard]] absl::Status deferred_violation(const absl::Status& cause);
[[nodiscard]] absl::Status not_sandboxed(std::string_view function, std::string_view target);
[[nodiscard]] absl::Status block_open(std::string_view function);
[[nodiscard]] absl::Status no_mark();
// The statement's own error, with a hint when its SQLSTATE says the
// sandbox's transaction is the reason (25001, 2D000, 25P02).
[[nodiscard]] absl::Status with_hint(const absl::Status& error, bool inside_level);
// The statement's error, noting that rolling back to its savepoint failed.
[[nodiscard]] absl::Status recovery_failed(const absl::Status& error, const absl::Status& recovery);
// The connection was lost while the sandbox ran `sql` (the statement of the
// code under test) as other statements: the driver's error, naming sql.
[[nodiscard]] absl::Status lost(const absl::Status& error, std::string_view sql);
// The server's error, prefixed with what the sandbox was doing.
[[nodiscard]] absl::Status while_doing(const absl::Status& error, std::string_view what);

}  // namespace sandpool::sandbox_messages
