// Repeated measurements of one pool size: their medians, their spread (the
// lowest and highest repeat) and the range where each median likely lies.
// It owns two rules: the recommendation is made from medians, so one
// disturbed repeat cannot move it; and the spread travels with the row, so
// the report can show it and noise.hpp can judge whether it could flip the
// recommendation. Pure, thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <utility>
#include <vector>

#include "size_result.hpp"

namespace sandpool::sizing {

// One figure of one size over its repeats.
template <class T>
struct spread {
  T median{};
  T low{};          // the lowest repeat
  T high{};         // the highest repeat
  T likely_low{};   // where the median likely lies: see likely_range_ranks()
  T likely_high{};
  std::size_t repeats = 1;
};

// The ranks (from 1, in increasing order) that bound the narrowest range of
// n sorted repeats holding the true median with at least 75% confidence:
// the k-th lowest to the k-th highest, covering it with probability
// 1 - 2 P(Binomial(n, 1/2) < k) for independent repeats. For n up to 5 no
// narrower range reaches 75%, so it is the lowest to the highest; from 6
// on it narrows, so that more repeats narrow it. n = 0 gives (0, 0).
[[nodiscard]] std::pair<std::size_t, std::size_t> likely_range_ranks(std::size_t n);

// The median: the middle value, or the mean of the middle two; zero when
// `values` is empty.
template <class T>
[[nodiscard]] T median_of(std::vector<T> values) {
  if (values.empty()) return T{};
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The spread of `repeats` around the row's `median`; a single measurement
// (no repeats) is a spread of one value.
template <class T>
[[nodiscard]] spread<T> spread_of(std::vector<T> repeats, T median) {
  spread<T> s{median, median, median, median, median, 1};
  if (repeats.empty()) return s;
  std::sort(repeats.begin(), repeats.end());
  const auto [lo, hi] = likely_range_ranks(repeats.size());
  s.low = repeats.front();
  s.high = repeats.back();
  s.likely_low = repeats[lo - 1];
  s.likely_high = repeats[hi - 1];
  s.repeats = repeats.size();
  return s;
}

[[nodiscard]] inline spread<double> throughput_spread(const size_result& r) {
  return spread_of(r.throughput_repeats, r.throughput);
}
[[nodiscard]] inline spread<std::chrono::nanoseconds> wait_p99_spread(const size_result& r) {
  return spread_of(r.wait_p99_repeats, r.wait_p99);
}
[[nodiscard]] inline spread<std::chrono::nanoseconds> query_p99_spread(const size_result& r) {
  return spread_of(r.query_p99_repeats, r.query_p99);
}

// One row from the repeats of one size (all of that size, in the order
// measured): throughput, waits and query p99 are the repeats' medians; the
// high-water mark is the highest; operations, seconds, timeouts and drops
// are summed, so a timeout in any repeat still disqualifies the size. Each
// repeat's throughput, wait p99 and query p99 are kept in the row. One
// repeat gives the row unchanged; none gives an empty row.
[[nodiscard]] size_result summarize_repeats(const std::vector<size_result>& repeats);

}  // namespace sandpool::sizing
