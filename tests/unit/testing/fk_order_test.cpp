// foreign_key_order without a server: children come before their parents,
// cycles and self-references form groups instead of failing, duplicate keys
// are harmless, and the order is deterministic.
#include "sandpool/testing/fk_order.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace sandpool {
namespace {

using groups = std::vector<std::vector<std::size_t>>;

groups order(std::size_t count, std::vector<fk_edge> edges) {
  return foreign_key_order(count, edges);
}

// Position of the group holding table t.
std::size_t position(const groups& g, std::size_t t) {
  for (std::size_t i = 0; i < g.size(); ++i)
    for (std::size_t m : g[i])
      if (m == t) return i;
  FAIL("table " << t << " is missing from the order");
  return 0;
}

}  // namespace

TEST_CASE("no keys: every table alone, in index order") {
  CHECK(order(3, {}) == groups{{0}, {1}, {2}});
  CHECK(order(0, {}).empty());
}

TEST_CASE("parent, child, grandchild: grandchild first") {
  // 0 = parent, 1 = child (references 0), 2 = grandchild (references 1).
  CHECK(order(3, {{1, 0}, {2, 1}}) == groups{{2}, {1}, {0}});
  // The same chain listed in another order gives the same answer.
  CHECK(order(3, {{2, 1}, {1, 0}}) == groups{{2}, {1}, {0}});
}

TEST_CASE("a diamond: the shared child first, the shared parent last") {
  // 3 references 1 and 2; both reference 0.
  const groups g = order(4, {{3, 1}, {3, 2}, {1, 0}, {2, 0}});
  CHECK(g == groups{{3}, {1}, {2}, {0}});
}

TEST_CASE("every child comes before every parent on a larger graph") {
  std::vector<fk_edge> edges;
  for (std::size_t c = 1; c < 40; ++c) {
    edges.push_back({c, c / 2});
    if (c % 3 == 0) edges.push_back({c, c / 3});
  }
  const groups g = order(40, edges);
  CHECK(g.size() == 40);
  for (const fk_edge& e : edges) CHECK(position(g, e.child) < position(g, e.parent));
}

TEST_CASE("a cycle becomes one group, ordered against the rest") {
  // 1 and 2 reference each other; 3 references 1; 2 references 0.
  const groups g = order(4, {{1, 2}, {2, 1}, {3, 1}, {2, 0}});
  CHECK(g == groups{{3}, {1, 2}, {0}});
}

TEST_CASE("a self-reference keeps the table alone") {
  const groups g = order(2, {{1, 1}, {1, 0}});
  CHECK(g == groups{{1}, {0}});
}

TEST_CASE("duplicate keys between the same tables are harmless") {
  CHECK(order(2, {{1, 0}, {1, 0}}) == groups{{1}, {0}});
}

TEST_CASE("a long chain does not need deep recursion") {
  constexpr std::size_t n = 100000;
  std::vector<fk_edge> edges;
  for (std::size_t c = 1; c < n; ++c) edges.push_back({c, c - 1});
  const groups g = order(n, edges);
  REQUIRE(g.size() == n);
  CHECK(g.front() == std::vector<std::size_t>{n - 1});
  CHECK(g.back() == std::vector<std::size_t>{0});
}

}  // namespace sandpool
