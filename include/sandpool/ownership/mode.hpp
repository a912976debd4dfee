// The pool's ownership mode, switchable at run time, and the decision every
// checkout makes: a small pure function of (mode, caller, registry).
#pragma once

#include <string_view>
#include <type_traits>
#include <variant>

#include "modes/allowance.hpp"
#include "modes/auto.hpp"
#include "modes/manual.hpp"
#include "modes/shared.hpp"
#include "sandpool/ownership/route.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

using modes::auto_mode;
using modes::manual_mode;
using modes::shared_mode;
using mode = std::variant<auto_mode, manual_mode, shared_mode>;

inline std::string_view mode_name(const mode& m) {
  return std::visit([](const auto& x) { return std::remove_cvref_t<decltype(x)>::name; }, m);
}

// Which connection `caller` gets: its own, an allowed one, else the mode's
// fallback. No I/O, no locking: the caller holds the registry's lock.
template <registry_view Registry>
route decide(const mode& m, owner_id caller, const Registry& r) {
  if (auto via = modes::allowance::lookup(caller, r)) return *via;
  return std::visit([&](const auto& x) { return x.fallback(caller); }, m);
}

}  // namespace sandpool

#pragma GCC visibility pop
