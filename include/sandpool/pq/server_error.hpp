// The server's own error and notice fields (severity, SQLSTATE, message,
// detail, hint, position, context, schema, table, column, constraint,
// source location, ...), as the server sent them, for code that must hand
// them on unchanged (the gateway's ErrorResponse). A failed query's status
// carries them as a payload beside its SQLSTATE.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

// (field code, value) pairs in the protocol's own codes: 'S' severity, 'V'
// severity (not localized), 'C' SQLSTATE, 'M' message, 'D' detail, 'H'
// hint, 'P' position, 'p' internal position, 'q' internal query, 'W'
// context, 's' schema, 't' table, 'c' column, 'd' data type, 'n'
// constraint, 'F' file, 'L' line, 'R' routine.
using error_fields = std::vector<std::pair<char, std::string>>;

// Type URL of the payload that holds the fields.
inline constexpr std::string_view error_fields_type_url = "sandpool/error-fields";

// Every field res holds (none for a null res or one without an error).
[[nodiscard]] error_fields fields_of(const PGresult* res);

// The fields attached to status; empty when the error did not come from
// the server (a lost connection, a refusal by sandpool itself).
[[nodiscard]] error_fields server_error_fields(const absl::Status& status);

// Attaches fields to status (nothing for an ok status or no fields).
void attach_error_fields(absl::Status& status, const error_fields& fields);

// Moves the error's position ('P', counted in characters from 1) by `by`,
// as when the text it counts in sits `by` characters further into the
// string a client sent (negative: nearer its start); a position that falls
// outside 1 .. limit is dropped. Nothing for a status without one.
void move_error_position(absl::Status& status, long by, long limit);

}  // namespace sandpool::pq

#pragma GCC visibility pop
