// What the ownership registry asks its caller to do. The registry decides
// under the ownership lock and calls nothing outside itself; its caller (the
// ownership shell) runs these effects. Turn grants and failures are applied
// before the lock is released (a waiter may leave as soon as it is free);
// everything else runs after, and an effect on a connection that runs
// outside the lock reports back (revoked(), returned()) so the registry
// knows when nothing refers to that connection any more.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "sandpool/ownership/options.hpp"
#include "sandpool/ownership/owner.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

using conn_id = std::uint64_t;    // one checkout's connection; never reused, 0 is none
using waiter_id = std::uintptr_t; // a queued turn waiter, named by its caller

struct effect {
  enum class kind : std::uint8_t {
    grant,      // `waiter` now holds the turn on `conn` (under the lock)
    fail,       // `waiter`'s turn wait fails with `status` (under the lock)
    revoke,     // refuse statements on `conn` with `status`; `cancel`: cancel the
                // one running with `text` as the reason, `wait`: then wait a
                // bounded time for it to end; report revoked()
    give_back,  // return `conn` to the pool, closed if `discard`, after the
                // decorator's checkin if `checkin`; report returned()
    drop,       // free `conn`'s handle: no lease, waiter or effect refers to it
    event,      // report `text` to on_event as `event` about `owner`
    reaper,     // host the reaper (first deadline) or wake it (an earlier one)
  };
  explicit effect(kind k) noexcept : what(k) {}

  kind what;
  conn_id conn = 0;
  waiter_id waiter = 0;
  owner_id owner = 0;
  ownership_event::kind event = ownership_event::kind::checkout;
  bool cancel = false, wait = false, discard = false, checkin = false;
  absl::Status status;
  std::string text;
};

using effects = absl::InlinedVector<effect, 4>;

// What the shell found when it ran a revoke effect.
enum class revoke_report : std::uint8_t {
  idle,     // no statement runs: the connection may be returned now
  busy,     // a statement still runs (cancelled if asked): try again later
  ungated,  // the connection has no statement gate: wait for the lease to end
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
