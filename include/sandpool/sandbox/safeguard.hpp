// The safeguard: before the sandbox wraps a connection, and before a cleanup
// strategy truncates or deletes, make sure the LIVE connection points at a
// test database on a local or explicitly allowed server. It owns the rule
// that sandpool never cleans or sandboxes a database that was not recognised
// as a test database unless the user said so in safeguard_options, and that a
// refusal names what was checked and exactly how to allow it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/result.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

struct safeguard_options {
  // A database is a test database when its name contains one of these,
  // ignoring case. An empty list accepts no name.
  std::vector<std::string> database_patterns = {"test"};
  // Servers accepted besides local ones (a unix socket, 127.0.0.0/8, ::1):
  // IP addresses or CIDR ranges, e.g. "10.0.0.5", "10.1.0.0/16", "fd00::/8".
  // Host names are not resolved: list the address the server reports.
  std::vector<std::string> allowed_servers;
  // Skips both checks (and the query). For databases you are ready to lose.
  bool allow_any = false;
};

// What the safeguard looks at on a live connection.
struct server_identity {
  std::string database;                // current_database()
  std::optional<std::string> address;  // inet_server_addr(); nullopt: unix socket
};

// The query that reads a server_identity (one row, two columns).
inline constexpr std::string_view safeguard_query =
    "SELECT current_database(), host(inet_server_addr())";

// InvalidArgument naming the first allowed_servers entry that is not an IP
// address or CIDR range; ok otherwise. Pure, thread-safe.
[[nodiscard]] absl::Status validate_safeguard_options(const safeguard_options& o);

// Reads the result of safeguard_query. InvalidArgument if it has another shape.
[[nodiscard]] absl::StatusOr<server_identity> read_server_identity(const pq::result& r);

// Ok if `who` passes the checks in `o`; else FailedPrecondition naming the
// database, the server, what was checked, and how to allow it. `action` is
// what was about to happen ("sandbox", "truncate", ...). Pure, thread-safe.
[[nodiscard]] absl::Status judge_safeguard(const server_identity& who, const safeguard_options& o,
                                           std::string_view action = "sandbox");

// Runs safeguard_query on c (one round trip, bypassing any statement hook;
// none with allow_any) and judges the answer. Errors: judge_safeguard's,
// the query's, InvalidArgument for bad options.
[[nodiscard]] absl::Status check_safeguard(pq::connection& c, const safeguard_options& o,
                                           std::string_view action = "sandbox");

}  // namespace sandpool

#pragma GCC visibility pop
