// sandpool-size's repeats: one row per size from its repeated measurements,
// with medians to decide by and the spread kept beside them.
#include <doctest/doctest.h>

#include <vector>

#include "recommend.hpp"
#include "repeats.hpp"

namespace sandpool::sizing {
namespace {

using namespace std::chrono_literals;

size_result repeat(std::size_t size, double throughput, std::chrono::nanoseconds p99) {
  size_result r;
  r.size = size;
  r.seconds = 1;
  r.operations = static_cast<std::uint64_t>(throughput);
  r.throughput = throughput;
  r.wait_p50 = p99 / 4;
  r.wait_p95 = p99 / 2;
  r.wait_p99 = p99;
  r.query_p99 = p99 * 2;
  r.high_water = size;
  return r;
}

TEST_CASE("the row of a size is its repeats' medians, with their spread kept") {
  // The second repeat ran through a slow spell of the machine.
  std::vector<size_result> repeats = {repeat(4, 3000, 300us), repeat(4, 1200, 4ms),
                                      repeat(4, 3100, 250us)};
  repeats[1].timeouts = 1;
  repeats[2].high_water = 3;
  const size_result row = summarize_repeats(repeats);
  CHECK(row.size == 4);
  CHECK(row.throughput == 3000);  // not the mean, 2,433: one bad repeat cannot move it
  CHECK(row.wait_p99 == 300us);
  CHECK(row.wait_p50 == 75us);
  CHECK(row.wait_p95 == 150us);
  CHECK(row.query_p99 == 600us);
  CHECK(row.operations == 7300);
  CHECK(row.seconds == 3);
  CHECK(row.timeouts == 1);  // counts add up: a timeout anywhere still disqualifies
  CHECK(row.high_water == 4);
  CHECK(row.throughput_repeats == std::vector<double>{3000, 1200, 3100});  // in measured order

  const spread<double> tp = throughput_spread(row);
  CHECK(tp.median == 3000);
  CHECK(tp.low == 1200);
  CHECK(tp.high == 3100);
  CHECK(tp.likely_low == 1200);  // with 3 repeats, the lowest to the highest
  CHECK(tp.likely_high == 3100);
  CHECK(tp.repeats == 3);
  const spread<std::chrono::nanoseconds> wait = wait_p99_spread(row);
  CHECK(wait.low == 250us);
  CHECK(wait.high == 4ms);
  CHECK(query_p99_spread(row).high == 8ms);
}

TEST_CASE("one repeat is the row as measured, a spread of one value") {
  const size_result once = summarize_repeats({repeat(2, 900, 1ms)});
  CHECK(once.throughput == 900);
  CHECK(once.throughput_repeats.empty());
  const spread<double> s = throughput_spread(once);
  CHECK(s.low == 900);
  CHECK(s.high == 900);
  CHECK(s.likely_low == 900);
  CHECK(s.repeats == 1);
  CHECK(summarize_repeats({}).size == 0);
  CHECK(median_of(std::vector<double>{4, 1, 3, 2}) == 2.5);
  CHECK(median_of(std::vector<std::chrono::nanoseconds>{}) == 0ns);
}

TEST_CASE("the median's likely range narrows as repeats are added, at >= 75% confidence") {
  using ranks = std::pair<std::size_t, std::size_t>;
  CHECK(likely_range_ranks(0) == ranks{0, 0});
  CHECK(likely_range_ranks(1) == ranks{1, 1});
  CHECK(likely_range_ranks(2) == ranks{1, 2});
  CHECK(likely_range_ranks(3) == ranks{1, 3});  // 75%
  CHECK(likely_range_ranks(5) == ranks{1, 5});  // 2nd to 4th would be 62.5%
  CHECK(likely_range_ranks(6) == ranks{2, 5});  // 78.1%
  CHECK(likely_range_ranks(9) == ranks{3, 7});  // 82.0%
  CHECK(likely_range_ranks(11) == ranks{4, 8});  // 77.3%
  const auto [lo, hi] = likely_range_ranks(1000);  // a group pools many repeats
  CHECK(lo > 480);
  CHECK(hi == 1001 - lo);

  std::vector<double> nine = {9, 1, 8, 2, 7, 3, 6, 4, 5};
  const spread<double> s = spread_of(nine, 5.0);
  CHECK(s.low == 1);
  CHECK(s.high == 9);
  CHECK(s.likely_low == 3);
  CHECK(s.likely_high == 7);
}

TEST_CASE("sizes counted as one pool all their repeats; the wait is the worst size's") {
  // 8 callers: 8 and 16 are the same pool as far as the callers go.
  const size_result eight = summarize_repeats(
      {repeat(8, 5000, 20us), repeat(8, 5200, 30us), repeat(8, 5100, 25us)});
  const size_result sixteen = summarize_repeats(
      {repeat(16, 5300, 40us), repeat(16, 4000, 35us), repeat(16, 5400, 45us)});
  const recommendation r = recommend({eight, sixteen}, 5, 1ms, 8);
  REQUIRE(r.considered.size() == 1);
  const size_result& group = r.considered[0];
  CHECK(group.size == 8);
  CHECK(group.throughput == 5150);  // the median of all six
  CHECK(throughput_spread(group).low == 4000);
  CHECK(throughput_spread(group).high == 5400);
  CHECK(throughput_spread(group).repeats == 6);
  CHECK(group.wait_p99 == 40us);  // size 16's median, the worse
  CHECK(wait_p99_spread(group).low == 35us);
  CHECK(wait_p99_spread(group).high == 45us);
}

}  // namespace
}  // namespace sandpool::sizing
