// Overload detection in the style of CoDel as DBConnection applies it to a
// connection queue. Time is cut into intervals; if no checkout in a whole
// interval was served within the target delay, the queue is standing, not
// bursting, and the next interval is "overloaded": waiters older than twice
// the target are shed so the rest are served in time instead of everyone
// timing out. Pure bookkeeping; the core calls it under its lock.
#pragma once

#include <algorithm>
#include <chrono>

#include "sandpool/core/detail/deadline.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

template <class TimePoint>
class codel {
 public:
  using duration = std::chrono::nanoseconds;

  // The first interval starts at `start` (the pool's creation).
  codel(duration target, duration interval, TimePoint start)
      : target_(target),
        interval_(interval),
        interval_end_(saturating_add(start, interval)) {}

  // A checkout was served after waiting `delay`.
  void served(duration delay) noexcept { min_delay_ = std::min(min_delay_, delay); }

  // Closes the interval if it has ended; `queue_age` is how long the oldest
  // current waiter has waited (zero when nobody waits).
  void tick(TimePoint now, duration queue_age) noexcept {
    if (now < interval_end_) return;
    const duration observed = std::min(min_delay_, queue_age == duration::zero()
                                                       ? duration::max()
                                                       : queue_age);
    // Nobody served and nobody waiting is an idle pool, not an overload.
    overloaded_ = observed != duration::max() && observed > target_;
    min_delay_ = duration::max();
    interval_end_ = saturating_add(now, interval_);
  }

  bool overloaded() const noexcept { return overloaded_; }
  // While overloaded, a waiter that has waited longer than this is shed.
  duration drop_after() const noexcept {
    return target_ > duration::max() / 2 ? duration::max() : target_ * 2;
  }
  TimePoint interval_end() const noexcept { return interval_end_; }
  duration target() const noexcept { return target_; }
  duration interval() const noexcept { return interval_; }

 private:
  duration target_;
  duration interval_;
  duration min_delay_ = duration::max();
  TimePoint interval_end_{};
  bool overloaded_ = false;
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
