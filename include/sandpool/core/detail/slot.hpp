// One place in the pool. A slot is a small state machine with no I/O in it:
// the core moves it between states under the pool lock (slot_book::move), and whoever moved it
// into a "busy" state (connecting, resetting, closing) does the I/O outside
// the lock and then moves it on. Slots live for the pool's lifetime, so the
// idle list and leases can point at them.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include <boost/intrusive/list_hook.hpp>

#include "sandpool/core/detail/activity_recorder.hpp"
#include "sandpool/core/events.hpp"
#include "sandpool/core/source_location.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

enum class slot_state : std::uint8_t {
  empty,       // no connection; may be opened once retry_at has passed
  connecting,  // housekeeping is opening a connection for it
  idle,        // on the idle list, ready for checkout
  leased,      // held by a lease
  dirty,       // returned inside a transaction; waits for a reset
  resetting,   // housekeeping is rolling it back
  doomed,      // must be closed: broken, expired, evicted or pool closed
  closing,     // housekeeping is closing it
};

// Auto-unlinking is not used: a slot leaves the idle list only under the
// pool lock, and the list's constant-time size feeds the metrics.
// A slot has its cache line to itself: the thread that keeps it writes it
// without the lock (core_cache.hpp), and must not slow its neighbours.
template <class Connection, class TimePoint>
struct alignas(64) slot : boost::intrusive::list_base_hook<> {
  std::optional<Connection> conn;
  slot_state state = slot_state::empty;
  TimePoint created{};     // when the connection was opened
  TimePoint last_used{};   // when it was last returned clean
  TimePoint leased_at{};   // when the current lease began
  TimePoint retry_at{};    // earliest next connect attempt (after a failure)
  unsigned failed_attempts = 0;  // consecutive connect failures
  // Validate before the next checkout even inside validation_bypass: a
  // connection came back broken while this one sat idle (a server restart
  // or a mass backend kill breaks them all).
  bool suspect = false;
  discard_reason why = discard_reason::broken;  // why it is doomed or closing
  source_location site{};   // where the current lease was checked out
  activity_stamp activity{};     // the current lease, when activity export is on
  // Kept by the thread that returned it, for that thread's next checkout
  // (core_cache.hpp). While set, the slot counts as leased in the book and
  // as idle in the metrics; whoever clears it (exchange) owns the slot.
  std::atomic<bool> kept{false};
  // Checkouts served from the thread's keep, counted by the one thread that
  // holds the slot at a time and summed by snapshot().
  std::atomic<std::uint64_t> kept_checkouts{0};
  // The current lease came from the keep: its leased_at and site are those
  // of the slot's last checkout through the lock, and its hold is not timed.
  std::atomic<bool> from_keep{false};

  bool holds_connection() const noexcept {
    return state != slot_state::empty && state != slot_state::connecting;
  }
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
