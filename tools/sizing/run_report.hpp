// The report of a sizing run on stdout: what was measured and how, one
// table row per pool size, and the recommendation beside the rules of
// thumb. The same text serves a terminal (format table) and the benchmark
// report (format markdown: a GitHub table and bullet lines). Pure,
// thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "args.hpp"
#include "recommend.hpp"
#include "rules_of_thumb.hpp"
#include "size_result.hpp"

namespace sandpool::sizing {

struct run_description {
  std::string workload;  // "select-1", or "script queries.sql"
  std::string server;    // the target without a password, and its version
  int threads = 0;
  int fibers = 0;
  double seconds = 0;  // measured time per size, over all its repeats
  double warmup = 0;
  std::chrono::nanoseconds checkout_timeout{};
  int repeats = 1;  // measurements per size
};

// Two lines: the workload and server; the concurrency, timing (with the
// repeats and the time of each) and timeout.
[[nodiscard]] std::string header_text(const run_description& d, output_format f);

// One row per size, in increasing size; the last column notes which sizes
// are the recommended one, the best throughput and the rules of thumb. When
// a size was measured more than once its figures are the repeats' medians,
// and throughput, wait p99 and query p99 are each followed by a column with
// the lowest and highest repeat ("ops/s min–max").
[[nodiscard]] std::string results_table(const std::vector<size_result>& rows,
                                        const recommendation& r,
                                        const std::vector<rule_of_thumb>& rules,
                                        output_format f);

// The recommendation lines, one per line (markdown: a bullet list).
[[nodiscard]] std::string closing_text(const std::vector<std::string>& lines, output_format f);

}  // namespace sandpool::sizing
