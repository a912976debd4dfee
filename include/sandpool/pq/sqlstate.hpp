// SQLSTATE codes on statuses. A failed query's status carries the server's
// five-character SQLSTATE as a payload under sqlstate_type_url, and its
// canonical code follows one table, code_for_sqlstate, so that callers can
// branch on the coarse code and, when they need to, on the exact SQLSTATE.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

// Type URL of the payload that holds the SQLSTATE (the payload is the code).
inline constexpr std::string_view sqlstate_type_url = "sandpool/sqlstate";

// The SQLSTATE attached to status, e.g. "42P01"; empty if there is none
// (an ok status, or an error that did not come from the server). A lost
// connection carries the server's code if it sent one before closing (e.g.
// 57P01, terminated by an administrator), otherwise 08006.
// Thread-safe; never fails.
[[nodiscard]] std::string sqlstate(const absl::Status& status);

// The canonical code used for a server error with this SQLSTATE:
//   08xxx connection exception, 57P01-57P03 shutdown ..... Unavailable
//   57014 query canceled ................................ Cancelled
//   28xxx invalid authorization, 42501 privilege ........ PermissionDenied
//   3D000 database does not exist ....................... NotFound
//   23505 unique violation .............................. AlreadyExists
//   23xxx other integrity violations, 25xxx transaction
//         state, 55xxx object not in prerequisite state . FailedPrecondition
//   40xxx serialization failure, deadlock ............... Aborted
//   53xxx insufficient resources, 54xxx program limit ... ResourceExhausted
//   22xxx data exception, 42xxx syntax error or
//         undefined table/column/function ............... InvalidArgument
//   0Axxx feature not supported ......................... Unimplemented
//   58xxx system error, XXxxx internal error ............ Internal
//   anything else (e.g. P0001 raised by a function) ..... Unknown
// Thread-safe; never fails.
[[nodiscard]] absl::StatusCode code_for_sqlstate(std::string_view sqlstate);

}  // namespace sandpool::pq

#pragma GCC visibility pop
