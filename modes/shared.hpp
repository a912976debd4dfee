// Shared mode: every caller that owns nothing and is allowed nothing uses the
// shared owner's connection, taking turns. Setting it requires that owner to
// have checked out; it reverts to manual when that owner ends.
#pragma once

#include <string_view>

#include "sandpool/ownership/route.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::modes {

struct shared_mode {
  static constexpr std::string_view name = "shared";
  owner_id owner = 0;  // whose connection everyone shares
  route fallback(owner_id) const noexcept { return {route::kind::shared, owner}; }
  friend bool operator==(const shared_mode&, const shared_mode&) = default;
};

}  // namespace sandpool::modes

#pragma GCC visibility pop
