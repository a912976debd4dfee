// The pure sizing rules: how many connections to open, and the reconnect
// backoff schedule.
#include <doctest/doctest.h>

#include "sandpool/core/detail/sizing.hpp"

using namespace sandpool::detail;
using namespace std::chrono_literals;

TEST_CASE("opens one connection per uncovered waiter, within max_size") {
  CHECK(connections_to_open({.open = 0, .connecting = 0, .idle = 0, .waiting = 3,
                             .min_idle = 0, .max_size = 10}) == 3);
  CHECK(connections_to_open({.open = 0, .connecting = 2, .idle = 0, .waiting = 3,
                             .min_idle = 0, .max_size = 10}) == 1);
  CHECK(connections_to_open({.open = 8, .connecting = 1, .idle = 0, .waiting = 5,
                             .min_idle = 0, .max_size = 10}) == 1);
  CHECK(connections_to_open({.open = 10, .connecting = 0, .idle = 0, .waiting = 5,
                             .min_idle = 0, .max_size = 10}) == 0);
}

TEST_CASE("keeps min_idle connections warm") {
  CHECK(connections_to_open({.open = 0, .connecting = 0, .idle = 0, .waiting = 0,
                             .min_idle = 4, .max_size = 10}) == 4);
  CHECK(connections_to_open({.open = 6, .connecting = 1, .idle = 2, .waiting = 0,
                             .min_idle = 4, .max_size = 10}) == 1);
  CHECK(connections_to_open({.open = 9, .connecting = 0, .idle = 0, .waiting = 0,
                             .min_idle = 4, .max_size = 10}) == 1);
}

TEST_CASE("reconnect backoff doubles, caps and jitters into [50%, 100%]") {
  CHECK(reconnect_delay(0, 50ms, 5s, 0.0) == 0ms);
  CHECK(reconnect_delay(1, 50ms, 5s, 1.0) == 50ms);
  CHECK(reconnect_delay(1, 50ms, 5s, 0.0) == 25ms);
  CHECK(reconnect_delay(2, 50ms, 5s, 1.0) == 100ms);
  CHECK(reconnect_delay(4, 50ms, 5s, 1.0) == 400ms);
  CHECK(reconnect_delay(30, 50ms, 5s, 1.0) == 5s);
  CHECK(reconnect_delay(1000, 50ms, 5s, 0.0) == 2500ms);
}
