// The allowance policy, consulted before every mode: a caller that owns a
// connection uses it; a caller allowed on an owner uses that owner's
// connection, or learns that the owner is gone. Allowances are resolved to
// the root owner when they are granted, so this is one lookup, not a walk.
// An allowance belongs to one checkout: when that ends, it stays "gone"
// even if the same owner checks out again.
#pragma once

#include <optional>

#include "sandpool/ownership/route.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::modes {

struct allowance {
  template <registry_view Registry>
  static std::optional<route> lookup(owner_id caller, const Registry& r) {
    if (r.owns(caller)) return route{route::kind::owned, caller};
    if (const owner_id owner = r.allowed_on(caller); owner != 0)
      return route{r.allowance_live(caller) ? route::kind::allowed : route::kind::owner_gone,
                   owner};
    return std::nullopt;
  }
};

}  // namespace sandpool::modes

#pragma GCC visibility pop
