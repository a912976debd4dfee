// What a pool tells an operator as it happens: connections opened, failed
// and discarded (and why), checkouts shed, timed out or refused, resets that
// failed, and the server's notices. pool_options::on_event receives them,
// never under the pool core's lock (the option says on which thread); it
// must be quick and thread-safe, and an exception it throws is dropped. The
// string_views in an event are valid only during the call: copy what you
// keep. Metrics count the same events; the hook is for logs and alerts that
// need the reason.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string_view>

#include "absl/status/status.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

enum class pool_event_kind {
  connected,       // a connection was opened (duration: how long it took)
  connect_failed,  // opening one failed (status: why; duration: how long it took)
  discarded,       // a connection was closed (reason: why; duration: its age)
  shed,            // overload control failed a waiting checkout (status; duration: waited)
  timed_out,       // a checkout waited out its timeout (status; duration: waited)
  refused,         // a checkout failed at once: connecting fails in a way no wait fixes
  reset_failed,    // rolling back or resetting a returned connection failed (status)
  notice,          // the server sent a NOTICE or WARNING (notice)
};

// Why a connection was closed.
enum class discard_reason {
  broken,             // returned unusable, or lost while in use
  expired,            // older than max_lifetime
  idle,               // unused for idle_timeout, above min_idle
  validation_failed,  // found dead by the check before a checkout
  reset_failed,       // its rollback or session reset failed
  closed,             // the pool shut down
};
inline constexpr std::size_t discard_reason_count = 6;

constexpr std::string_view to_string(pool_event_kind k) noexcept {
  switch (k) {
    case pool_event_kind::connected: return "connected";
    case pool_event_kind::connect_failed: return "connect_failed";
    case pool_event_kind::discarded: return "discarded";
    case pool_event_kind::shed: return "shed";
    case pool_event_kind::timed_out: return "timed_out";
    case pool_event_kind::refused: return "refused";
    case pool_event_kind::reset_failed: return "reset_failed";
    case pool_event_kind::notice: return "notice";
  }
  return "unknown";
}

constexpr std::string_view to_string(discard_reason r) noexcept {
  switch (r) {
    case discard_reason::broken: return "broken";
    case discard_reason::expired: return "expired";
    case discard_reason::idle: return "idle";
    case discard_reason::validation_failed: return "validation_failed";
    case discard_reason::reset_failed: return "reset_failed";
    case discard_reason::closed: return "closed";
  }
  return "unknown";
}

// A server message that is not an error, as the server sent it.
struct server_notice {
  std::string_view severity;  // WARNING, NOTICE, INFO, LOG, DEBUG
  std::string_view sqlstate;  // e.g. 01000, 25P01
  std::string_view message;   // the primary message
};

struct pool_event {
  pool_event_kind kind;
  std::string_view pool;               // the pool's name
  absl::Status status;                 // the error, for the failure kinds
  discard_reason reason = discard_reason::broken;  // for discarded
  std::chrono::nanoseconds duration{};  // see pool_event_kind
  server_notice notice{};              // for notice
};

using event_hook = std::function<void(const pool_event&)>;
// Where a driver that can sends the server's notices.
using notice_sink = std::function<void(const server_notice&)>;

namespace detail {
// Runs the hook, dropping what it throws (housekeeping must go on).
inline void deliver(const event_hook& hook, const pool_event& e) noexcept {
  if (!hook) return;
  try {
    hook(e);
  } catch (...) {  // NOLINT(bugprone-empty-catch): documented: dropped
  }
}
}  // namespace detail

}  // namespace sandpool

#pragma GCC visibility pop
