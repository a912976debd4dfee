// What a run measured at one pool size: the row of every table, CSV line
// and chart point. Waits and latencies come from the tool's own
// steady_clock samples; the high-water mark, timeouts and drops from the
// pool's metrics over the measured window. A size measured several times
// is one row too (summarize_repeats() in repeats.hpp): its figures are the
// medians, and the repeats' own figures are kept beside them so that the
// spread can be shown and judged.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sandpool::sizing {

struct size_result {
  std::size_t size = 0;              // the pool's max_size (and min_idle)
  double seconds = 0;                // measured window
  std::uint64_t operations = 0;      // iterations completed in the window
  double throughput = 0;             // operations per second
  std::chrono::nanoseconds wait_p50{};   // checkout wait
  std::chrono::nanoseconds wait_p95{};
  std::chrono::nanoseconds wait_p99{};
  std::chrono::nanoseconds query_p99{};  // the workload body, checkout to checkin
  std::size_t high_water = 0;        // most connections in use at once
  std::uint64_t timeouts = 0;        // checkouts that hit checkout_timeout
  std::uint64_t drops = 0;           // checkouts shed by overload control

  // Each repeat's figure, in the order measured; empty for a single
  // measurement (the figure above is then the only one).
  std::vector<double> throughput_repeats;
  std::vector<std::chrono::nanoseconds> wait_p99_repeats;
  std::vector<std::chrono::nanoseconds> query_p99_repeats;
};

}  // namespace sandpool::sizing
