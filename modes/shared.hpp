// Shared mode: every caller that owns nothing and is allowed nothing uses the
// shared owner's connection, taking turns. Setting it requires that owner to
// have checked out, and checks every other owner in; a checkout by anyone
// else is answered "already allowed" (it shares that connection). The mode
// reverts to manual when its owner loses the connection (ends, checks in,
// times out).
#pragma once

#include <string_view>

#include "sandpool/ownership/route.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::modes {

struct shared_mode {
  static constexpr std::string_view name = "shared";
  owner_id owner = 0;  // whose connection everyone shares
  route fallback(owner_id) const noexcept { return {route::kind::shared, owner}; }
  bool keeps(owner_id id) const noexcept { return id == owner; }
  owner_id requires_owner() const noexcept { return owner; }
  bool checkout_proceeds(owner_id caller) const noexcept { return caller == owner; }
  bool ends_with(owner_id id) const noexcept { return id == owner; }
  friend bool operator==(const shared_mode&, const shared_mode&) = default;
};

}  // namespace sandpool::modes

#pragma GCC visibility pop
