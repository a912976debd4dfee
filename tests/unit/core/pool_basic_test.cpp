// Checkout and checkin basics on the fake driver: warm-up, LIFO reuse,
// waiting for a connection to be opened, metrics.
#include <doctest/doctest.h>

#include <boost/fiber/fiber.hpp>

#include "fake_pool.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

TEST_CASE("warm-up opens min_idle connections before anyone asks") {
  pool_options o = manual_options(5);
  o.min_idle = 3;
  fixture f(o);
  CHECK(f.pool.metrics().size == 0);
  f.pool.maintain();
  const metrics m = f.pool.metrics();
  CHECK(m.size == 3);
  CHECK(m.idle == 3);
  CHECK(f.server->connects == 3);
}

TEST_CASE("a checkout with nothing idle waits for housekeeping to open one") {
  fixture f;
  int got = 0;
  boost::fibers::fiber caller([&] {
    auto lease = f.pool.checkout();
    REQUIRE(lease.ok());
    got = (*lease)->id;
  });
  fixture::settle();
  CHECK(f.pool.metrics().waiting == 1);
  f.pool.maintain();
  caller.join();
  CHECK(got == 1);
  const metrics m = f.pool.metrics();
  CHECK(m.checkouts == 1);
  CHECK(m.waiting == 0);
  CHECK(m.idle == 1);
}

TEST_CASE("the most recently returned connection is handed out first (LIFO)") {
  pool_options o = manual_options(3);
  o.min_idle = 3;
  fixture f(o);
  f.pool.maintain();
  auto a = f.pool.checkout();
  auto b = f.pool.checkout();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const int b_id = (*b)->id;
  CHECK((*a)->id != b_id);
  *b = {};  // returned last
  *a = {};
  auto c = f.pool.checkout();
  REQUIRE(c.ok());
  CHECK((*c)->id != b_id);
  auto d = f.pool.checkout();
  REQUIRE(d.ok());
  CHECK((*d)->id == b_id);
}

TEST_CASE("metrics track in-use, its high-water mark and the wait histogram") {
  pool_options o = manual_options(4);
  o.min_idle = 4;
  fixture f(o);
  f.pool.maintain();
  {
    auto a = f.pool.checkout();
    auto b = f.pool.checkout();
    auto c = f.pool.checkout();
    CHECK(f.pool.metrics().in_use == 3);
  }
  const metrics m = f.pool.metrics();
  CHECK(m.in_use == 0);
  CHECK(m.max_in_use == 3);
  CHECK(m.checkouts == 3);
  CHECK(m.wait_p99 == 0ns);  // the sub-microsecond bucket reads as no wait
  CHECK(m.to_string().find("max_in_use=3") != std::string::npos);
}

TEST_CASE("the wait histogram records how long a waiter waited") {
  pool_options o = warm_options(1);
  fixture f(o);
  f.pool.maintain();
  auto held = f.pool.checkout();
  REQUIRE(held.ok());
  boost::fibers::fiber waiter([&] { CHECK(f.pool.checkout().ok()); });
  fixture::settle();
  f.clock.advance(40ms);
  *held = {};
  waiter.join();
  const metrics m = f.pool.metrics();
  CHECK(m.wait_p99 >= 40ms);
  CHECK(m.wait_p99 <= 48ms);
  CHECK(m.wait_p50 == 0ns);
}
