// A point-in-time copy of a pool's gauges, counters and histograms. Taking
// one locks the pool briefly; the hot path never pays for metrics beyond
// plain increments under the lock it already holds.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "sandpool/core/events.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// Durations counted into fixed buckets, the same in every pool and every
// process, so that buckets add up across instances (Prometheus histograms).
// counts[i] holds samples in (bounds[i-1], bounds[i]]; the last entry those
// above every bound (+Inf).
struct duration_histogram {
  static constexpr std::array<std::int64_t, 21> bounds_ns = {
      10'000,      25'000,      50'000,      100'000,       250'000,       500'000,
      1'000'000,   2'500'000,   5'000'000,   10'000'000,    25'000'000,    50'000'000,
      100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000,
      10'000'000'000, 30'000'000'000, 60'000'000'000};

  std::array<std::uint64_t, bounds_ns.size() + 1> counts{};
  std::uint64_t count = 0;
  std::chrono::nanoseconds sum{};  // saturates instead of wrapping

  void record(std::chrono::nanoseconds d) noexcept {
    const std::int64_t ns = d.count() < 0 ? 0 : d.count();
    const auto at = std::lower_bound(bounds_ns.begin(), bounds_ns.end(), ns);
    ++counts[static_cast<std::size_t>(at - bounds_ns.begin())];
    ++count;
    sum = ns > std::chrono::nanoseconds::max().count() - sum.count()
              ? std::chrono::nanoseconds::max()
              : sum + std::chrono::nanoseconds(ns);
  }
};

struct metrics {
  // Gauges.
  std::size_t size = 0;        // open connections (idle + in use + being reset)
  std::size_t idle = 0;        // connections ready for checkout
  std::size_t in_use = 0;      // connections leased to callers
  std::size_t waiting = 0;     // callers queued for a connection
  std::size_t connecting = 0;  // connections being opened
  // High-water mark of in_use since creation. A connection a thread keeps
  // between its own checkouts (at most one per thread and pool) counts as
  // in use here, though `idle` and `in_use` count it as idle.
  std::size_t max_in_use = 0;
  std::size_t max_size = 0;    // the pool's limit (pool_options::max_size)
  // Checkout wait (zero for a checkout served from the idle list), within
  // 19% of the true value.
  std::chrono::nanoseconds wait_p50{};
  std::chrono::nanoseconds wait_p95{};
  std::chrono::nanoseconds wait_p99{};
  // Counters since creation.
  std::uint64_t checkouts = 0;         // successful checkouts
  // Of those, served from the caller's thread's kept connection without the
  // lock (pool_options::keep_per_thread); their holds are not timed.
  std::uint64_t kept_checkouts = 0;
  std::uint64_t timeouts = 0;          // checkouts that hit checkout_timeout
  std::uint64_t drops = 0;             // checkouts shed by overload control
  std::uint64_t refused = 0;           // checkouts failed at once: a connect error no wait fixes
  std::uint64_t connects = 0;          // connections opened
  std::uint64_t connect_failures = 0;  // failed attempts to open one
  std::uint64_t discarded = 0;         // connections closed, for any reason
  std::array<std::uint64_t, discard_reason_count> discarded_by{};  // by discard_reason
  std::uint64_t resets = 0;            // dirty returns rolled back and reused
  std::uint64_t validation_failures = 0;  // idle connections found dead
  // Histograms since creation.
  duration_histogram wait_time;     // checkout wait, of successful checkouts
  // Checkout to return, of every lease returned through the pool's lock: a
  // lease a thread serves from its own kept connection is not timed.
  duration_histogram hold_time;
  duration_histogram connect_time;  // opening a connection, successful or not

  std::uint64_t discarded_for(discard_reason r) const noexcept {
    return discarded_by[static_cast<std::size_t>(r)];
  }

  // One line, for logs.
  std::string to_string() const;
};

}  // namespace sandpool

#pragma GCC visibility pop
