// The commit guard: the server itself refuses to commit a sandboxed
// transaction, however the COMMIT reaches the connection (exec(), native(),
// a client library around the PGconn, a statement the sandbox misread).
//
// Once per test database, setup_sql makes schema `sandpool` with an
// unlogged table and a deferred constraint trigger on it. Every sandboxed
// checkout arms it by inserting one row right after BEGIN (same round
// trip). At COMMIT (or END, COMMIT AND CHAIN, PREPARE TRANSACTION) the
// deferred trigger fires and raises SQLSTATE 25SB1, so the server rolls the
// whole transaction back; the checkin's ROLLBACK removes the row, and
// autovacuum the dead tuples.
//
// SET CONSTRAINTS ALL IMMEDIATE fires deferred triggers early, at the end
// of that statement: the trigger then re-arms itself (a new row, deferred
// again) instead of raising. It tells the two cases apart by the row's
// statement_timestamp(): a row inserted by the trigger in the same client
// message as its own firing means the commit itself is checking. The
// trigger is ENABLE ALWAYS, so session_replication_role = replica does not
// switch it off. Dropping the trigger on purpose does.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace sandpool::guard {

// Idempotent DDL in one transaction, serialised by an advisory lock so that
// several connections may run it at once.
extern const std::string_view setup_sql;
// The arming statement, sent right after BEGIN.
inline constexpr std::string_view arm_sql = "INSERT INTO sandpool.commit_guard DEFAULT VALUES";
// The SQLSTATE the guard raises.
inline constexpr std::string_view refused_sqlstate = "25SB1";

// Whether the arming failed because the guard does not exist yet in this
// database (undefined table or schema).
[[nodiscard]] bool missing(const absl::Status& arm_error);
// Why setup failed, with the fix (most often: the role may not create a
// schema; run setup_sql once as the database owner).
[[nodiscard]] absl::Status setup_failed(const absl::Status& error, std::string_view target);

}  // namespace sandpool::guard
