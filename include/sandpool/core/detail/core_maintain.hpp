// The core's waiting and housekeeping paths: queueing a caller, expiring and
// shedding waiters, and the maintain() round that closes, resets and opens
// connections outside the lock. Included by core.hpp only.
#pragma once

// The parent first, so this file also compiles alone; when the parent
// includes this file at its end, the parent's #pragma once makes this a no-op.
#include "sandpool/core/detail/core.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

template <driver Driver, class Clock>
auto core<Driver, Clock>::wait(lock_type& lk, time_point now, std::chrono::nanoseconds timeout,
                               source_location site, overload on_overload)
    -> absl::StatusOr<slot_type*> {
  watch_fiber_scheduler();
  waiter_type w;
  w.enqueued = now;
  w.deadline = saturating_add(now, timeout);
  w.site = site;
  w.on_overload = on_overload;
  waiters_.push_back(w);
  ++blocked_;
  set_contended();
  // A thread may keep an idle connection (core_keep.hpp): claimed, it goes
  // to the first waiter, as a returned one would.
  steal_kept(now);
  if (!w.done()) wake_housekeeper();  // it may open a connection for this waiter
  while (!w.done()) {
    if constexpr (manual_time<Clock>) {
      // Manual time cannot block on real time: maintain() expires us.
      w.cv.wait(lk);
    } else if (w.cv.wait_until(lk, steady_deadline<Clock>(w.deadline)) ==
                   boost::fibers::cv_status::timeout &&
               !w.done()) {
      const time_point t = clock_.now();
      waiters_.erase(waiters_.iterator_to(w));
      set_contended();
      ++timeouts_;
      const slot_type* h = longest_held();
      holder longest{h ? h->site : source_location{}, h ? t - h->leased_at : t - t};
      w.failure = checkout_timeout_error(counts(), t - w.enqueued, last_connect_error_,
                                         h ? &longest : nullptr);
      note({pool_event_kind::timed_out, {}, w.failure, {}, t - w.enqueued});
    }
  }
  --blocked_;
  if (closed_) detail::notify_all(drained_cv_);
  if (w.granted != nullptr) return w.granted;
  return w.failure;
}

template <driver Driver, class Clock>
tx_status core<Driver, Clock>::returned_status(connection& c) noexcept {
  if constexpr (requires { { driver_.recycle(c) } noexcept -> std::same_as<tx_status>; }) {
    return driver_.recycle(c);
  } else {
    return driver_.transaction_status(c);
  }
}

template <driver Driver, class Clock>
void core<Driver, Clock>::discarded(const slot_type& s, time_point now) noexcept {
  ++discarded_;
  ++discarded_by_[static_cast<std::size_t>(s.why)];
  if (options_.on_event) {
    pool_event e{pool_event_kind::discarded, {}, {}};
    e.reason = s.why;
    e.duration = now - s.created;
    note(std::move(e));
  }
}

// Fails every waiter with `why` (the connect error no wait will fix). Under
// the lock.
template <driver Driver, class Clock>
void core<Driver, Clock>::fail_all_waiters(const absl::Status& why) {
  while (!waiters_.empty()) {
    waiter_type& w = waiters_.front();
    waiters_.pop_front();
    w.failure = why;
    ++refused_;
    note({pool_event_kind::refused, {}, why});
    detail::notify_all(w.cv);
  }
  set_contended();
}

// Expires waiters past their deadline and, while overloaded, sheds those
// older than twice the queue target that may be shed. Under the lock.
template <driver Driver, class Clock>
void core<Driver, Clock>::fail_waiters(time_point now) {
  codel_.tick(now, waiters_.empty() ? std::chrono::nanoseconds::zero()
                                    : now - waiters_.front().enqueued);
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    waiter_type& w = *it;
    const auto waited = now - w.enqueued;
    const bool expired = now >= w.deadline;
    const bool shed = w.on_overload == overload::shed && sheds_now() &&
                      waited > codel_.drop_after();
    if (!expired && !shed) {
      ++it;
      continue;
    }
    it = waiters_.erase(it);  // first, so the counts quoted exclude this waiter
    if (expired) {
      ++timeouts_;
      const slot_type* h = longest_held();
      holder longest{h ? h->site : source_location{}, h ? now - h->leased_at : waited};
      w.failure = checkout_timeout_error(counts(), waited, last_connect_error_,
                                         h ? &longest : nullptr);
      note({pool_event_kind::timed_out, {}, w.failure, {}, waited});
    } else {
      ++drops_;
      w.failure = checkout_dropped_error(counts(), waited, codel_.target(), codel_.interval(),
                                         last_connect_error_);
      note({pool_event_kind::shed, {}, w.failure, {}, waited});
    }
    detail::notify_all(w.cv);
  }
  set_contended();
}

// Claims the work of one round: slots to close, reset and open. Under the lock.
template <driver Driver, class Clock>
void core<Driver, Clock>::collect(time_point now, work& w) {
  note_time(now);
  unkeep_all(now);  // kept slots are judged like any idle one
  std::size_t idle_left = book_.idle_count();
  for (std::size_t i = 0; i < options_.max_size; ++i) {
    slot_type& s = slots_[i];
    if (s.state == slot_state::doomed) {
      book_.move(s, slot_state::closing);
      w.close.push_back(&s);
    } else if (s.state == slot_state::dirty) {
      book_.move(s, slot_state::resetting);
      w.reset.push_back(&s);
    } else if (s.state == slot_state::idle) {
      const bool expired = now - s.created > options_.max_lifetime;
      const bool unused = now - s.last_used > options_.idle_timeout && idle_left > options_.min_idle;
      if (expired || unused) {
        --idle_left;
        book_.move(s, slot_state::closing);
        s.why = expired ? discard_reason::expired : discard_reason::idle;
        w.close.push_back(&s);
      }
    }
  }
  fail_waiters(now);
  if (closed_ || now < retry_at_) return;
  // Connections claimed for closing no longer count: replacements start now.
  std::size_t n = connections_to_open({book_.open() - w.close.size(), book_.connecting(),
                                       book_.idle_count(),
                                       waiters_.size(), options_.min_idle, options_.max_size});
  for (std::size_t i = 0; i < options_.max_size && n > 0; ++i) {
    slot_type& s = slots_[i];
    if (s.state != slot_state::empty) continue;
    book_.move(s, slot_state::connecting);
    --n;
    w.connect.push_back(&s);
  }
}

template <driver Driver, class Clock>
auto core<Driver, Clock>::maintain_pool() -> time_point {
  work w;
  {
    lock_type lk(lock_);
    hk_pending_ = false;
    collect(clock_.now(), w);
  }
  for (slot_type* s : w.close) driver_.close(*s->conn);
  if (!w.close.empty()) {
    const time_point t = clock_.now();
    lock_type lk(lock_);
    for (slot_type* s : w.close) {
      s->conn.reset();
      book_.move(*s, slot_state::empty);
      discarded(*s, t);
    }
    hk_pending_ = true;  // a replacement may be wanted
  }
  for (slot_type* s : w.reset) {
    absl::Status reset = driver_.reset(*s->conn);
    if (reset.ok() && driver_.transaction_status(*s->conn) != tx_status::idle)
      reset = absl::InternalError("the connection is still inside a transaction after its reset");
    const time_point t = clock_.now();
    lock_type lk(lock_);
    if (!reset.ok()) {
      note({pool_event_kind::reset_failed, {}, std::move(reset)});
      doom(*s, discard_reason::reset_failed);
    } else if (closed_) {
      doom(*s, discard_reason::closed);
    } else {
      ++resets_;
      s->last_used = t;
      make_available(*s, t);
    }
  }
  for (slot_type* s : w.connect) {
    const time_point started = clock_.now();
    absl::StatusOr<connection> c = driver_.connect();
    const time_point t = clock_.now();
    lock_type lk(lock_);
    connect_hist_.record(t - started);
    note({c.ok() ? pool_event_kind::connected : pool_event_kind::connect_failed, {},
          c.status(), {}, t - started});
    if (c.ok()) {
      ++connects_;
      connect_failures_in_row_ = 0;
      s->conn.emplace(std::move(*c));
      s->created = s->last_used = t;
      s->suspect = false;
      if (closed_) {
        doom(*s, discard_reason::closed);
      } else {
        make_available(*s, t);
      }
    } else {
      ++connect_failures_;
      ++connect_failures_in_row_;
      last_connect_error_ = c.status();
      book_.move(*s, slot_state::empty);
      const double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
      retry_at_ = saturating_add(
          t, reconnect_delay(connect_failures_in_row_, options_.reconnect_backoff_min,
                             options_.reconnect_backoff_max, jitter));
      if (refused_permanently()) fail_all_waiters(connect_refused_error(counts(), c.status()));
    }
  }
  deliver_events();
  lock_type lk(lock_);
  return next_due(clock_.now());
}

// When maintain() next has work. Under the lock.
template <driver Driver, class Clock>
auto core<Driver, Clock>::next_due(time_point now) const -> time_point {
  if (hk_pending_) return now;
  time_point due = time_point::max();
  for (std::size_t i = 0; i < options_.max_size; ++i) {
    const slot_type& s = slots_[i];
    if (s.state == slot_state::doomed || s.state == slot_state::dirty) return now;

    if (s.state != slot_state::idle) continue;
    due = std::min(due, saturating_add(s.created, options_.max_lifetime));
    if (book_.idle_count() > options_.min_idle)
      due = std::min(due, saturating_add(s.last_used, options_.idle_timeout));
  }
  // Any open connection may be kept by a thread between rounds: a round at
  // least every half validation_bypass (at most a second apart) takes kept
  // ones back before they could need validating, and keeps recent_now().
  if (keeps_ && book_.open() > 0)
    due = std::min(due, saturating_add(now, std::clamp<std::chrono::nanoseconds>(
                                                options_.validation_bypass / 2,
                                                std::chrono::milliseconds(10),
                                                std::chrono::seconds(1))));
  // A kept slot is idle: it must not look like a reason to open another.
  if (!closed_ && connections_to_open({book_.open(), book_.connecting(),
                                       book_.idle_count() + kept_count(), waiters_.size(),
                                       options_.min_idle, options_.max_size}) > 0)
    due = std::min(due, std::max(retry_at_, now));
  if (!waiters_.empty()) {
    due = std::min(due, codel_.interval_end());
    // Only a waiter that may be shed has a shedding time to wake up for;
    // in an outage none may (else housekeeping would spin on a time past).
    if (sheds_now()) {
      if (const waiter_type* w = oldest_sheddable())
        due = std::min(due, saturating_add(w->enqueued, codel_.drop_after()));
    }
    for (const waiter_type& w : waiters_) due = std::min(due, w.deadline);
  }
  return due;
}

}  // namespace sandpool::detail

#pragma GCC visibility pop
