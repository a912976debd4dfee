// The text of every error the pool core can return. Messages are built only
// on the error path, name the pool and its live counts (HikariCP-style), and
// end with the fix.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sandpool/core/source_location.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

// Live counts quoted in messages.
struct pool_snapshot {
  std::string pool;
  std::size_t open = 0, in_use = 0, idle = 0, waiting = 0, connecting = 0;
  std::size_t max_size = 0;
};

// Who holds a connection, since when and from where.
struct holder {
  source_location site;
  std::chrono::nanoseconds held{};
};

std::string describe_site(const source_location& site);

absl::Status checkout_timeout_error(const pool_snapshot& s, std::chrono::nanoseconds waited,
                                    const absl::Status& last_connect_error,
                                    const holder* longest);
// Connecting fails permanently (wrong password, no such database or role):
// the connect error's code, and that the pool keeps retrying.
absl::Status connect_refused_error(const pool_snapshot& s, const absl::Status& connect_error);
absl::Status checkout_dropped_error(const pool_snapshot& s, std::chrono::nanoseconds waited,
                                    std::chrono::nanoseconds target,
                                    std::chrono::nanoseconds interval,
                                    const absl::Status& last_connect_error);
absl::Status pool_closed_error(const std::string& pool);
absl::Status shutdown_incomplete_error(const pool_snapshot& s,
                                       std::chrono::nanoseconds waited,
                                       std::span<const holder> outstanding);
absl::Status lease_empty_error(const source_location& site, bool returned);

}  // namespace sandpool::detail

#pragma GCC visibility pop
