// The pool sizes a run measures. It owns the rules for --sizes (lists like
// 1,2,4,8 and ranges like 1-16 or 1-16:2, every size from 1 to max_pool_size,
// measured in increasing order, each once) and for the default sweep, which
// doubles from 1 to twice the concurrency and always includes the
// concurrency itself. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sandpool::sizing {

// The largest pool size a sweep may ask for.
inline constexpr std::size_t max_pool_size = 10000;

// Parses --sizes. The result is sorted and free of duplicates. Errors:
// InvalidArgument naming the offending item (a size of 0, a range that runs
// downward, a step of 0, a size above max_pool_size, text that is not a
// size) and how to write it.
[[nodiscard]] absl::StatusOr<std::vector<std::size_t>> parse_sizes(std::string_view text);

// 1, 2, 4, ... up to 2 × concurrency, plus concurrency and 2 × concurrency
// (capped at max_pool_size), sorted. concurrency 0 counts as 1.
[[nodiscard]] std::vector<std::size_t> default_sizes(std::size_t concurrency);

// The sweep with `extra` sizes added where they are at most `cap`; the
// result is sorted and free of duplicates.
[[nodiscard]] std::vector<std::size_t> with_sizes(std::vector<std::size_t> sweep,
                                                  const std::vector<std::size_t>& extra,
                                                  std::size_t cap);

// The largest size added to a sweep automatically (the rules of thumb): the
// larger of 64 and twice the sweep's largest size, but no more than
// server_limit (connections the server can still give; 0: unknown).
[[nodiscard]] std::size_t auto_add_cap(const std::vector<std::size_t>& sweep,
                                       std::size_t server_limit);

}  // namespace sandpool::sizing
