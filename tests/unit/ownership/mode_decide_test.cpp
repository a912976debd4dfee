// The decision table: which connection each kind of caller gets in each
// mode, as a pure function of (mode, caller, registry).
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "sandpool/ownership/mode.hpp"

using namespace sandpool;
using kind = route::kind;

namespace {

struct registry {
  std::set<owner_id> owners;
  std::map<owner_id, owner_id> allowed;
  bool owns(owner_id id) const { return owners.contains(id); }
  owner_id allowed_on(owner_id id) const {
    auto it = allowed.find(id);
    return it == allowed.end() ? 0 : it->second;
  }
  bool allowance_live(owner_id id) const { return owns(allowed_on(id)); }
};

}  // namespace

TEST_CASE("decision table") {
  // Owner 1 holds a connection; 2 is allowed on it; 3 is allowed on owner 9,
  // which is gone; 4 is nobody.
  const registry r{{1}, {{2, 1}, {3, 9}}};
  struct row {
    mode m;
    owner_id caller;
    route expected;
  };
  const row rows[] = {
      {auto_mode{}, 1, {kind::owned, 1}},        {auto_mode{}, 2, {kind::allowed, 1}},
      {auto_mode{}, 3, {kind::owner_gone, 9}},   {auto_mode{}, 4, {kind::fresh, 0}},
      {manual_mode{}, 1, {kind::owned, 1}},      {manual_mode{}, 2, {kind::allowed, 1}},
      {manual_mode{}, 3, {kind::owner_gone, 9}}, {manual_mode{}, 4, {kind::unowned, 0}},
      {shared_mode{1}, 1, {kind::owned, 1}},     {shared_mode{1}, 2, {kind::allowed, 1}},
      {shared_mode{1}, 3, {kind::owner_gone, 9}}, {shared_mode{1}, 4, {kind::shared, 1}},
  };
  for (const row& x : rows) {
    CAPTURE(x.caller);
    CAPTURE(mode_name(x.m));
    CHECK(decide(x.m, x.caller, r) == x.expected);
  }
}

TEST_CASE("modes have names for messages") {
  CHECK(mode_name(auto_mode{}) == "auto");
  CHECK(mode_name(manual_mode{}) == "manual");
  CHECK(mode_name(shared_mode{7}) == "shared");
}
