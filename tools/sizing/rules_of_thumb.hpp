// The two pool-size rules of thumb the tool's measurements are compared
// with: the seed's `max_concurrent_tests × repos_per_test × 1.5` (rounded
// up) and the database folklore `2 × cores + spindles`. Each carries the
// formula with its inputs filled in, for the report. Pure, thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace sandpool::sizing {

struct rule_of_thumb {
  std::string name;     // "rule of thumb (seed)", "2 x cores + spindles"
  std::string formula;  // the inputs and result: "8 concurrent x 1 repo per test x 1.5 = 12"
  std::size_t size = 0;
};

// ceil(concurrency × repos_per_test × 1.5), at least 1.
[[nodiscard]] rule_of_thumb seed_rule(std::size_t concurrency, std::size_t repos_per_test);

// 2 × cores + spindles, at least 1. cores is the client machine's
// (std::thread::hardware_concurrency(); 0 when unknown counts as 1).
[[nodiscard]] rule_of_thumb cores_rule(std::size_t cores, std::size_t spindles);

}  // namespace sandpool::sizing
