// Auto mode: the production behaviour. Every caller gets a connection of its
// own from the pool for the scope of its lease; nobody owns a connection
// beyond that scope and no sandbox transaction is opened.
#pragma once

#include <chrono>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandpool/core/detail/waiter.hpp"
#include "sandpool/core/source_location.hpp"
#include "sandpool/ownership/route.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::modes {

struct auto_mode {
  static constexpr std::string_view name = "auto";

  // Whoever owns nothing and is allowed nothing gets a fresh connection.
  route fallback(owner_id) const noexcept { return {route::kind::fresh, 0}; }
  friend bool operator==(const auto_mode&, const auto_mode&) = default;

  // Checks a fresh lease out of the core. Thread-safe. Overload control
  // may shed the caller unless on_overload is wait.
  template <class Lease, class Core>
  static absl::StatusOr<Lease> checkout(Core& core, std::chrono::nanoseconds timeout,
                                        source_location site,
                                        detail::overload on_overload = detail::overload::shed) {
    auto slot = core.acquire(timeout, site, on_overload);
    if (!slot.ok()) return slot.status();
    return Lease(&core, *slot, site);
  }
};

}  // namespace sandpool::modes

#pragma GCC visibility pop
