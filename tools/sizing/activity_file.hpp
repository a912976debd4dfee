// Reading the activity files pools write when SANDPOOL_METRICS_EXPORT is set
// (format v1, see sandpool/core/activity.hpp): a comment header naming the pool,
// its max_size and the process, a column line, then one tab-separated line
// per checkout. It owns the rule that a file is taken whole or refused with
// its path, the line and what is wrong: a half-read file would understate
// demand. Parsing is pure and thread-safe; reading touches the file system.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sandpool::sizing {

// How a checkout ended.
enum class checkout_outcome {
  ok,       // granted, then released
  timeout,  // gave up after checkout_timeout
  dropped,  // shed by overload control
  failed,   // any other error
};

struct checkout_record {
  std::string test;            // the running test's label; "-" outside any test
  std::int64_t requested_ns = 0;  // CLOCK_MONOTONIC, comparable across processes
  std::int64_t granted_ns = 0;    // for a non-ok outcome: when it gave up
  std::int64_t released_ns = 0;   // for a non-ok outcome: when it gave up
  checkout_outcome outcome = checkout_outcome::ok;
};

struct activity_file {
  std::string path;
  std::string pool;          // the pool's name (the file name may be mangled)
  std::size_t max_size = 0;
  std::int64_t pid = 0;
  std::vector<checkout_record> records;
};

// The file extension pools write.
inline constexpr std::string_view activity_extension = ".tsv";

// Parses one file's text; `path` names it in errors. Errors:
// InvalidArgument naming the path, the line number and what is wrong (not
// an activity file, another format version, a missing header, a line
// without five fields, a bad number or outcome, times out of order).
[[nodiscard]] absl::StatusOr<activity_file> parse_activity(std::string_view text,
                                                           std::string_view path);

// What a directory of activity files held: the files that parsed, and one
// message per file that did not.
struct activity_set {
  std::vector<activity_file> files;
  std::vector<std::string> problems;
};

// Reads every *.tsv file in dir, in name order. Errors: the directory
// cannot be listed (naming it and the reason).
[[nodiscard]] absl::StatusOr<activity_set> read_activity_dir(const std::string& dir);

// The names of the *.tsv files in dir (none if it does not exist).
[[nodiscard]] std::vector<std::string> activity_files_in(const std::string& dir);

}  // namespace sandpool::sizing
