// A point-in-time copy of a pool's gauges and counters. Taking one locks the
// pool briefly; the hot path never pays for metrics beyond plain increments
// under the lock it already holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

struct metrics {
  // Gauges.
  std::size_t size = 0;        // open connections (idle + in use + being reset)
  std::size_t idle = 0;        // connections ready for checkout
  std::size_t in_use = 0;      // connections leased to callers
  std::size_t waiting = 0;     // callers queued for a connection
  std::size_t connecting = 0;  // connections being opened
  std::size_t max_in_use = 0;  // high-water mark of in_use since creation
  // Checkout wait (zero for a checkout served from the idle list).
  std::chrono::nanoseconds wait_p50{};
  std::chrono::nanoseconds wait_p95{};
  std::chrono::nanoseconds wait_p99{};
  // Counters since creation.
  std::uint64_t checkouts = 0;         // successful checkouts
  std::uint64_t timeouts = 0;          // checkouts that hit checkout_timeout
  std::uint64_t drops = 0;             // checkouts shed by overload control
  std::uint64_t connects = 0;          // connections opened
  std::uint64_t connect_failures = 0;  // failed attempts to open one
  std::uint64_t discarded = 0;         // connections closed: broken, expired, evicted
  std::uint64_t resets = 0;            // dirty returns rolled back and reused
  std::uint64_t validation_failures = 0;  // idle connections found dead

  // One line, for logs.
  std::string to_string() const;
};

}  // namespace sandpool

#pragma GCC visibility pop
