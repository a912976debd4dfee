// A user's SQL script for the script workload, like `pgbench -f`: SQL
// statements ending in ';' (a statement may span lines; the last ';' may be
// left out), with -- and /* */ comments. Each iteration runs them in order
// on one checked-out connection. It owns the rule that a script is read and
// checked before the tool connects anywhere: an unreadable file, one with
// no statement, or one using pgbench's meta-commands fails first, naming
// the file (and line) and the fix.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sandpool::sizing {

// The statements of a script's text, without their semicolons. `path`
// names the script in errors. Errors: InvalidArgument for no statement or
// a backslash meta-command (\set, \sleep, ...). Pure, thread-safe.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> parse_script(std::string_view text,
                                                                    std::string_view path);

// Reads and parses the file at path. Errors: NotFound / PermissionDenied /
// FailedPrecondition (unreadable, a directory) naming the path and the
// reason; parse_script's.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> load_script(const std::string& path);

}  // namespace sandpool::sizing
