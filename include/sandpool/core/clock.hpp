// Clocks the pool reads. The default is a coarse monotonic clock: the hot
// path reads it on every checkout and checkin, and every deadline the pool
// keeps (idle timeout, lifetime, validation bypass) is far coarser than its
// few-millisecond resolution. A manual clock lets unit tests drive time.
#pragma once

#include <time.h>

#include <atomic>
#include <chrono>
#include <memory>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// CLOCK_MONOTONIC_COARSE: same epoch as steady_clock, read from the vDSO in a
// few nanoseconds, resolution of one kernel tick.
struct coarse_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<coarse_clock, duration>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) +
                      std::chrono::nanoseconds(ts.tv_nsec));
  }
  // The steady_clock instant with the same reading, for blocking waits.
  static std::chrono::steady_clock::time_point to_steady(time_point t) noexcept {
    return std::chrono::steady_clock::time_point(t.time_since_epoch());
  }
};

// A clock that only moves when a test advances it. Copies share one time
// line, so a test keeps a copy and the pool reads the same instant.
class manual_clock {
 public:
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<manual_clock, duration>;
  static constexpr bool is_steady = true;
  // Waits on this clock cannot block on real time: the pool's housekeeping
  // step expires them when the test advances the clock and calls maintain().
  static constexpr bool is_manual = true;

  time_point now() const noexcept {
    return time_point(duration(now_->load(std::memory_order_acquire)));
  }
  void advance(duration d) noexcept {
    now_->fetch_add(d.count(), std::memory_order_acq_rel);
  }

 private:
  // Starts well past zero so "long ago" instants stay representable.
  std::shared_ptr<std::atomic<rep>> now_ =
      std::make_shared<std::atomic<rep>>(rep{1'000'000'000'000});
};

template <class Clock>
concept manual_time = requires { requires Clock::is_manual; };

}  // namespace sandpool

#pragma GCC visibility pop
