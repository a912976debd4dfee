// sandpool-size's recommendation: the smallest size within the margin of
// the best throughput that meets the wait target without timeouts or
// drops, and the rules of thumb reported beside it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "recommend.hpp"

namespace sandpool::sizing {
namespace {

using namespace std::chrono_literals;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

size_result row(std::size_t size, double throughput, std::chrono::nanoseconds p99) {
  size_result r;
  r.size = size;
  r.throughput = throughput;
  r.wait_p99 = p99;
  r.wait_p50 = p99 / 2;
  r.wait_p95 = p99;
  return r;
}

// Throughput rises to size 8, then flattens; waits fall as the pool grows.
std::vector<size_result> sweep() {
  return {row(1, 1000, 5ms), row(2, 1900, 2ms), row(4, 3500, 800us), row(8, 4000, 100us),
          row(16, 4050, 10us)};
}

TEST_CASE("the smallest size within the margin that meets the wait target wins") {
  const recommendation r = recommend(sweep(), 5, 1ms);
  CHECK(r.best_size == 16);
  CHECK(r.best_throughput == 4050);
  REQUIRE(r.size.has_value());
  CHECK(*r.size == 8);  // 4000 >= 0.95 x 4050; size 4 is below the margin
  CHECK(reference_size(r) == 8);

  CHECK(*recommend(sweep(), 20, 1ms).size == 4);  // a wider margin admits size 4
  CHECK(*recommend(sweep(), 20, 500us).size == 8);  // but its wait misses a tighter target
}

TEST_CASE("timeouts or drops disqualify a size") {
  auto rows = sweep();
  rows[3].timeouts = 1;  // size 8
  CHECK(*recommend(rows, 5, 1ms).size == 16);
  rows[4].drops = 2;
  CHECK_FALSE(recommend(rows, 5, 1ms).size.has_value());
}

TEST_CASE("rows in any order; ties go to the smaller size") {
  std::vector<size_result> rows = {row(8, 100, 1us), row(2, 100, 1us), row(4, 100, 1us)};
  const recommendation r = recommend(rows, 0, 1ms);
  CHECK(r.best_size == 2);
  CHECK(r.lowest_wait_size == 2);
  CHECK(*r.size == 2);
  CHECK_FALSE(recommend({}, 5, 1ms).size.has_value());
}

TEST_CASE("sizes the callers cannot fill count as one, so a larger size never wins by noise") {
  // 16 callers: 16, 24 and 32 are the same pool as far as the callers go.
  std::vector<size_result> rows = {row(8, 5900, 3ms), row(16, 5200, 800ns),
                                   row(24, 5600, 750ns), row(32, 6200, 700ns)};
  const recommendation r = recommend(rows, 5, 1ms, 16);
  CHECK(r.grouped == std::vector<std::size_t>{16, 24, 32});
  REQUIRE(r.considered.size() == 2);
  CHECK(r.considered[1].size == 16);
  CHECK(r.considered[1].throughput == 5600);    // the median
  CHECK(r.considered[1].wait_p99 == 800ns);     // the worst
  CHECK(r.best_size == 8);  // 5900 beats the group's median
  CHECK_FALSE(r.size.has_value());  // and 8 misses the wait target
  CHECK(*recommend(rows, 10, 1ms, 16).size == 16);  // never 32

  const auto lines = recommendation_lines(rows, recommend(rows, 10, 1ms, 16),
                                          {{"seed", "x = 24", 24}}, 10, 1ms, 64);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("recommended pool size: 16 (the smallest within 10% of the best "
                       "throughput (5,900 ops/s at size 8): 5,600 ops/s", 0) == 0);
  CHECK(lines[1] == "sizes 16, 24, 32 are at or above the number of concurrent callers, so "
                    "their pools were never full and they differ only by noise: they count as "
                    "one, size 16, with the median throughput (5,600 ops/s) and the worst p99 "
                    "wait (800 ns)");
  // A rule of thumb inside the group still shows what was measured at its size.
  CHECK(lines[2] == "seed: x = 24 -> 5,600 ops/s (+0.0%), p99 wait 750 ns (-50.0 ns) vs the "
                    "recommended size 16; 8 more connections");

  // One size at or above the concurrency, or none, or an unknown one: nothing to merge.
  CHECK(recommend({row(8, 1, 1us), row(16, 2, 1us)}, 5, 1ms, 16).grouped.empty());
  CHECK(recommend({row(8, 1, 1us), row(16, 2, 1us)}, 5, 1ms, 32).grouped.empty());
  CHECK(recommend(rows, 5, 1ms, 0).grouped.empty());
  CHECK(recommend(rows, 5, 1ms, 0).best_size == 32);
}

TEST_CASE("the report line names the size, the margin, the best throughput and the target") {
  const auto rows = sweep();
  const recommendation r = recommend(rows, 5, 1ms);
  const auto lines = recommendation_lines(rows, r, {}, 5, 1ms, 64);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "recommended pool size: 8 (the smallest within 5% of the best throughput "
                    "(4,050 ops/s at size 16): 4,000 ops/s, with p99 checkout wait 100 us <= "
                    "1.00 ms and no timeouts or drops)");
}

TEST_CASE("when no size meets the target the line says so and gives the best") {
  const auto rows = sweep();
  const recommendation r = recommend(rows, 5, 1us);
  CHECK_FALSE(r.size.has_value());
  const auto lines = recommendation_lines(rows, r, {}, 5, 1us, 64);
  REQUIRE(lines.size() == 1);
  CHECK(contains(lines[0], "recommended pool size: none met the target"));
  CHECK(contains(lines[0], "p99 checkout wait <= 1.00 us"));
  CHECK(contains(lines[0], "best throughput: 4,050 ops/s at size 16 (p99 wait 10.0 us)"));
  CHECK(contains(lines[0], "lowest p99 wait: 10.0 us at size 16"));
  CHECK(contains(lines[0], "Raise --wait-target or --margin to choose among these sizes"));
}

TEST_CASE("each rule of thumb gets its measured figures and the difference, or why not") {
  const auto rows = sweep();
  const recommendation r = recommend(rows, 5, 1ms);  // 8
  const std::vector<rule_of_thumb> rules = {
      {"rule of thumb (seed)", "8 concurrent tests x 1 repo per test x 1.5 = 12", 16},
      {"2 x cores + spindles", "2 x 2 cores + 0 spindles = 4", 4},
      {"huge", "x = 500", 500},
      {"same", "x = 8", 8},
      {"missing", "x = 3", 3}};
  const auto lines = recommendation_lines(rows, r, rules, 5, 1ms, 64);
  REQUIRE(lines.size() == 6);
  CHECK(lines[1] == "rule of thumb (seed): 8 concurrent tests x 1 repo per test x 1.5 = 12 -> "
                    "4,050 ops/s (+1.2%), p99 wait 10.0 us (-90.0 us) vs the recommended size "
                    "8; 8 more connections");
  CHECK(lines[2] == "2 x cores + spindles: 2 x 2 cores + 0 spindles = 4 -> 3,500 ops/s (-12.5%), "
                    "p99 wait 800 us (+700 us) vs the recommended size 8; 4 fewer connections");
  CHECK(contains(lines[3], "huge: x = 500 -> not measured (above the cap of 64 connections"));
  CHECK(contains(lines[3], "add it with --sizes"));
  CHECK(lines[4] == "same: x = 8 -> 4,000 ops/s, p99 wait 100 us: the recommended size itself");
  CHECK(lines[5] == "missing: x = 3 -> not measured");
  const auto limited = recommendation_lines(rows, r, rules, 5, 1ms, 200, true);
  CHECK(limited[3] ==
        "huge: x = 500 -> not measured (more than the 200 connections the server can give now)");
}

}  // namespace
}  // namespace sandpool::sizing
