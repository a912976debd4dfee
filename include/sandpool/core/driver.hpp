// The driver concept: everything the pool core needs to know about a
// connection. The core never sends SQL itself; it asks the driver to connect,
// validate, reset, close and cancel, and reads the transaction status on
// checkin (which must not do I/O). Any database client that models this
// concept can be pooled without touching the core.
#pragma once

#include <concepts>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// What a connection reports about its session when it is returned.
enum class tx_status {
  idle,            // outside any transaction: safe to hand to the next caller
  active,          // a command is still in flight
  in_transaction,  // inside an open transaction block
  in_error,        // inside a failed transaction block
  broken,          // the connection is unusable and must be discarded
};

template <class D>
concept driver = requires(D& d, const D& cd, typename D::connection& c,
                          const typename D::connection& cc) {
  typename D::connection;
  requires std::movable<typename D::connection>;
  // Opens a new connection. Called off the caller's path (by housekeeping).
  { d.connect() } -> std::same_as<absl::StatusOr<typename D::connection>>;
  // Checks that a connection that sat idle is still alive.
  { d.validate(c) } -> std::same_as<absl::Status>;
  // Brings a dirty connection back to a clean session (rolls back).
  { d.reset(c) } -> std::same_as<absl::Status>;
  // Closes a connection; never throws, never blocks for long.
  { d.close(c) } noexcept;
  // Asks the server to cancel the command in flight on c. A driver may also
  // offer d.cancel(c, reason) (std::string reason): the command's error then
  // says why it was cancelled (the ownership reaper passes the timeout).
  { d.cancel(c) } -> std::same_as<absl::Status>;
  // Reads the session state without I/O; called on every checkin. A driver
  // may also offer `d.recycle(c) noexcept -> tx_status`, called instead on
  // the returning caller's thread: it may start a session reset without
  // waiting for it (a write, no round trip) and returns the state to judge
  // the connection by.
  { cd.transaction_status(cc) } noexcept -> std::same_as<tx_status>;
  // Names the target for messages, with any password removed.
  { cd.describe() } -> std::convertible_to<std::string>;
};

// Whether a sandbox decorator exists for D's connections, so that a checkout
// asking for a sandboxed connection (checkout_options::sandbox, the default)
// on a pool without one is a mistake to report, not a commit to allow. A
// driver says so with `static constexpr bool sandboxable = true;`.
template <class D>
inline constexpr bool sandboxable = requires { requires D::sandboxable; };

}  // namespace sandpool

#pragma GCC visibility pop
