// The core's checkout and checkin through the lock: the idle list, a
// connection that needs validating first, and the queue. Included by
// core.hpp only.
#pragma once

// The parent first, so this file also compiles alone; when the parent
// includes this file at its end, the parent's #pragma once makes this a no-op.
#include "sandpool/core/detail/core.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

template <driver Driver, class Clock>
auto core<Driver, Clock>::take(std::chrono::nanoseconds timeout, source_location site,
                               overload on_overload) -> absl::StatusOr<slot_type*> {
  const time_point now = clock_.now();
  const std::ptrdiff_t own = affinity::recall(id_);
  lock_type lk(lock_);
  if (closed_) return pool_closed_error(options_.name);
  note_time(now);
  if (own >= 0) book_.to_front(slots_[static_cast<std::size_t>(own)]);
  while (!book_.idle().empty()) {
    slot_type& s = book_.idle_front();
    if (now - s.created > options_.max_lifetime) {
      doom(s, discard_reason::expired);
      continue;
    }
    lease(s, now, site);
    // Zero means "always validate": a coarse clock can read the same
    // instant at checkin and checkout.
    if (!s.suspect && options_.validation_bypass > std::chrono::nanoseconds::zero() &&
        now - s.last_used <= options_.validation_bypass) {
      served(std::chrono::nanoseconds::zero());
      return &s;
    }
    // Idle past the bypass window: check it is alive, outside the lock.
    s.suspect = false;
    lk.unlock();
    const absl::Status alive = driver_.validate(*s.conn);
    lk.lock();
    if (alive.ok()) {
      served(std::chrono::nanoseconds::zero());
      return &s;
    }
    ++validation_failures_;
    distrust_idle();
    if (closed_) {  // shut down while we validated: no queue to join
      std::string name = options_.name;  // the core may be gone after the next call
      release_after_close(lk, s);
      return pool_closed_error(name);
    }
    doom(s, discard_reason::validation_failed);
  }
  if (closed_) return pool_closed_error(options_.name);
  // Until the next retry is due, a permanent connect error is the answer;
  // once it is due, this caller waits for that attempt's verdict.
  if (refused_permanently() && now < retry_at_) {
    ++refused_;
    absl::Status refused = connect_refused_error(counts(), last_connect_error_);
    note({pool_event_kind::refused, {}, refused});
    return refused;
  }
  return wait(lk, now, timeout, site, on_overload);
}

template <driver Driver, class Clock>
void core<Driver, Clock>::release_shared(slot_type* s, tx_status status, bool returned,
                                         bool discarded) noexcept {
  if (activity_ != nullptr) [[unlikely]]
    activity_->returned(s->activity, activity_recorder::now_ns());
  if (returned) (void)affinity::remember(id_, index_of(*s), shared_);
  const time_point now = clock_.now();
  lock_type lk(lock_);
  if (closed_) return release_after_close(lk, *s);
  note_time(now);
  // A lease served from the keep has no checkout time of its own.
  if (returned && !s->from_keep.exchange(false, std::memory_order_relaxed))
    hold_hist_.record(now - s->leased_at);
  if (status == tx_status::broken) {
    doom(*s, discard_reason::broken);
    if (!discarded) distrust_idle();
  } else if (status != tx_status::idle) {
    book_.move(*s, slot_state::dirty);
    wake_housekeeper();
  } else if (now - s->created > options_.max_lifetime) {
    doom(*s, discard_reason::expired);
  } else {
    if (returned) s->last_used = now;
    make_available(*s, now);
  }
}

}  // namespace sandpool::detail

#pragma GCC visibility pop
