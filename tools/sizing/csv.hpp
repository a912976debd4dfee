// The figures of a run as CSV (RFC 4180: comma-separated, fields with a
// comma, quote or line break quoted, quotes doubled), one line per pool
// size with a header line. Times are in microseconds so a spreadsheet can
// plot them directly. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "size_result.hpp"

namespace sandpool::sizing {

struct csv_context {
  std::string workload;  // repeated on every line, so files from several runs can be joined
  int threads = 0;
  int fibers = 0;
};

// The header names the columns:
//   pool_size,throughput_ops_per_s,operations,seconds,wait_p50_us,wait_p95_us,
//   wait_p99_us,query_p99_us,high_water,timeouts,drops,workload,threads,fibers,
//   repeats,throughput_min,throughput_max,wait_p99_min_us,wait_p99_max_us,
//   query_p99_min_us,query_p99_max_us
// With repeats, the figures are their medians (operations and seconds their
// sums) and the *_min / *_max columns the lowest and highest repeat; a size
// measured once has repeats 1 and min = max.
[[nodiscard]] std::string to_csv(const std::vector<size_result>& rows, const csv_context& c);

// One CSV field, quoted if it needs to be.
[[nodiscard]] std::string csv_field(std::string_view s);

}  // namespace sandpool::sizing
