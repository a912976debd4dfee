// The core's lifecycle: the housekeeping thread, shutdown that drains with a
// deadline, and orphaning, which lets leases outlive the pool handle safely
// (the core deletes itself when the last lease comes back). Also the metrics
// snapshot. Included by core.hpp only.
#pragma once

// The parent first, so this file also compiles alone; when the parent
// includes this file at its end, the parent's #pragma once makes this a no-op.
#include "sandpool/core/detail/core.hpp"

#include <system_error>

#include "sandpool/core/fiber_io.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

// The housekeeping thread hosts a Boost.Fiber scheduler; maintenance runs as
// a fiber so that later timed work (the ownership reaper) can share it.
template <driver Driver, class Clock>
void core<Driver, Clock>::run_hosted(task t) {
  lock_type lk(lock_);
  while (!hk_stop_) {
    const std::uint64_t seen = wakes_;
    lk.unlock();
    const time_point due = t(clock_.now());
    lk.lock();
    if (hk_stop_) break;
    if (wakes_ != seen) continue;  // woken while it ran (even by itself): look again
    if (due == time_point::max()) {
      hk_cv_.wait(lk);
    } else {
      hk_cv_.wait_until(lk, steady_deadline<Clock>(due) + std::chrono::milliseconds(5));
    }
  }
}

// The thread runs fiber_io_scheduler: a connect or reset of sandpool's
// driver that waits for the server suspends the maintenance fiber, so the
// hosted tasks (the reaper) keep their deadlines while a server is slow to
// answer. Without epoll it runs Boost.Fiber's default scheduler, and such a
// wait blocks the thread.
template <driver Driver, class Clock>
void core<Driver, Clock>::housekeeping_thread() {
  try {
    boost::fibers::use_scheduling_algorithm<fiber_io_scheduler>();
  } catch (const std::system_error&) {
  }
  std::vector<boost::fibers::fiber> hosted;
  boost::fibers::fiber([this, &hosted] {
    lock_type lk(lock_);
    while (!hk_stop_) {
      while (tasks_started_ < tasks_.size())
        hosted.emplace_back([this, t = tasks_[tasks_started_++]] { run_hosted(t); });
      lk.unlock();
      const time_point due = maintain_pool();
      lk.lock();
      if (hk_stop_ || hk_pending_ || tasks_started_ < tasks_.size()) continue;
      if (due == time_point::max()) {
        hk_cv_.wait(lk);
      } else {
        // A coarse clock lags real time by up to a tick; waking a little
        // late keeps the loop from spinning until the clock catches up.
        hk_cv_.wait_until(lk, steady_deadline<Clock>(due) + std::chrono::milliseconds(5));
      }
    }
  }).join();
  for (auto& f : hosted) f.join();
}

template <driver Driver, class Clock>
void core<Driver, Clock>::stop_housekeeper() {
  {
    lock_type lk(lock_);
    hk_stop_ = true;
    detail::notify_all(hk_cv_);
  }
  if (housekeeper_.joinable() && housekeeper_.get_id() != std::this_thread::get_id())
    housekeeper_.join();
}

// Closes every connection no lease holds. Used once housekeeping has stopped.
template <driver Driver, class Clock>
void core<Driver, Clock>::close_all_unleased() {
  std::vector<slot_type*> doomed;
  {
    lock_type lk(lock_);
    for (std::size_t i = 0; i < options_.max_size; ++i) {
      slot_type& s = slots_[i];
      if (s.holds_connection() && s.state != slot_state::leased) {
        book_.move(s, slot_state::closing);
        s.why = discard_reason::closed;
        doomed.push_back(&s);
      }
    }
  }
  for (slot_type* s : doomed) driver_.close(*s->conn);
  {
    const time_point now = clock_.now();
    lock_type lk(lock_);
    for (slot_type* s : doomed) {
      s->conn.reset();
      book_.move(*s, slot_state::empty);
      discarded(*s, now);
    }
  }
  deliver_events();  // housekeeping, which would have, has stopped
}

template <driver Driver, class Clock>
void core<Driver, Clock>::release_after_close(lock_type& lk, slot_type& s) noexcept {
  connection c = std::move(*s.conn);  // a leased slot holds one
  s.conn.reset();
  book_.move(s, slot_state::empty);
  s.why = discard_reason::closed;
  discarded(s, clock_.now());
  // Counted as blocked while it closes and delivers outside the lock, so
  // that orphan() cannot delete the core under it.
  ++blocked_;
  detail::notify_all(drained_cv_);
  lk.unlock();
  driver_.close(c);
  deliver_events();  // housekeeping has stopped
  lk.lock();
  --blocked_;
  const bool last = orphaned_ && book_.in_use() == 0 && blocked_ == 0;
  detail::notify_all(drained_cv_);
  lk.unlock();
  if (last) delete this;
}

template <driver Driver, class Clock>
absl::Status core<Driver, Clock>::shutdown(std::chrono::nanoseconds grace) {
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = saturating_add(started, grace);
  std::vector<holder> outstanding;
  {
    lock_type lk(lock_);
    if (!closed_) {
      closed_ = true;
      while (!waiters_.empty()) {
        waiter_type& w = waiters_.front();
        waiters_.pop_front();
        w.failure = pool_closed_error(options_.name);
        detail::notify_all(w.cv);
      }
      set_contended();  // from here a checkin takes the lock, and sees closed_
    }
    unkeep_all(clock_.now());  // connections kept by threads are idle: closed below
    while (book_.in_use() > 0 && std::chrono::steady_clock::now() < deadline)
      drained_cv_.wait_until(lk, deadline);
    const time_point now = clock_.now();
    for (std::size_t i = 0; i < options_.max_size; ++i)
      if (slots_[i].state == slot_state::leased)
        outstanding.push_back({slots_[i].site, now - slots_[i].leased_at});
  }
  stop_housekeeper();
  close_all_unleased();
  if (outstanding.empty()) return absl::OkStatus();
  lock_type lk(lock_);
  return shutdown_incomplete_error(counts(), std::chrono::steady_clock::now() - started,
                                   outstanding);
}

template <driver Driver, class Clock>
void core<Driver, Clock>::orphan(core* c) noexcept {
  (void)c->shutdown(std::chrono::nanoseconds::zero());
  lock_type lk(c->lock_);
  // Failed waiters still have to wake up and leave before the core can go.
  while (c->blocked_ > 0) c->drained_cv_.wait(lk);
  c->orphaned_ = true;
  const bool last = c->book_.in_use() == 0;
  lk.unlock();
  if (last) delete c;
}

template <driver Driver, class Clock>
sandpool::metrics core<Driver, Clock>::snapshot() const {
  lock_type lk(lock_);
  sandpool::metrics m;
  m.size = book_.open();
  const std::size_t kept = kept_count();
  const std::uint64_t kept_served = kept_checkouts();
  m.idle = book_.idle_count() + kept;
  m.in_use = book_.in_use() - kept;
  m.waiting = waiters_.size();
  m.connecting = book_.connecting();
  m.max_in_use = book_.max_in_use();
  histogram waits = wait_hist_;
  waits.record_zero(kept_served);  // served from a thread's keep: no wait
  m.wait_p50 = waits.quantile(0.50);
  m.wait_p95 = waits.quantile(0.95);
  m.wait_p99 = waits.quantile(0.99);
  m.checkouts = checkouts_ + kept_served;
  m.kept_checkouts = kept_served;
  m.timeouts = timeouts_;
  m.drops = drops_;
  m.connects = connects_;
  m.connect_failures = connect_failures_;
  m.discarded = discarded_;
  m.discarded_by = discarded_by_;
  m.refused = refused_;
  m.max_size = options_.max_size;
  m.wait_time = wait_buckets_;
  m.wait_time.counts[0] += kept_served;
  m.wait_time.count += kept_served;
  m.hold_time = hold_hist_;
  m.connect_time = connect_hist_;
  m.resets = resets_;
  m.validation_failures = validation_failures_;
  return m;
}

}  // namespace sandpool::detail

#pragma GCC visibility pop
