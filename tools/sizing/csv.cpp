// CSV output of a run (see csv.hpp).
#include "csv.hpp"

#include <algorithm>
#include <cstdio>

#include "repeats.hpp"
#include "units.hpp"

namespace sandpool::sizing {

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string to_csv(const std::vector<size_result>& rows, const csv_context& c) {
  std::string out =
      "pool_size,throughput_ops_per_s,operations,seconds,wait_p50_us,wait_p95_us,wait_p99_us,"
      "query_p99_us,high_water,timeouts,drops,workload,threads,fibers,repeats,"
      "throughput_min,throughput_max,wait_p99_min_us,wait_p99_max_us,query_p99_min_us,"
      "query_p99_max_us\n";
  std::vector<size_result> sorted = rows;
  std::sort(sorted.begin(), sorted.end(),
            [](const size_result& a, const size_result& b) { return a.size < b.size; });
  for (const size_result& r : sorted) {
    char numbers[64];
    std::snprintf(numbers, sizeof numbers, "%.1f", r.throughput);
    const spread<double> tp = throughput_spread(r);
    const spread<std::chrono::nanoseconds> wait = wait_p99_spread(r), query = query_p99_spread(r);
    char tp_range[64];
    std::snprintf(tp_range, sizeof tp_range, "%.1f,%.1f", tp.low, tp.high);
    char secs[64];
    std::snprintf(secs, sizeof secs, "%.3f", r.seconds);
    out += std::to_string(r.size) + "," + numbers + "," + std::to_string(r.operations) + "," +
           secs + "," + microseconds_text(r.wait_p50) + "," + microseconds_text(r.wait_p95) +
           "," + microseconds_text(r.wait_p99) + "," + microseconds_text(r.query_p99) + "," +
           std::to_string(r.high_water) + "," + std::to_string(r.timeouts) + "," +
           std::to_string(r.drops) + "," + csv_field(c.workload) + "," +
           std::to_string(c.threads) + "," + std::to_string(c.fibers) + "," +
           std::to_string(tp.repeats) + "," + tp_range + "," + microseconds_text(wait.low) + "," +
           microseconds_text(wait.high) + "," + microseconds_text(query.low) + "," +
           microseconds_text(query.high) + "\n";
  }
  return out;
}

}  // namespace sandpool::sizing
