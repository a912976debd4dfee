// The answer to "which connection does this caller get": a route. Modes and
// the allowance lookup produce routes; the ownership layer follows them.
#pragma once

#include <cstdint>

#include "sandpool/ownership/owner.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

struct route {
  enum class kind : std::uint8_t {
    fresh,       // check a connection of its own out of the pool (auto mode)
    owned,       // the caller's own checked-out connection
    allowed,     // the connection of the owner it is allowed on
    shared,      // the shared owner's connection (shared mode)
    unowned,     // nothing: the caller must check out or be allowed (error)
    owner_gone,  // allowed on an owner that ended, checked in or timed out (error)
  };
  kind how = kind::fresh;
  owner_id owner = 0;  // whose connection (or which owner is gone)

  friend bool operator==(const route&, const route&) = default;
};

// What the decision reads from the ownership registry.
template <class R>
concept registry_view = requires(const R& r, owner_id id) {
  { r.owns(id) } -> std::same_as<bool>;             // id has a live checkout
  { r.allowed_on(id) } -> std::same_as<owner_id>;    // 0 if id is allowed on nobody
  { r.allowance_live(id) } -> std::same_as<bool>;    // that owner still holds the
                                                     // checkout id was allowed on
};

}  // namespace sandpool

#pragma GCC visibility pop
