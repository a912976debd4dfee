// Deadline arithmetic shared by the core and the ownership layer: a sum
// that saturates instead of overflowing (an infinite timeout is
// nanoseconds::max()), and the steady_clock deadline a condition variable
// waits on for a time point of the pool's clock.
#pragma once

#include <chrono>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

template <class TimePoint>
TimePoint saturating_add(TimePoint t, std::chrono::nanoseconds d) noexcept {
  if (d >= TimePoint::max() - t) return TimePoint::max();
  return t + d;
}

template <class Clock>
std::chrono::steady_clock::time_point steady_deadline(typename Clock::time_point t) noexcept {
  if constexpr (requires { Clock::to_steady(t); }) {
    return Clock::to_steady(t);
  } else {
    // Same epoch assumed (steady_clock itself); a manual clock never blocks
    // on this deadline, it only has to compile.
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(t.time_since_epoch()));
  }
}

}  // namespace sandpool::detail

#pragma GCC visibility pop
