// The rules of thumb the measured recommendation is compared with (see
// rules_of_thumb.hpp).
#include "rules_of_thumb.hpp"

#include <algorithm>

namespace sandpool::sizing {
namespace {

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

rule_of_thumb seed_rule(std::size_t concurrency, std::size_t repos_per_test) {
  // × 1.5 rounded up, in integers: ceil(3n / 2).
  const std::size_t product = concurrency * repos_per_test;
  const std::size_t size = std::max<std::size_t>(1, (3 * product + 1) / 2);
  return {"rule of thumb (seed)",
          plural(concurrency, "concurrent test", "concurrent tests") + " x " +
              plural(repos_per_test, "repo per test", "repos per test") + " x 1.5 = " +
              std::to_string(size),
          size};
}

rule_of_thumb cores_rule(std::size_t cores, std::size_t spindles) {
  const std::size_t c = std::max<std::size_t>(cores, 1);
  const std::size_t size = std::max<std::size_t>(1, 2 * c + spindles);
  return {"2 x cores + spindles",
          "2 x " + plural(c, "core", "cores") + " + " + plural(spindles, "spindle", "spindles") +
              " = " + std::to_string(size),
          size};
}

}  // namespace sandpool::sizing
