// The timed run at one pool size: a fresh, warm pool (max_size = min_idle =
// size), `threads` OS threads each running `fibers` Boost.Fiber callers
// (one caller per thread when fibers is 1), every caller repeating the
// workload for the warm-up and then the measured window. It owns the
// measurement rules:
//  - only iterations that start inside the measured window count;
//  - each caller keeps its own samples (no locks while running); they are
//    merged after every caller has stopped;
//  - a checkout that times out or is shed counts (the pool's own counters
//    over the window) and the caller carries on; any other error stops the
//    run and is returned with the size it happened at.
// Runs on the main thread, one size at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>

#include "absl/status/statusor.h"
#include "progress.hpp"
#include "sandpool/sandpool.hpp"
#include "size_result.hpp"
#include "workload.hpp"

namespace sandpool::sizing {

struct run_settings {
  int threads = 2;
  int fibers = 4;
  double warmup = 0.5;   // seconds
  double seconds = 3.0;  // measured
  std::chrono::nanoseconds checkout_timeout = std::chrono::seconds(5);
  // How long a new pool may take to open its connections.
  std::chrono::seconds warm_limit = std::chrono::seconds(30);
};

// Measures `w` at pool size `size` against the server of `driver`. Errors:
// the workload's (annotated with the size), Unavailable when the pool cannot
// open its connections in time (with the server's reason), Cancelled when
// `interrupted` became true.
[[nodiscard]] absl::StatusOr<size_result> measure_size(const pq::driver& driver, workload& w,
                                                       std::size_t size,
                                                       const run_settings& settings,
                                                       progress& shown,
                                                       const std::atomic<bool>& interrupted);

}  // namespace sandpool::sizing
