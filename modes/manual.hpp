// Manual mode: a caller must have checked out a connection or be allowed on
// one; anyone else gets the unowned-access error that lists the fixes.
// Entering it checks every owner in, as on a fresh start.
#pragma once

#include <string_view>

#include "sandpool/ownership/route.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::modes {

struct manual_mode {
  static constexpr std::string_view name = "manual";
  route fallback(owner_id) const noexcept { return {route::kind::unowned, 0}; }
  bool keeps(owner_id) const noexcept { return false; }
  owner_id requires_owner() const noexcept { return 0; }
  bool checkout_proceeds(owner_id) const noexcept { return true; }
  bool ends_with(owner_id) const noexcept { return false; }
  friend bool operator==(const manual_mode&, const manual_mode&) = default;
};

}  // namespace sandpool::modes

#pragma GCC visibility pop
