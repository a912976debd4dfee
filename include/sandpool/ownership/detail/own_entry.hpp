// One owner's checked-out connection and the turn-taking on it. Everyone
// using the connection (the owner, allowed callers, shared-mode callers)
// takes turns: one holder at a time, re-entrant for the holder, the rest
// queued FIFO. An entry outlives its ownership while a turn is active or a
// waiter is still leaving (pins), so a lease never points at freed memory.
// All fields are guarded by the ownership lock.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <boost/fiber/condition_variable.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set_hook.hpp>

#include "absl/status/status.h"
#include "sandpool/core/lease.hpp"
#include "sandpool/core/source_location.hpp"
#include "sandpool/ownership/owner.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

template <class TimePoint>
struct turn_waiter : boost::intrusive::list_base_hook<> {
  boost::fibers::condition_variable_any cv;
  owner_id caller = 0;
  source_location site{};
  TimePoint enqueued{}, deadline{};
  bool granted = false;
  absl::Status failure;
  bool done() const noexcept { return granted || !failure.ok(); }
};

template <class Lease, class TimePoint>
struct own_entry final : turn, boost::intrusive::set_base_hook<> {
  using end_turn_fn = void (*)(void* ownership, own_entry& e) noexcept;

  own_entry(void* ownership, end_turn_fn fn) : ownership_(ownership), end_turn_(fn) {}
  void end_turn() noexcept override { end_turn_(ownership_, *this); }

  owner_id owner = 0;
  std::string label;
  Lease conn;                      // the owner's lease on a pool connection
  source_location site{};     // where the owner checked out
  TimePoint since{}, deadline{};   // deadline is max when there is no timeout
  std::chrono::nanoseconds limit{};
  bool warned = false;
  // Turn state.
  owner_id holder = 0;             // who holds the turn (0: nobody)
  unsigned depth = 0;              // re-entrant turns of the holder
  source_location holder_site{};
  TimePoint holder_since{};
  boost::intrusive::list<turn_waiter<TimePoint>> waiters;  // FIFO
  unsigned pins = 0;               // waiters and the reaper still using the entry
  // End of ownership.
  bool ended = false;
  bool discard = false;            // close the connection instead of reusing it
  bool cancelled = false;          // the reaper cancelled a query in flight
  std::vector<owner_id> allowed;   // callers allowed on this connection

  friend bool operator<(const own_entry& a, const own_entry& b) noexcept {
    return a.deadline < b.deadline;
  }

 private:
  void* ownership_;
  end_turn_fn end_turn_;
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
