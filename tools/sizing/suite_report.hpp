// The text report of `sandpool-size suite`: what the command was and how it
// ended, then per pool name a table per test (checkouts, failures, wait and
// hold times), a table per pool instance, the high-water mark, the pool size
// that would have avoided waiting and, across processes, the server
// connections needed; finally a line for all pools together. Pure,
// thread-safe.
#pragma once

#include <string>
#include <vector>

#include "args.hpp"
#include "suite_usage.hpp"

namespace sandpool::sizing {

struct suite_run {
  std::string command;  // as the user typed it, for the report
  int exit_code = 0;    // the command's; 128 + signal if it was killed
  std::string dir;      // where the activity files are
  bool dir_kept = false;
};

// The full report. `problems` are files that were left out (one line each).
[[nodiscard]] std::string suite_report_text(const suite_usage& u, const suite_run& run,
                                            const std::vector<std::string>& problems,
                                            output_format f);

// Why there is no report: the command ran but no pool exported activity.
[[nodiscard]] std::string no_activity_message(const suite_run& run);

// "`cmd arg` exited with status 0" / "... was killed by signal 9".
[[nodiscard]] std::string outcome_text(const suite_run& run);

// argv joined with spaces, arguments with spaces or quotes single-quoted.
[[nodiscard]] std::string shell_words(const std::vector<std::string>& argv);

}  // namespace sandpool::sizing
