// Pure decisions about how many connections to open and when to retry. No
// state, no clock: the core feeds in counts and instants, so these rules are
// unit-tested directly.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

struct pool_counts {
  std::size_t open = 0;        // slots holding a connection
  std::size_t connecting = 0;  // opens in flight
  std::size_t idle = 0;        // ready for checkout
  std::size_t waiting = 0;     // callers queued
  std::size_t min_idle = 0;
  std::size_t max_size = 0;
};

// How many new connections to start opening now: enough to serve every
// waiter not already covered by an open in flight, and to keep min_idle idle
// connections, never past max_size.
constexpr std::size_t connections_to_open(const pool_counts& c) noexcept {
  const std::size_t for_waiters = c.waiting > c.connecting ? c.waiting - c.connecting : 0;
  const std::size_t ready = c.idle + c.connecting;
  const std::size_t for_idle = c.min_idle > ready ? c.min_idle - ready : 0;
  const std::size_t used = c.open + c.connecting;
  const std::size_t room = c.max_size > used ? c.max_size - used : 0;
  return std::min(std::max(for_waiters, for_idle), room);
}

// Delay before the next connect attempt after `failures` consecutive
// failures: min × 2^(failures-1), capped at max, scaled by a jitter factor in
// [0.5, 1.0] derived from `jitter` in [0, 1).
constexpr std::chrono::nanoseconds reconnect_delay(
    unsigned failures, std::chrono::nanoseconds min, std::chrono::nanoseconds max,
    double jitter) noexcept {
  if (failures == 0) return std::chrono::nanoseconds::zero();
  auto delay = min;
  for (unsigned i = 1; i < failures && delay < max; ++i) delay = delay > max / 2 ? max : delay * 2;
  delay = std::min(delay, max);
  const double scale = 0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0);
  return std::chrono::nanoseconds(
      static_cast<std::chrono::nanoseconds::rep>(static_cast<double>(delay.count()) * scale));
}

}  // namespace sandpool::detail

#pragma GCC visibility pop
