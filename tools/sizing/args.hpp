// The command line of sandpool-size, parsed into what a run or a suite
// report needs. It owns the rule that every bad argument is caught here,
// before anything connects or runs, with a message naming the flag, the
// value and the fix (the caller exits with status 2). Pure, thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace sandpool::sizing {

// What each caller does in one iteration.
enum class workload_kind {
  select_1,  // checkout, SELECT 1, checkin
  rw,        // checkout, BEGIN, UPDATE a random row, SELECT it, COMMIT, checkin
  sandbox,   // a sandboxed test: ownership checkout, INSERT + SELECT, checkin
  script,    // the statements of --script, on one checked-out connection
};

// How tables are printed.
enum class output_format {
  table,     // aligned plain text
  markdown,  // a GitHub markdown table
};

// How progress is shown on stderr.
enum class progress_style {
  automatic,  // bar on a terminal, lines otherwise
  bar,        // one line redrawn in place, with the size and time left
  lines,      // a line when each size starts and ends
  none,       // nothing
};

struct run_args {
  std::optional<std::string> dsn;  // unset: SANDPOOL_TEST_DSN
  workload_kind workload = workload_kind::select_1;
  std::string script_path;  // with workload_kind::script
  int threads = 2;
  int fibers = 4;
  std::optional<std::vector<std::size_t>> sizes;  // unset: default_sizes(concurrency)
  // Per size, split evenly over the repeats: each repeat is a fresh, warm
  // pool with warmup / repeats of warm-up and seconds / repeats measured.
  double seconds = 3.0;
  double warmup = 0.5;
  int repeats = 3;  // measurements per size, in rounds across the sizes
  std::chrono::nanoseconds wait_target = std::chrono::milliseconds(1);
  double margin_percent = 5.0;
  int repos_per_test = 1;
  int spindles = 1;
  std::string csv_path;  // empty: no CSV
  std::string svg_path;  // empty: no SVG
  output_format format = output_format::table;
  progress_style progress = progress_style::automatic;

  // Callers running at once: threads × fibers.
  [[nodiscard]] std::size_t concurrency() const {
    return static_cast<std::size_t>(threads) * static_cast<std::size_t>(fibers);
  }
};

struct suite_args {
  std::string dir;  // empty: a temporary directory, removed afterwards
  output_format format = output_format::table;
  std::vector<std::string> command;  // never empty
};

struct help_request {};

using command_line = std::variant<help_request, run_args, suite_args>;

// Parses the arguments after the program name. Errors: InvalidArgument
// naming the flag, its value and the fix.
[[nodiscard]] absl::StatusOr<command_line> parse_args(const std::vector<std::string>& args);

// The connection string: --dsn if given, else env_dsn (SANDPOOL_TEST_DSN;
// null or empty: unset). Errors: InvalidArgument saying how to give one.
[[nodiscard]] absl::StatusOr<std::string> resolve_dsn(const std::optional<std::string>& flag,
                                                      const char* env_dsn);

// The name of a workload as written on the command line ("select-1").
[[nodiscard]] std::string_view workload_name(workload_kind w);

// The --help text.
[[nodiscard]] std::string usage_text();

}  // namespace sandpool::sizing
