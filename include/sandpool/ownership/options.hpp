// Options, results and observations of the ownership layer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "sandpool/core/options.hpp"
#include "sandpool/ownership/owner.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// Expected outcomes of an explicit checkout: values, not errors.
enum class checkout_result {
  checked_out,      // the caller now owns a connection
  already_owner,    // it already owned one; nothing changed
  already_allowed,  // it is allowed on (or shares) an owner's connection
};

// Expected outcomes of allow().
enum class allow_result {
  allowed,          // `other` now uses the owner's connection
  already_allowed,  // it already did
  already_owner,    // `other` is that owner
};

struct allow_options {
  // Move `other` off the connection it is allowed on instead of failing.
  bool unallow_existing = false;
};

// An ownership event, for the optional log callback.
struct ownership_event {
  enum class kind {
    checkout,  // an owner checked out
    checkin,   // an owner checked in
    allow,     // a caller was allowed on an owner's connection
    unallow,   // an allowance was removed
    reclaim,   // an owner ended; its connection was rolled back and returned
    warning,   // an owner is close to its ownership_timeout
    timeout,   // the reaper took a connection back
    mode,      // the mode changed
  };
  kind what;
  owner_id owner = 0;  // the owner concerned
  std::string text;    // a readable one-line description
};

struct ownership_options {
  // How long an owner may hold a connection before the reaper takes it back.
  // sandpool::infinite disables the reaper entirely.
  nanoseconds ownership_timeout = seconds(120);
  // If set, a warning event fires this long before the timeout.
  nanoseconds warn_before = nanoseconds::zero();
  // Receives every ownership event. Runs under the ownership lock: it must
  // not call back into the pool.
  std::function<void(const ownership_event&)> on_event;
};

struct ownership_metrics {
  std::size_t owners = 0;       // owners holding a connection now
  std::size_t allowances = 0;   // callers allowed on an owner now
  std::uint64_t checkouts = 0, checkins = 0, allows = 0, unallows = 0;
  std::uint64_t reclaims = 0;   // owners that ended holding a connection
  std::uint64_t timeouts = 0;   // connections taken back by the reaper
  std::uint64_t mode_switches = 0;
  std::uint64_t turn_waits = 0;     // turns that had to queue
  std::uint64_t turn_timeouts = 0;  // turn waits that gave up
};

// A captured ownership context: lets a thread or fiber that does not exist
// yet use the capturing owner's connection (adopt() it in the child).
struct ownership_context {
  owner_id owner = 0;
};

}  // namespace sandpool

#pragma GCC visibility pop
