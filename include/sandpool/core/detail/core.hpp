// The pool core: slots, the intrusive LIFO idle list and the FIFO of
// waiters, generic over a driver and a clock. It knows nothing about
// ownership or SQL. Invariants, all guarded by lock_:
//  - a slot changes state only through book_.move(), which keeps the idle
//    list and the counts (slot_book.hpp);
//  - a waiter is on waiters_ exactly until it is granted a slot or failed.
// The fastest checkout takes no lock: a thread gets back the connection it
// kept at its last checkin (core_keep.hpp). Otherwise checkout takes the lock
// once and pops the idle head (the thread's own last connection first), no
// I/O, no allocation. Connecting, resetting and closing run in maintain(),
// outside the lock, on the housekeeping thread (or when a test calls it).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/intrusive/list.hpp>

#include "absl/status/statusor.h"
#include "sandpool/core/clock.hpp"
#include "sandpool/core/detail/activity_recorder.hpp"
#include "sandpool/core/detail/affinity.hpp"
#include "sandpool/core/detail/codel.hpp"
#include "sandpool/core/detail/deadline.hpp"
#include "sandpool/core/detail/event_queue.hpp"
#include "sandpool/core/detail/fiber_notify.hpp"
#include "sandpool/core/detail/histogram.hpp"
#include "sandpool/core/detail/messages.hpp"
#include "sandpool/core/detail/sizing.hpp"
#include "sandpool/core/detail/slot.hpp"
#include "sandpool/core/detail/slot_array.hpp"
#include "sandpool/core/detail/slot_book.hpp"
#include "sandpool/core/detail/spinlock.hpp"
#include "sandpool/core/detail/waiter.hpp"
#include "sandpool/core/driver.hpp"
#include "sandpool/core/metrics.hpp"
#include "sandpool/core/options.hpp"
#include "sandpool/core/source_location.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

template <driver Driver, class Clock>
class core {
 public:
  using driver_type = Driver;
  using connection = typename Driver::connection;
  using clock_type = Clock;
  using time_point = typename Clock::time_point;
  using slot_type = slot<connection, time_point>;
  using waiter_type = waiter<slot_type, time_point>;
  using lock_type = std::unique_lock<spinlock>;

  core(Driver d, pool_options o, Clock c)
      : driver_(std::move(d)),
        options_(std::move(o)),
        clock_(std::move(c)),
        shared_(std::make_shared<slot_array<slot_type>>(options_.max_size)),
        slots_(shared_->at.get()),
        rng_(std::random_device{}()),
        codel_(options_.queue_target, options_.queue_interval, clock_.now()),
        activity_(activity_recorder::from_environment(options_.name, options_.max_size)),
        keeps_(options_.keep_per_thread &&
               options_.validation_bypass > std::chrono::nanoseconds::zero() &&
               activity_ == nullptr &&
               (options_.housekeeper == housekeeping::thread || manual_time<Clock>)) {
    watch_fiber_scheduler();
    if (options_.housekeeper == housekeeping::thread)
      housekeeper_ = std::thread([this] { housekeeping_thread(); });
  }
  core(const core&) = delete;
  core& operator=(const core&) = delete;

  const pool_options& options() const noexcept { return options_; }
  const Driver& driver_ref() const noexcept { return driver_; }
  const Clock& clock() const noexcept { return clock_; }

  // Hands the caller a leased slot: from the idle list if one is there,
  // otherwise after queueing FIFO until one is returned or opened. With
  // overload::wait the caller is never shed, only timed out.
  absl::StatusOr<slot_type*> acquire(std::chrono::nanoseconds timeout,
                                     source_location site,
                                     overload on_overload = overload::shed) {
    if (activity_ == nullptr) [[likely]] {
      if (slot_type* kept = take_kept()) [[likely]] return kept;
      return take(timeout, site, on_overload);
    }
    activity_stamp stamp{activity_recorder::now_ns(), 0, activity_recorder::current_label()};
    absl::StatusOr<slot_type*> s = take(timeout, site, on_overload);
    stamp.granted_ns = activity_recorder::now_ns();
    if (s.ok()) {
      (*s)->activity = stamp;
    } else {
      activity_->failed(stamp, stamp.granted_ns, s.status());
    }
    return s;
  }

  // The session state of a leased slot's connection, without I/O.
  tx_status status_of(const slot_type* s) const noexcept {
    return driver_.transaction_status(*s->conn);
  }
  // Asks the server to cancel the command running on a leased slot; its
  // error says `reason` where the driver supports that.
  absl::Status cancel(slot_type* s, std::string reason = {}) {
    if constexpr (requires { driver_.cancel(*s->conn, std::move(reason)); }) {
      if (!reason.empty()) return driver_.cancel(*s->conn, std::move(reason));
    }
    return driver_.cancel(*s->conn);
  }

  // Takes a leased slot back. A clean connection goes to the first waiter
  // or the idle head; a dirty or broken one is left for housekeeping, so the
  // next caller never gets it dirty and the returning caller waits for no
  // I/O (a driver's recycle() may queue a session reset: a write, no wait).
  // A clean connection with no caller queued is kept by the returning
  // thread instead, without the lock (core_keep.hpp).
  void release(slot_type* s, bool discard = false) noexcept {
    const tx_status status = discard ? tx_status::broken : returned_status(*s->conn);
    if (status == tx_status::idle && keep(*s)) [[likely]] return;
    release_shared(s, status, true, discard);
  }

  // One round of housekeeping; returns when the next round is due. Under
  // housekeeping::manual it also runs the hosted tasks.
  time_point maintain() {
    time_point due = maintain_pool();
    if (options_.housekeeper == housekeeping::manual) {
      std::vector<task> tasks;
      {
        lock_type lk(lock_);
        tasks = tasks_;
      }
      for (task& t : tasks) due = std::min(due, t(clock_.now()));
    }
    return due;
  }

  // Timed housekeeping hosted beside the pool's own (the ownership reaper):
  // runs one round at `now` and returns when it is next due.
  using task = std::function<time_point(time_point now)>;

  // Runs `t` as its own fiber on the housekeeping thread until shutdown, or
  // in every maintain() under housekeeping::manual. Thread-safe.
  void host(task t) {
    lock_type lk(lock_);
    tasks_.push_back(std::move(t));
    wake_housekeeper();
  }
  // Makes hosted tasks and housekeeping re-check their deadlines now.
  void wake() noexcept {
    lock_type lk(lock_);
    wake_housekeeper();
  }

  // Stops checkouts, fails waiters, closes idle connections and waits up to
  // `grace` for outstanding leases. Idempotent.
  absl::Status shutdown(std::chrono::nanoseconds grace);

  // Called by the owning handle's destructor: the core outlives the handle
  // while leases are out and deletes itself when the last one returns.
  static void orphan(core* c) noexcept;

  sandpool::metrics snapshot() const;

 private:
  struct work {
    std::vector<slot_type*> close, reset, connect;
  };

  // Takes a leased slot back through the lock (core_checkout.hpp).
  // `returned` is false for a slot handed on from a thread's keep: its
  // hold was not timed and its last use is already recorded.
  void release_shared(slot_type* s, tx_status status, bool returned,
                      bool discarded = false) noexcept;
  // acquire() without activity export, through the lock (core_checkout.hpp).
  absl::StatusOr<slot_type*> take(std::chrono::nanoseconds timeout, source_location site,
                                  overload on_overload);
  // The thread's keep (core_keep.hpp): the lock-free checkout and checkin;
  // taking kept slots back (unkeep and below) runs under the lock.
  slot_type* take_kept() noexcept;
  slot_type* served_from_keep(slot_type& s) noexcept;
  bool keep(slot_type& s) noexcept;
  bool unkeep(slot_type& s, time_point now) noexcept;
  void claim_kept(time_point now, std::size_t limit) noexcept;
  void unkeep_all(time_point now) noexcept { claim_kept(now, options_.max_size); }
  void steal_kept(time_point now) noexcept { claim_kept(now, 1); }
  std::size_t kept_count() const noexcept;
  std::uint64_t kept_checkouts() const noexcept;
  // The time the lock-free paths use instead of reading the clock: the last
  // instant a locked path or housekeeping read (exact under a manual clock).
  time_point recent_now() const noexcept {
    if constexpr (manual_time<Clock>) {
      return clock_.now();
    } else {
      return time_point(typename Clock::duration(recent_.load(std::memory_order_relaxed)));
    }
  }
  void note_time(time_point now) noexcept {
    const auto t = now.time_since_epoch().count();
    if (recent_.load(std::memory_order_relaxed) != t)
      recent_.store(t, std::memory_order_relaxed);
  }
  // Publishes whether a checkin must take the lock. Under the lock, after
  // every change to the waiters or to closed_. Only setting it must be
  // sequentially consistent (core_keep.hpp); a checkin that sees it set a
  // little too long just takes the lock.
  void set_contended() noexcept {
    std::atomic<bool>& flag = shared_->contended;
    const bool want = closed_ || !waiters_.empty();
    if (flag.load(std::memory_order_relaxed) == want) return;
    flag.store(want, want ? std::memory_order_seq_cst : std::memory_order_release);
  }
  std::size_t index_of(const slot_type& s) const noexcept { return std::size_t(&s - slots_); }

  time_point maintain_pool();
  void run_hosted(task t);
  absl::StatusOr<slot_type*> wait(lock_type& lk, time_point now,
                                  std::chrono::nanoseconds timeout, source_location site,
                                  overload on_overload);
  // Whether connecting fails with an error no wait will fix (a wrong
  // password, an unknown database or role, a malformed option; not an
  // unreachable or busy server) and nothing is open. Waiters then fail at
  // once with that error instead of waiting out checkout_timeout. Under the
  // lock.
  bool refused_permanently() const noexcept {
    if (book_.open() != 0 || connect_failures_in_row_ == 0) return false;
    switch (last_connect_error_.code()) {
      case absl::StatusCode::kPermissionDenied:
      case absl::StatusCode::kUnauthenticated:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kInvalidArgument:
        return true;
      default:
        return false;
    }
  }
  // Whether overload control sheds waiters now: while overloaded, except in
  // an outage (nothing open and connects failing), when the queue stands
  // because the server is unreachable, not because of load, and waiters time
  // out with the connect error instead. Under the lock.
  bool sheds_now() const noexcept {
    return codel_.overloaded() && !(book_.open() == 0 && connect_failures_in_row_ > 0);
  }
  // The oldest waiter overload control may shed, or null.
  const waiter_type* oldest_sheddable() const noexcept {
    for (const waiter_type& w : waiters_)
      if (w.on_overload == overload::shed) return &w;
    return nullptr;
  }
  void collect(time_point now, work& w);
  void fail_waiters(time_point now);
  void fail_all_waiters(const absl::Status& why);
  time_point next_due(time_point now) const;
  void release_after_close(lock_type& lk, slot_type& s) noexcept;
  void housekeeping_thread();
  void stop_housekeeper();
  void close_all_unleased();

  // The state a returned connection is judged by; a driver that resets
  // sessions starts the reset here (without waiting for it).
  tx_status returned_status(connection& c) noexcept;
  void lease(slot_type& s, time_point now, source_location site) noexcept {
    book_.move(s, slot_state::leased);
    s.leased_at = now;
    s.site = site;
  }
  void served(std::chrono::nanoseconds delay) noexcept {
    ++checkouts_;
    wait_hist_.record(delay);
    wait_buckets_.record(delay);
    codel_.served(delay);
  }
  void make_available(slot_type& s, time_point now) noexcept {
    if (waiters_.empty()) {
      book_.move(s, slot_state::idle);
      return;
    }
    waiter_type& w = waiters_.front();
    waiters_.pop_front();
    set_contended();
    lease(s, now, w.site);
    served(now - w.enqueued);
    w.granted = &s;
    // Notified under the lock: the waiter cannot return (and destroy its cv)
    // before it re-acquires the lock.
    detail::notify_all(w.cv);
  }
  // A connection was found broken: the idle ones may share its fate.
  void distrust_idle() noexcept {
    unkeep_all(clock_.now());
    book_.for_each_idle([](slot_type& s) { s.suspect = true; });
  }
  void doom(slot_type& s, discard_reason why) noexcept {
    book_.move(s, slot_state::doomed);
    s.why = why;
    wake_housekeeper();
  }
  // A connection is gone: counted, and told to the event hook. Under the lock.
  void discarded(const slot_type& s, time_point now) noexcept;
  // Queues an event for the hook, which housekeeping runs outside the lock.
  // Under the lock.
  void note(pool_event e) noexcept {
    if (!options_.on_event) return;
    e.pool = options_.name;
    if (events_.push(std::move(e))) wake_housekeeper();
  }
  // Runs the hook on the queued events. Not under the lock.
  void deliver_events() noexcept {
    std::vector<pool_event> out;
    {
      lock_type lk(lock_);
      out = events_.take();
    }
    for (const pool_event& e : out) detail::deliver(options_.on_event, e);
  }
  void wake_housekeeper() noexcept {
    hk_pending_ = true;
    ++wakes_;
    detail::notify_all(hk_cv_);  // the maintenance fiber and hosted task fibers
  }
  // Kept slots count as idle, not in use. Under the lock.
  pool_snapshot counts() const noexcept {
    const std::size_t kept = kept_count();
    return {options_.name,   book_.open(),       book_.in_use() - kept, book_.idle_count() + kept,
            waiters_.size(), book_.connecting(), options_.max_size};
  }
  const slot_type* longest_held() const noexcept {
    const slot_type* best = nullptr;
    for (std::size_t i = 0; i < options_.max_size; ++i) {
      const slot_type& s = slots_[i];
      if (s.state == slot_state::leased && !s.kept.load(std::memory_order_relaxed) &&
          !s.from_keep.load(std::memory_order_relaxed) &&
          (!best || s.leased_at < best->leased_at))
        best = &s;
    }
    return best;
  }

  Driver driver_;
  const pool_options options_;
  Clock clock_;
  mutable spinlock lock_;  // guards the slots, the idle list, the waiters, the counters
  const std::uint64_t id_ = affinity::next_pool_id();
  std::shared_ptr<slot_array<slot_type>> shared_;  // the slots, shared with keeping threads
  slot_type* const slots_;
  // recent_now()'s reading, in its own cache line: the lock's is written at
  // every locked checkout.
  alignas(64) std::atomic<typename Clock::rep> recent_{0};
  slot_book<slot_type> book_;  // the idle list (LIFO) and the slot counts
  boost::intrusive::list<waiter_type> waiters_;  // FIFO
  std::size_t blocked_ = 0;  // callers inside the core after it closed
  bool closed_ = false, orphaned_ = false;
  // Reconnect backoff is pool-wide: one failing server, one schedule.
  unsigned connect_failures_in_row_ = 0;
  time_point retry_at_{};
  absl::Status last_connect_error_;
  std::minstd_rand rng_;
  codel<time_point> codel_;
  histogram wait_hist_;
  duration_histogram wait_buckets_, hold_hist_, connect_hist_;
  event_queue events_;  // for the hook
  // Null unless SANDPOOL_METRICS_EXPORT is set (sandpool/core/activity.hpp).
  std::unique_ptr<activity_recorder> activity_;
  // Whether threads keep connections (pool_options::keep_per_thread): not
  // when every checkout validates or activity export times every lease.
  const bool keeps_;
  std::uint64_t checkouts_ = 0, timeouts_ = 0, drops_ = 0, connects_ = 0,
                connect_failures_ = 0, discarded_ = 0, resets_ = 0, validation_failures_ = 0,
                refused_ = 0;
  std::array<std::uint64_t, discard_reason_count> discarded_by_{};
  // Wakes shutdown() and orphan() as leases return and waiters leave.
  boost::fibers::condition_variable_any drained_cv_;
  // Housekeeping thread.
  boost::fibers::condition_variable_any hk_cv_;
  bool hk_pending_ = true;  // warm-up runs at start
  std::uint64_t wakes_ = 0;  // wake_housekeeper() calls, so hosted tasks miss none
  bool hk_stop_ = false;
  std::vector<task> tasks_;
  std::size_t tasks_started_ = 0;  // hosted tasks running as fibers
  std::thread housekeeper_;
};

}  // namespace sandpool::detail

#include "sandpool/core/detail/core_checkout.hpp"
#include "sandpool/core/detail/core_keep.hpp"
#include "sandpool/core/detail/core_maintain.hpp"
#include "sandpool/core/detail/core_shutdown.hpp"

#pragma GCC visibility pop
