// The text of every ownership error. Each names the caller, the pool, the
// mode and the owner involved, says what happened, and teaches the fix.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sandpool/core/source_location.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

// Why an owner no longer holds its connection.
enum class end_reason {
  checked_in,  // the owner called checkin()
  ended,       // the owner's thread or fiber ended
  timed_out,   // the reaper took it back after ownership_timeout
  mode_switch, // set_mode() checked it in
};

// What is known about an owner that no longer holds a connection.
struct ended_owner {
  std::string label;
  end_reason reason = end_reason::checked_in;
  std::chrono::nanoseconds ago{};   // since it ended
  std::chrono::nanoseconds held{};  // how long it had held the connection
  std::chrono::nanoseconds limit{}; // ownership_timeout in force
  source_location site{};      // where it had checked out
  bool cancelled_query = false;     // the reaper cancelled a query in flight
};

absl::Status unowned_error(std::string_view pool, std::string_view mode,
                           std::string_view caller);
absl::Status owner_gone_error(std::string_view pool, std::string_view caller,
                              const ended_owner& owner);
absl::Status own_timeout_error(std::string_view pool, const ended_owner& owner);
// Why the reaper cancelled the statement an owner past ownership_timeout
// was running (the statement's error says it).
std::string timeout_cancel_reason(std::string_view pool, std::string_view owner,
                                  std::chrono::nanoseconds held, std::chrono::nanoseconds limit);
// What a lease still held on a connection its owner lost gets for every
// statement: DeadlineExceeded for a timeout, else FailedPrecondition.
absl::Status lease_revoked_error(std::string_view pool, const ended_owner& owner);
// Why a statement running on such a connection was cancelled.
std::string statement_cancel_reason(std::string_view pool, const ended_owner& owner);
absl::Status checkin_not_owner_error(std::string_view pool, std::string_view caller,
                                     std::string_view allowed_owner);
absl::Status allow_from_nobody_error(std::string_view pool, std::string_view from);
absl::Status allow_owner_error(std::string_view pool, std::string_view other);
absl::Status allow_elsewhere_error(std::string_view pool, std::string_view other,
                                   std::string_view current_owner);
absl::Status allow_dead_error(std::string_view pool, std::string_view other);
absl::Status shared_without_checkout_error(std::string_view pool, std::string_view owner);
absl::Status turn_timeout_error(std::string_view pool, std::string_view caller,
                                std::string_view owner, std::chrono::nanoseconds waited,
                                std::string_view holder, std::chrono::nanoseconds held,
                                const source_location& holder_site);
absl::Status token_error(std::string_view pool, std::string_view what);
// A sandboxed checkout on a pool with no sandbox installed.
absl::Status sandbox_missing_error(std::string_view pool);

}  // namespace sandpool::detail

#pragma GCC visibility pop
