// The built-in session resets and the check of a custom one.
#include "sandpool/pq/session_reset.hpp"

#include "absl/status/statusor.h"
#include "text.hpp"

namespace sandpool::pq {

session_reset session_reset::none() { return session_reset("none", {}); }

session_reset session_reset::keep_prepared() {
  // DISCARD ALL's list (PostgreSQL's documentation of DISCARD) without
  // DEALLOCATE ALL and DISCARD PLANS.
  return session_reset("keep_prepared",
                       {"SET SESSION AUTHORIZATION DEFAULT", "RESET ALL", "CLOSE ALL",
                        "UNLISTEN *", "SELECT pg_advisory_unlock_all()", "DISCARD TEMP",
                        "DISCARD SEQUENCES"});
}

session_reset session_reset::discard_all() { return session_reset("discard_all", {"DISCARD ALL"}); }

absl::StatusOr<session_reset> session_reset::custom(std::vector<std::string> statements) {
  if (statements.empty()) {
    return absl::InvalidArgumentError(
        "session_reset::custom: the list of statements is empty; use session_reset::none() "
        "for no reset");
  }
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const std::string& s = statements[i];
    if (s.find_first_not_of(" \t\r\n;") == std::string::npos) {
      return absl::InvalidArgumentError(text::concat(
          "session_reset::custom: statement ", std::to_string(i + 1),
          " is empty; give one SQL statement per entry, e.g. {\"RESET ALL\", \"UNLISTEN *\"}"));
    }
    if (s.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(text::concat(
          "session_reset::custom: statement ", std::to_string(i + 1),
          " holds a NUL byte, which libpq would cut there; remove it"));
    }
  }
  return session_reset("custom", std::move(statements));
}

}  // namespace sandpool::pq
