// Auto mode: the production behaviour. Every caller gets a connection of its
// own from the pool for the scope of its lease; nobody owns a connection
// beyond that scope and no sandbox transaction is opened.
#pragma once

#include <chrono>
#include <source_location>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandpool/route.hpp"

namespace sandpool::modes {

struct auto_mode {
  static constexpr std::string_view name = "auto";

  // Whoever owns nothing and is allowed nothing gets a fresh connection.
  route fallback(owner_id) const noexcept { return {route::kind::fresh, 0}; }
  friend bool operator==(const auto_mode&, const auto_mode&) = default;

  // Checks a fresh lease out of the core. Thread-safe.
  template <class Lease, class Core>
  static absl::StatusOr<Lease> checkout(Core& core, std::chrono::nanoseconds timeout,
                                        std::source_location site) {
    auto slot = core.acquire(timeout, site);
    if (!slot.ok()) return slot.status();
    return Lease(&core, *slot, site);
  }
};

}  // namespace sandpool::modes
