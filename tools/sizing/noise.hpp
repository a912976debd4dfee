// Whether noise could flip the recommendation. The recommendation is made
// from medians (recommend.hpp); here each size's throughput and p99 wait
// are taken as the ranges where their medians likely lie (repeats.hpp),
// and the recommendation could flip if somewhere within those ranges a
// different size would be chosen: a smaller size might meet every condition
// (and, being smaller, win), or the recommended size might miss one (and
// the next size that might meet them all win). It owns the rule that the
// report never presents a choice as settled when its own measurements
// allow another. Timeouts and drops are counts, not noise: a size with any
// stays out. Pure, thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "recommend.hpp"

namespace sandpool::sizing {

enum class flip_kind {
  smaller_may_qualify,  // a size below the recommended one may meet every condition
  chosen_may_miss,      // the recommended size may miss a condition
  none_may_qualify,     // nothing was recommended, but this size may meet every condition
};

struct flip_risk {
  flip_kind kind = flip_kind::smaller_may_qualify;
  std::size_t size = 0;  // the size that may qualify, or (chosen_may_miss) may miss
  // smaller_may_qualify: the recommended size it would replace.
  // chosen_may_miss: the size that would replace it; unset: none would.
  // none_may_qualify: unset.
  std::optional<std::size_t> other;
  bool throughput = false;  // the margin of the best throughput is in doubt
  bool wait = false;        // the p99 wait target is in doubt
};

// The ways `r` (from recommend()) could flip within the spread of its
// considered rows: smaller sizes that may qualify, nearest the recommended
// size first, then the recommended size itself if it may miss; or, when
// nothing was recommended, each size that may qualify, smallest first.
// Empty when nothing can flip, which includes rows measured once.
[[nodiscard]] std::vector<flip_risk> flip_risks(const recommendation& r, double margin_percent,
                                                std::chrono::nanoseconds wait_target);

// The report's lines on noise, for a run of `repeats` per size over
// `seconds` of measurement per size:
//  - per risk, "warning: noise could flip the recommendation from 8 to 4:
//    ..." naming both sizes, what is in doubt, and their ranges; then one
//    line saying what the ranges are and how to narrow them (--seconds,
//    --repeats, with the values to give);
//  - else one line saying the recommendation holds within the spread;
//  - with one repeat, one line saying noise was not judged, and how to.
[[nodiscard]] std::vector<std::string> noise_lines(const recommendation& r,
                                                   double margin_percent,
                                                   std::chrono::nanoseconds wait_target,
                                                   int repeats, double seconds);

}  // namespace sandpool::sizing
