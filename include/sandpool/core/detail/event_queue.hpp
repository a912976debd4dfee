// Events on their way to the pool's hook. The pool queues them under its
// lock (a critical section decides, it does not act) and housekeeping hands
// them to the hook after unlocking. Bounded: past `capacity` queued events
// the newest are dropped rather than grow without limit behind a slow hook.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "sandpool/core/events.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

class event_queue {
 public:
  static constexpr std::size_t capacity = 4096;

  // Under the owner's lock. False if the event was dropped.
  bool push(pool_event e) noexcept {
    if (events_.size() >= capacity) return false;
    try {
      events_.push_back(std::move(e));
    } catch (...) {  // no memory: the event is dropped
      return false;
    }
    return true;
  }
  // Under the owner's lock: the queued events, leaving none.
  std::vector<pool_event> take() noexcept { return std::exchange(events_, {}); }

 private:
  std::vector<pool_event> events_;  // oldest first
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
