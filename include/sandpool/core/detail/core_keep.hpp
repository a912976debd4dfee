// The thread's keep: a lock-free checkout and checkin for the common case
// of a thread that returns a clean connection and soon wants one again.
//
// At checkin, with no caller queued, the returning thread marks its slot
// `kept` instead of taking the lock; its next checkout clears the mark and
// has the same connection back (the thread remembers it: affinity.hpp).
// Neither writes anything but the slot's own cache line, and neither reads
// the clock: they use the time a locked path or housekeeping last read
// (recent_now()). Clearing the mark with an exchange is what claims a kept
// slot, so the keeping thread, a caller that would otherwise queue
// (steal_kept) and housekeeping (unkeep_all, every round) can race for it
// and exactly one wins.
//
// A queued caller is never passed over: a checkin marks its slot and then
// reads `contended`; a caller about to queue sets `contended` and then looks
// for marked slots (both sequentially consistent), so at least one of them
// sees the other and the connection goes through the lock to the first in
// the queue.
//
// The book counts a kept slot as leased; counts() and snapshot() count it as
// idle. Housekeeping takes every kept slot back to the idle list each round,
// so lifetime, idle timeout and validation keep working unchanged: while
// any connection is open a round is due at least every half
// validation_bypass (at most a second apart), so no connection stays kept
// long enough to need validating; if housekeeping is late, the claiming
// thread validates the connection itself. A lease served from the keep is
// counted as a checkout with no wait; its hold is not timed (that would take
// two clock reads), and diagnostics name the slot's last checkout through
// the lock as where it was checked out.
// Included by core.hpp only.
#pragma once

// The parent first, so this file also compiles alone; when the parent
// includes this file at its end, the parent's #pragma once makes this a no-op.
#include "sandpool/core/detail/core.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

// The lock-free checkout: the slot this thread kept, or null.
template <driver Driver, class Clock>
auto core<Driver, Clock>::take_kept() noexcept -> slot_type* {
  if (!keeps_) return nullptr;
  const std::ptrdiff_t own = affinity::recall(id_);
  if (own < 0) return nullptr;
  slot_type& s = slots_[static_cast<std::size_t>(own)];
  if (!s.kept.load(std::memory_order_relaxed) || !s.kept.exchange(false, std::memory_order_acquire))
    return nullptr;
  const time_point now = recent_now();
  const bool expired = now - s.created > options_.max_lifetime;
  if (!expired && now - s.last_used > options_.validation_bypass) [[unlikely]] {
    // Idle past the bypass window (housekeeping was late): this caller owns
    // the slot, so it checks the connection itself, outside the lock.
    if (driver_.validate(*s.conn).ok()) return served_from_keep(s);
    lock_type lk(lock_);
    if (closed_) {
      release_after_close(lk, s);
      return nullptr;
    }
    ++validation_failures_;
    doom(s, discard_reason::validation_failed);
    distrust_idle();
    return nullptr;  // take() goes on
  }
  if (expired) [[unlikely]] {
    lock_type lk(lock_);
    if (closed_) {
      release_after_close(lk, s);
    } else {
      doom(s, discard_reason::expired);
    }
    return nullptr;
  }
  return served_from_keep(s);
}

// Leased straight from the keep. leased_at and site keep the values of the
// slot's last checkout through the lock: readers under the lock
// (longest_held(), shutdown) read them, so only the lock may write them.
template <driver Driver, class Clock>
auto core<Driver, Clock>::served_from_keep(slot_type& s) noexcept -> slot_type* {
  s.from_keep.store(true, std::memory_order_relaxed);
  s.kept_checkouts.store(s.kept_checkouts.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
  return &s;
}

// The lock-free checkin of a clean connection; false if it must go through
// the lock (the caller then still holds the slot).
template <driver Driver, class Clock>
bool core<Driver, Clock>::keep(slot_type& s) noexcept {
  if (!keeps_ || shared_->contended.load(std::memory_order_relaxed)) return false;
  const time_point now = recent_now();
  if (now - s.created > options_.max_lifetime) return false;
  const std::size_t index = index_of(s);
  if (const std::ptrdiff_t held = affinity::recall(id_);
      held >= 0 && static_cast<std::size_t>(held) != index) {
    // This thread keeps another connection: it goes back to the shared idle
    // list, so that the thread keeps the one it returned last.
    slot_type& older = slots_[static_cast<std::size_t>(held)];
    if (older.kept.load(std::memory_order_relaxed) &&
        older.kept.exchange(false, std::memory_order_acquire))
      release_shared(&older, tx_status::idle, false);
  }
  s.last_used = now;
  if (!affinity::remember(id_, index, shared_)) return false;
  const bool from_keep = s.from_keep.exchange(false, std::memory_order_relaxed);
  // From here on another thread may own the slot, shut the pool down and
  // free the core: only the shared block, kept alive by this thread's
  // affinity entry, is touched.
  slot_array<slot_type>* const shared = shared_.get();
  s.kept.store(true, std::memory_order_seq_cst);
  if (!shared->contended.load(std::memory_order_seq_cst)) [[likely]] return true;
  // A caller queued (or the pool closed) meanwhile: it gets the connection
  // through the lock, unless someone has claimed it already.
  if (!s.kept.exchange(false, std::memory_order_acq_rel)) return true;
  s.from_keep.store(from_keep, std::memory_order_relaxed);  // ours again: untimed as before
  return false;
}

// A kept slot just claimed goes to the first waiter or the idle list, keeping
// its recorded last use; true if it did. Under the lock.
template <driver Driver, class Clock>
bool core<Driver, Clock>::unkeep(slot_type& s, time_point now) noexcept {
  if (closed_) {
    doom(s, discard_reason::closed);
    detail::notify_all(drained_cv_);  // shutdown waits for in_use to drop
    return false;
  }
  if (now - s.created > options_.max_lifetime) {
    doom(s, discard_reason::expired);
    return false;
  }
  make_available(s, now);
  return true;
}

// Claims up to `limit` kept slots back: every one for housekeeping and
// shutdown, one for a caller that has just queued (and set `contended`).
// Under the lock. The loads are sequentially consistent: a checkin that
// marked its slot and then missed `contended` has its mark seen here.
template <driver Driver, class Clock>
void core<Driver, Clock>::claim_kept(time_point now, std::size_t limit) noexcept {
  for (std::size_t i = 0; i < options_.max_size && limit > 0; ++i) {
    slot_type& s = slots_[i];
    if (s.state == slot_state::leased && s.kept.load(std::memory_order_seq_cst) &&
        s.kept.exchange(false, std::memory_order_acquire) && unkeep(s, now))
      --limit;
  }
}

// Under the lock.
template <driver Driver, class Clock>
std::size_t core<Driver, Clock>::kept_count() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < options_.max_size; ++i)
    n += slots_[i].state == slot_state::leased && slots_[i].kept.load(std::memory_order_relaxed);
  return n;
}

template <driver Driver, class Clock>
std::uint64_t core<Driver, Clock>::kept_checkouts() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < options_.max_size; ++i)
    n += slots_[i].kept_checkouts.load(std::memory_order_relaxed);
  return n;
}

}  // namespace sandpool::detail

#pragma GCC visibility pop
