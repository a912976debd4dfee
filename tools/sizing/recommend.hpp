// The recommendation: the smallest pool size whose throughput is within the
// margin of the best measured throughput, whose p99 checkout wait meets the
// target, and which had no timeouts or drops. It owns the rule that a
// recommendation is only ever a size that was measured, and that when no
// size qualifies the report says so and names the best one instead of
// guessing. Pure, thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "rules_of_thumb.hpp"
#include "size_result.hpp"

namespace sandpool::sizing {

struct recommendation {
  std::optional<std::size_t> size;  // unset: no size met every condition
  std::size_t best_size = 0;        // highest throughput (the smallest size on a tie)
  double best_throughput = 0;
  std::size_t lowest_wait_size = 0;  // lowest p99 wait (the smallest size on a tie)
  // The rows the choice was made from, by size: the measured ones, except
  // that sizes at or above the concurrency become one row (see recommend()).
  std::vector<size_result> considered;
  std::vector<std::size_t> grouped;  // the sizes that became one row; empty: none
};

// Rows may come in any order. An empty `rows` gives no size.
//
// With `concurrency` callers (0: unknown), a pool of that size or larger is
// never full: its extra connections are never used, so any difference
// between such sizes is noise. Those sizes count as one, the smallest of
// them, with their median throughput (over all their repeats), worst p99
// wait (with that size's spread) and summed timeouts and drops; so a
// larger size never wins by chance. A row measured several times counts by
// its medians (repeats.hpp); whether its spread could flip the choice is
// noise.hpp's to judge.
[[nodiscard]] recommendation recommend(const std::vector<size_result>& rows,
                                       double margin_percent,
                                       std::chrono::nanoseconds wait_target,
                                       std::size_t concurrency = 0);

// The size the rules of thumb are compared with: the recommended size, else
// the best one.
[[nodiscard]] std::size_t reference_size(const recommendation& r);

// The report's closing lines: the recommendation (starting with
// "recommended pool size: "), a line on sizes counted as one (if any), and
// one line per rule of thumb with the throughput and p99 wait measured at
// its size and their difference from the reference size, or why it was not
// measured (above `cap`: the largest size added automatically, or with
// cap_is_server_limit the connections the server could give).
[[nodiscard]] std::vector<std::string> recommendation_lines(
    const std::vector<size_result>& rows, const recommendation& r,
    const std::vector<rule_of_thumb>& rules, double margin_percent,
    std::chrono::nanoseconds wait_target, std::size_t cap, bool cap_is_server_limit = false);

}  // namespace sandpool::sizing
