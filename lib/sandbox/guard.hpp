// The commit guard: the server itself refuses to commit a sandboxed
// transaction, however the COMMIT reaches the connection (exec(), native(),
// a client library around the PGconn, a statement the sandbox misread).
//
// Once per test database, setup_sql makes schema `sandpool` with a function
// that raises SQLSTATE 25SB1. Every sandboxed checkout arms the guard right
// after BEGIN (same round trip) by declaring the cursor sandpool_guard WITH
// HOLD over a call of that function. At COMMIT (or END, COMMIT AND CHAIN)
// the server runs a holdable cursor's query to keep its rows past the
// transaction: the function raises, and the server rolls the whole
// transaction back. PREPARE TRANSACTION refuses a transaction that made a
// holdable cursor (SQLSTATE 0A000), so it too rolls back. The checkin's
// ROLLBACK drops the cursor.
//
// Arming writes nothing, so a test that writes nothing costs its
// transaction no transaction id (an id's assignment and abort record cost
// more than the rest of a sandboxed test). Savepoints, SET CONSTRAINTS and
// session_replication_role leave it armed. CLOSE ALL disarms it: the sandbox
// declares it again after a CLOSE sent through exec(); closing or fetching
// sandpool_guard through native() disarms it for the rest of the test.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace sandpool::guard {

// Idempotent DDL in one transaction, serialised by an advisory lock so that
// several connections may run it at once.
extern const std::string_view setup_sql;
// The arming statement, sent right after BEGIN, and the cursor it declares.
inline constexpr std::string_view arm_sql =
    "DECLARE sandpool_guard CURSOR WITH HOLD FOR SELECT sandpool.refuse_commit_now()";
inline constexpr std::string_view cursor = "sandpool_guard";
// The SQLSTATE the guard raises.
inline constexpr std::string_view refused_sqlstate = "25SB1";

// Whether the arming failed because the guard does not exist yet in this
// database (undefined function or schema).
[[nodiscard]] bool missing(const absl::Status& arm_error);
// Why setup failed, with the fix (most often: the role may not create a
// schema; run setup_sql once as the database owner).
[[nodiscard]] absl::Status setup_failed(const absl::Status& error, std::string_view target);

}  // namespace sandpool::guard
