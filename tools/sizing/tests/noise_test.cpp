// sandpool-size's judgement of noise: whether, within the spread of the
// repeats, a different size would have been recommended, and the warning
// lines that say so.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "noise.hpp"
#include "repeats.hpp"

namespace sandpool::sizing {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

// A size measured once per pair of (throughput, p99 wait).
size_result measured(std::size_t size, std::vector<std::pair<double, nanoseconds>> figures) {
  std::vector<size_result> repeats;
  for (const auto& [tp, wait] : figures) {
    size_result r;
    r.size = size;
    r.seconds = 1;
    r.throughput = tp;
    r.wait_p99 = wait;
    r.query_p99 = 50us;
    repeats.push_back(r);
  }
  return summarize_repeats(repeats);
}

// Size 8 is recommended: size 4 is below the 5% margin of size 16's best,
// size 8 is within it, and every wait meets a 1 ms target.
std::vector<size_result> sweep(std::vector<std::pair<double, nanoseconds>> four) {
  return {measured(4, std::move(four)),
          measured(8, {{3950, 90us}, {4000, 100us}, {4050, 110us}}),
          measured(16, {{4000, 10us}, {4050, 11us}, {4100, 12us}})};
}

TEST_CASE("well-separated spreads cannot flip the recommendation") {
  const recommendation r = recommend(sweep({{3000, 200us}, {3100, 250us}, {3200, 300us}}), 5, 1ms);
  REQUIRE(r.size == 8u);
  CHECK(flip_risks(r, 5, 1ms).empty());
  const auto lines = noise_lines(r, 5, 1ms, 3, 3);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "noise: cannot flip the recommendation: across the spread of 3 repeats per "
                    "size, size 8 meets every condition and no smaller size does");
}

TEST_CASE("a smaller size whose spread reaches the margin could be recommended instead") {
  // Size 4's median, 3,700, misses the floor (95% of 4,050 = 3,848); its
  // fastest repeat, 3,900, reaches it, even against size 16's slowest.
  const recommendation r = recommend(sweep({{3500, 200us}, {3700, 250us}, {3900, 300us}}), 5, 1ms);
  REQUIRE(r.size == 8u);
  const auto risks = flip_risks(r, 5, 1ms);
  REQUIRE(risks.size() == 1);
  CHECK(risks[0].kind == flip_kind::smaller_may_qualify);
  CHECK(risks[0].size == 4);
  CHECK(risks[0].other == 8u);
  CHECK(risks[0].throughput);
  CHECK_FALSE(risks[0].wait);

  const auto lines = noise_lines(r, 5, 1ms, 3, 3);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] ==
        "warning: noise could flip the recommendation from 8 to 4: size 4 may also be within 5% "
        "of the best throughput, and being smaller it would be recommended (size 4: "
        "3,500\u20133,900 ops/s, p99 wait 200 us\u2013300 us; size 8: 3,950\u20134,050 ops/s, p99 "
        "wait 90.0 us\u2013110 us; best throughput at size 16: 4,000\u20134,100 ops/s, p99 wait "
        "10.0 us\u201312.0 us)");
  CHECK(lines[1] == "noise: the ranges are the lowest to highest of 3 repeats per size; to "
                    "narrow them, measure 3x longer: --seconds 9 (longer repeats) or --seconds 9 "
                    "--repeats 9 (more repeats)");
}

TEST_CASE("a smaller size whose wait may meet the target could be recommended instead") {
  const recommendation r = recommend(sweep({{4000, 900us}, {4050, 1200us}, {4020, 1500us}}), 5, 1ms);
  REQUIRE(r.size == 8u);
  const auto risks = flip_risks(r, 5, 1ms);
  REQUIRE(risks.size() == 1);
  CHECK(risks[0].size == 4);
  CHECK_FALSE(risks[0].throughput);
  CHECK(risks[0].wait);
  const auto lines = noise_lines(r, 5, 1ms, 3, 3);
  CHECK(lines[0].rfind("warning: noise could flip the recommendation from 8 to 4: size 4 may "
                       "also meet the 1.00 ms p99 wait target, and being smaller it would be "
                       "recommended (size 4: 4,000\u20134,050 ops/s, p99 wait 900 us\u20131.50 ms; "
                       "size 8: ",
                       0) == 0);
  CHECK(lines[0].find("best throughput at") == std::string::npos);  // not what is in doubt

  // Timeouts are counted, not noise: a size with any never qualifies.
  auto rows = sweep({{4000, 900us}, {4050, 1200us}, {4020, 1500us}});
  rows[0].timeouts = 1;
  CHECK(flip_risks(recommend(rows, 5, 1ms), 5, 1ms).empty());
}

TEST_CASE("the recommended size may miss, and the next size that may qualify would win") {
  auto rows = sweep({{3000, 200us}, {3100, 250us}, {3200, 300us}});
  rows[1] = measured(8, {{3950, 600us}, {4000, 900us}, {4050, 1200us}});
  const recommendation r = recommend(rows, 5, 1ms);
  REQUIRE(r.size == 8u);
  const auto risks = flip_risks(r, 5, 1ms);
  REQUIRE(risks.size() == 1);
  CHECK(risks[0].kind == flip_kind::chosen_may_miss);
  CHECK(risks[0].size == 8);
  CHECK(risks[0].other == 16u);
  CHECK_FALSE(risks[0].throughput);
  CHECK(risks[0].wait);
  CHECK(noise_lines(r, 5, 1ms, 3, 3)[0] ==
        "warning: noise could flip the recommendation from 8 to 16: size 8 may miss the 1.00 ms "
        "p99 wait target, and size 16 would be recommended (size 8: 3,950\u20134,050 ops/s, p99 "
        "wait 600 us\u20131.20 ms; size 16: 4,000\u20134,100 ops/s, p99 wait 10.0 us\u201312.0 us)");

  // With nothing after it, the recommendation could flip to none.
  rows.pop_back();
  const recommendation alone = recommend(rows, 5, 1ms);
  REQUIRE(alone.size == 8u);
  const auto lines = noise_lines(alone, 5, 1ms, 3, 3);
  CHECK(lines[0] == "warning: noise could flip the recommendation from 8 to none: size 8 may "
                    "miss the 1.00 ms p99 wait target, and no size would meet every condition "
                    "(size 8: 3,950\u20134,050 ops/s, p99 wait 600 us\u20131.20 ms)");
}

TEST_CASE("when the recommended size may be outrun, the line names the size that may") {
  // Size 12 misses the wait target, but its fastest repeat would move the
  // floor above size 8's slowest.
  const std::vector<size_result> rows = {
      measured(8, {{3800, 100us}, {3900, 100us}, {4000, 100us}}),
      measured(12, {{3600, 2ms}, {3700, 2ms}, {4300, 2ms}})};
  const recommendation r = recommend(rows, 5, 1ms);
  REQUIRE(r.size == 8u);
  const auto risks = flip_risks(r, 5, 1ms);
  REQUIRE(risks.size() == 1);
  CHECK(risks[0].kind == flip_kind::chosen_may_miss);
  CHECK(risks[0].throughput);
  CHECK_FALSE(risks[0].other.has_value());
  CHECK(noise_lines(r, 5, 1ms, 3, 3)[0] ==
        "warning: noise could flip the recommendation from 8 to none: size 8 may fall more than "
        "5% below the best throughput, and no size would meet every condition (size 8: "
        "3,800\u20134,000 ops/s, p99 wait 100 us; the best throughput may be size 12's: "
        "3,600\u20134,300 ops/s, p99 wait 2.00 ms)");
}

TEST_CASE("sizes counted as one judge the repeats they pool, and the line says so") {
  const std::vector<size_result> rows = {
      measured(4, {{3500, 200us}, {3700, 250us}, {3900, 300us}}),
      measured(8, {{3950, 90us}, {4000, 100us}, {4050, 110us}}),
      measured(16, {{4000, 10us}, {4050, 11us}, {4100, 12us}})};
  const recommendation r = recommend(rows, 5, 1ms, 8);
  REQUIRE(r.size == 8u);
  const auto lines = noise_lines(r, 5, 1ms, 3, 3);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("size 8: 4,000\u20134,050 ops/s") != std::string::npos);
  CHECK(lines[1].rfind("noise: the ranges are the lowest to highest of 3 repeats per size "
                       "(sizes 8, 16, counted as one, pool their throughput: the 2nd lowest to "
                       "2nd highest of 6); to narrow them",
                       0) == 0);
}

TEST_CASE("with no size recommended, a size that may qualify is named") {
  auto rows = sweep({{3000, 200us}, {3100, 250us}, {3200, 300us}});
  rows[1] = measured(8, {{3950, 800us}, {4000, 1100us}, {4050, 1300us}});
  rows[2] = measured(16, {{4000, 2ms}, {4050, 3ms}, {4100, 4ms}});
  const recommendation r = recommend(rows, 5, 1ms);
  REQUIRE_FALSE(r.size.has_value());
  const auto risks = flip_risks(r, 5, 1ms);
  REQUIRE(risks.size() == 1);
  CHECK(risks[0].kind == flip_kind::none_may_qualify);
  CHECK(risks[0].size == 8);
  CHECK(noise_lines(r, 5, 1ms, 3, 3)[0].rfind(
            "warning: noise could flip the outcome from none to 8: size 8 may meet the 1.00 ms "
            "p99 wait target (size 8: ",
            0) == 0);

  rows[1] = measured(8, {{3950, 2ms}, {4000, 2ms}, {4050, 2ms}});
  const recommendation none = recommend(rows, 5, 1ms);
  CHECK(noise_lines(none, 5, 1ms, 3, 3) ==
        std::vector<std::string>{"noise: cannot flip the outcome: across the spread of 3 "
                                 "repeats per size, no size meets every condition"});
}

TEST_CASE("more repeats narrow the ranges judged; one repeat is not judged") {
  // Six repeats: the 2nd lowest to 2nd highest. Size 4's outlier at 3,900
  // no longer reaches the floor.
  const recommendation r = recommend(
      {measured(4, {{3500, 200us}, {3600, 200us}, {3650, 200us}, {3700, 200us}, {3750, 200us},
                    {3900, 200us}}),
       measured(8, {{4000, 100us}, {4000, 100us}, {4000, 100us}, {4000, 100us}, {4000, 100us},
                    {4000, 100us}})},
      5, 1ms);
  REQUIRE(r.size == 8u);
  CHECK(flip_risks(r, 5, 1ms).empty());

  const recommendation wide = recommend(sweep({{3500, 200us}, {3700, 250us}, {3900, 300us}}), 5, 1ms);
  const auto lines = noise_lines(wide, 5, 1ms, 6, 8);
  CHECK(lines.back() == "noise: the ranges are the 2nd lowest to 2nd highest of 6 repeats per "
                        "size, where each median lies with at least 75% confidence; to narrow "
                        "them, measure 3x longer: --seconds 24 (longer repeats) or --seconds 24 "
                        "--repeats 18 (more repeats)");

  // Measured once: nothing to judge by.
  std::vector<size_result> once = {measured(4, {{3700, 250us}}), measured(8, {{4000, 100us}})};
  const recommendation single = recommend(once, 5, 1ms);
  CHECK(flip_risks(single, 5, 1ms).empty());
  const auto note = noise_lines(single, 5, 1ms, 1, 3);
  REQUIRE(note.size() == 1);
  CHECK(note[0].rfind("noise: not judged, each size was measured once (--repeats 1)", 0) == 0);
  CHECK(noise_lines(recommend({}, 5, 1ms), 5, 1ms, 3, 3).empty());
}

}  // namespace
}  // namespace sandpool::sizing
