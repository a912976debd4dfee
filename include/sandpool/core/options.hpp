// Pool options. Every field has a production default; validate() rejects
// values that make no sense with a message naming the option, the value and
// the fix, so a bad configuration fails at pool creation, not under load.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "sandpool/core/events.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// An option that may be switched off takes this value.
inline constexpr nanoseconds infinite = nanoseconds::max();

// Who runs housekeeping (connecting, resetting, closing, eviction).
enum class housekeeping {
  thread,  // a pool-owned thread hosting a Boost.Fiber scheduler (production)
  manual,  // nobody: the owner calls maintain() (deterministic unit tests)
};

// The largest max_size: PostgreSQL's own limit on backends (MAX_BACKENDS).
inline constexpr std::size_t max_pool_size = 262'143;

struct pool_options {
  // Names the pool in every message and metric.
  std::string name = "sandpool";
  // Upper bound on open connections: 1 to max_pool_size (262,143, the most
  // backends a PostgreSQL server can run; each slot is allocated at create).
  std::size_t max_size = 10;
  // Idle connections kept open ahead of demand (warm-up). At most max_size.
  std::size_t min_idle = 0;
  // How long checkout() waits for a connection before failing.
  nanoseconds checkout_timeout = seconds(5);
  // CoDel-style overload control, as DBConnection does it: when no checkout in
  // a whole queue_interval was served within queue_target, the pool counts as
  // overloaded and drops waiters that have waited longer than 2×queue_target.
  nanoseconds queue_target = milliseconds(50);
  nanoseconds queue_interval = seconds(1);
  // Idle connections above min_idle are closed after this long unused.
  nanoseconds idle_timeout = std::chrono::minutes(10);
  // Connections are closed (when idle) after this long open.
  nanoseconds max_lifetime = std::chrono::minutes(30);
  // A connection used more recently than this is handed out without a
  // liveness check; one idle longer is validated first. Zero validates always.
  // Once any connection comes back broken, every idle one is validated at
  // its next checkout regardless (a server restart breaks them all).
  nanoseconds validation_bypass = milliseconds(500);
  // A thread that returns a clean connection keeps it for its own next
  // checkout: that checkout and checkin take no lock and read no clock
  // (HikariCP's thread-local list). A queued caller still gets the
  // connection first, any caller that would otherwise queue takes a kept
  // one, and housekeeping takes them all back every round (a round runs at
  // least every half validation_bypass, at most a second apart, while any
  // connection is open). A lease
  // served this way is counted (metrics::kept_checkouts) but its hold is not
  // timed; false times every lease, and every checkout takes the lock.
  // Off while validation_bypass is zero, while activity export is on, and
  // under housekeeping::manual with a real clock (nothing would take kept
  // connections back on time).
  bool keep_per_thread = true;
  // Reconnect backoff: doubles from min to max per failed attempt, with
  // jitter in [50%, 100%] so a fleet of pools does not reconnect in step.
  nanoseconds reconnect_backoff_min = milliseconds(50);
  nanoseconds reconnect_backoff_max = seconds(5);
  // Default grace period for shutdown() to wait for outstanding leases.
  nanoseconds shutdown_timeout = seconds(10);
  // Zero (the default): create() returns at once and connections open in
  // the background. Above zero: create() also opens a first connection and
  // fails with the connect error if none opened within this time, at once
  // for an error waiting cannot fix (wrong password, no such database);
  // HikariCP's initializationFailTimeout. Needs housekeeping::thread.
  nanoseconds initial_connect_timeout = nanoseconds::zero();
  housekeeping housekeeper = housekeeping::thread;
  // Receives the pool's events (sandpool/core/events.hpp), oldest first,
  // within one housekeeping round on the housekeeping thread (in maintain()
  // under housekeeping::manual; after shutdown, on the thread that closes
  // the connection); with the libpq driver, also the server's notices, on
  // the thread that ran the statement, instead of libpq's default of
  // printing them to stderr. May be called from several threads at once.
  // Unset: no events.
  event_hook on_event = {};

  // Ok, or InvalidArgument naming the first bad option and how to fix it.
  [[nodiscard]] absl::Status validate() const;
};

}  // namespace sandpool

#pragma GCC visibility pop
