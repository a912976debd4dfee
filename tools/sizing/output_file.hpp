// Writing a report file (CSV, SVG). It owns the rule that a file is either
// written whole or reported as not written, with the path, the reason and
// what to check; a half-written file is removed.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sandpool::sizing {

// Writes text to path, replacing it. `what` names the file in errors ("CSV
// file"). Errors: Unavailable naming the path, the system's reason and the fix.
[[nodiscard]] absl::Status write_file(const std::string& path, std::string_view text,
                                      std::string_view what);

}  // namespace sandpool::sizing
