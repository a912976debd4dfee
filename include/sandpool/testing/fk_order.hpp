// The order in which to empty tables linked by foreign keys: children before
// the parents they reference, so that no DELETE removes a row that is still
// referenced. Tables that reference each other in a cycle cannot be ordered;
// they form one group, which the cleanup deletes in a single statement (the
// foreign-key checks run at the end of a statement, when every row of the
// group is gone). Pure and deterministic: the same input always gives the
// same order, ties going to the lower index, so plans are reproducible.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <queue>
#include <span>
#include <vector>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// A foreign key between two of the tables being ordered: rows of `child`
// reference rows of `parent` (indices into the caller's table list). A
// self-reference has child == parent.
struct fk_edge {
  std::size_t child = 0;
  std::size_t parent = 0;
};

// Groups of table indices (each sorted ascending), children before parents:
// every group comes before each group it references. A group has more than
// one table only when its tables reference each other in a cycle.
// Precondition: every index in `edges` is below `count` (a bug otherwise).
// Thread-safe; allocates; never fails.
inline std::vector<std::vector<std::size_t>> foreign_key_order(std::size_t count,
                                                               std::span<const fk_edge> edges) {
  std::vector<std::vector<std::size_t>> parents(count);
  for (const fk_edge& e : edges) parents[e.child].push_back(e.parent);

  // Tarjan's strongly connected components, iterative so that a long chain
  // of references cannot overflow the stack.
  constexpr std::size_t unvisited = static_cast<std::size_t>(-1);
  std::vector<std::size_t> index(count, unvisited), low(count, 0), group_of(count, 0);
  std::vector<bool> on_stack(count, false);
  std::vector<std::size_t> stack;
  std::vector<std::vector<std::size_t>> groups;
  std::size_t next_index = 0;
  struct frame {
    std::size_t node;
    std::size_t next_edge;
  };
  for (std::size_t root = 0; root < count; ++root) {
    if (index[root] != unvisited) continue;
    std::vector<frame> calls{{root, 0}};
    index[root] = low[root] = next_index++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!calls.empty()) {
      frame& f = calls.back();
      if (f.next_edge < parents[f.node].size()) {
        const std::size_t to = parents[f.node][f.next_edge++];
        if (index[to] == unvisited) {
          index[to] = low[to] = next_index++;
          stack.push_back(to);
          on_stack[to] = true;
          calls.push_back({to, 0});
        } else if (on_stack[to]) {
          low[f.node] = std::min(low[f.node], index[to]);
        }
        continue;
      }
      const std::size_t node = f.node;
      calls.pop_back();
      if (!calls.empty()) low[calls.back().node] = std::min(low[calls.back().node], low[node]);
      if (low[node] != index[node]) continue;
      std::vector<std::size_t> members;
      std::size_t m;
      do {
        m = stack.back();
        stack.pop_back();
        on_stack[m] = false;
        group_of[m] = groups.size();
        members.push_back(m);
      } while (m != node);
      std::sort(members.begin(), members.end());
      groups.push_back(std::move(members));
    }
  }

  // Kahn's algorithm over the groups: a group is ready once every group
  // referencing it has been emitted. The ready group holding the lowest
  // table index goes first, which makes the order independent of how
  // Tarjan happened to number the groups.
  std::vector<std::size_t> waiting_on(groups.size(), 0);
  std::vector<std::vector<std::size_t>> referenced(groups.size());
  for (const fk_edge& e : edges) {
    const std::size_t from = group_of[e.child], to = group_of[e.parent];
    if (from == to) continue;
    referenced[from].push_back(to);
    ++waiting_on[to];
  }
  using entry = std::pair<std::size_t, std::size_t>;  // (lowest table index, group)
  std::priority_queue<entry, std::vector<entry>, std::greater<>> ready;
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (waiting_on[g] == 0) ready.push({groups[g].front(), g});
  std::vector<std::vector<std::size_t>> order;
  order.reserve(groups.size());
  while (!ready.empty()) {
    const std::size_t g = ready.top().second;
    ready.pop();
    for (std::size_t to : referenced[g])
      if (--waiting_on[to] == 0) ready.push({groups[to].front(), to});
    order.push_back(std::move(groups[g]));
  }
  return order;
}

}  // namespace sandpool

#pragma GCC visibility pop
