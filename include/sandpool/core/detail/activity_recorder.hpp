// The pool side of activity export (see sandpool/core/activity.hpp): one recorder
// per pool, present only when export is on. It owns the rule that a record
// is complete (asked, granted, returned) before it is kept, and that the
// file is written once: when the recorder goes with its pool, or at process
// exit for a pool that is never destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

// What a leased slot carries while export is on.
struct activity_stamp {
  std::int64_t requested_ns = 0;
  std::int64_t granted_ns = 0;
  std::uint32_t label = 0;
};

class activity_recorder {
 public:
  // A recorder if SANDPOOL_METRICS_EXPORT is set and non-empty, else null.
  static std::unique_ptr<activity_recorder> from_environment(std::string_view pool,
                                                             std::size_t max_size);
  // Writes the file unless written already (at exit, for pools the
  // program never destroys); a failure is reported on stderr (a destructor
  // cannot fail the program it runs in).
  ~activity_recorder();
  activity_recorder(const activity_recorder&) = delete;
  activity_recorder& operator=(const activity_recorder&) = delete;

  // CLOCK_MONOTONIC in nanoseconds.
  static std::int64_t now_ns() noexcept;
  // The label set by set_activity_label() now (0: none).
  static std::uint32_t current_label() noexcept;

  // A checkout granted at stamp and returned at released_ns.
  void returned(const activity_stamp& stamp, std::int64_t released_ns);
  // A checkout that gave up at failed_ns with `why`.
  void failed(const activity_stamp& stamp, std::int64_t failed_ns, const absl::Status& why);

  // Writes the records to a new file in the directory now; returns its
  // path. Called by the destructor; public for tests.
  [[nodiscard]] absl::Status write(std::string* path = nullptr);
  // write() unless done already, reporting a failure on stderr.
  void write_once() noexcept;

 private:
  enum class outcome : std::uint8_t { ok, timeout, dropped, failed };
  struct record {
    activity_stamp stamp;
    std::int64_t released_ns;
    outcome what;
  };
  activity_recorder(std::string dir, std::string_view pool, std::size_t max_size);

  const std::string dir_, pool_;
  const std::size_t max_size_;
  std::mutex lock_;  // guards records_ and written_
  std::vector<record> records_;
  bool written_ = false;
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
