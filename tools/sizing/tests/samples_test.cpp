// sandpool-size's latency samples: nearest-rank quantiles over merged
// per-caller vectors.
#include <doctest/doctest.h>

#include <vector>

#include "samples.hpp"

namespace sandpool::sizing {
namespace {

using namespace std::chrono_literals;

TEST_CASE("nearest rank: the q-quantile of n values is the ceil(q x n)-th smallest") {
  std::vector<std::int64_t> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  CHECK(nearest_rank(hundred, 0.50) == 50);
  CHECK(nearest_rank(hundred, 0.95) == 95);
  CHECK(nearest_rank(hundred, 0.99) == 99);
  CHECK(nearest_rank(hundred, 1.0) == 100);
  CHECK(nearest_rank(hundred, 0.001) == 1);
  CHECK(nearest_rank({7}, 0.99) == 7);
  CHECK(nearest_rank({}, 0.5) == 0);
  CHECK(nearest_rank({1, 2, 3, 4}, 0.5) == 2);
  CHECK(nearest_rank({1, 2, 3, 4}, 0.51) == 3);
}

TEST_CASE("samples from several callers merge, in any order, before quantiles") {
  latency_samples a, b, c;
  for (int i = 100; i >= 51; --i) a.add(std::chrono::nanoseconds(i));
  for (int i = 1; i <= 50; ++i) b.add(std::chrono::nanoseconds(i));
  c.merge(std::move(a));
  c.merge(std::move(b));
  CHECK(a.empty());
  CHECK(b.empty());
  CHECK(c.size() == 100);
  CHECK(c.quantile(0.5) == 50ns);
  CHECK(c.quantile(0.99) == 99ns);
  CHECK(c.max() == 100ns);
  c.add(1000ns);  // a later sample is counted after re-sorting
  CHECK(c.max() == 1000ns);
  latency_samples none;
  CHECK(none.quantile(0.99) == 0ns);
}

}  // namespace
}  // namespace sandpool::sizing
