// Auto mode: the production behaviour. Every caller gets a connection of its
// own from the pool for the scope of its lease; nobody owns a connection
// beyond that scope and no sandbox transaction is opened.
#pragma once

#include <string_view>

#include "sandpool/ownership/route.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::modes {

struct auto_mode {
  static constexpr std::string_view name = "auto";

  // Whoever owns nothing and is allowed nothing gets a fresh connection.
  route fallback(owner_id) const noexcept { return {route::kind::fresh, 0}; }
  // Entering the mode checks every owner in.
  bool keeps(owner_id) const noexcept { return false; }
  // The owner set_mode() requires to have checked out (0: none).
  owner_id requires_owner() const noexcept { return 0; }
  // An explicit checkout may proceed (no answer instead of one).
  bool checkout_proceeds(owner_id) const noexcept { return true; }
  // Whether the mode ends when `owner` loses its connection.
  bool ends_with(owner_id) const noexcept { return false; }
  friend bool operator==(const auto_mode&, const auto_mode&) = default;
};

}  // namespace sandpool::modes

#pragma GCC visibility pop
