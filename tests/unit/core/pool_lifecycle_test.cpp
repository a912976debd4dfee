// Connection lifecycle under housekeeping: idle eviction down to min_idle,
// max lifetime, validation after the bypass window, reconnect with backoff.
#include <doctest/doctest.h>

#include <boost/fiber/fiber.hpp>

#include "fake_pool.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

TEST_CASE("idle connections above min_idle are closed after idle_timeout") {
  pool_options o = manual_options(3);
  o.min_idle = 1;
  o.idle_timeout = 10min;
  fixture f(o);
  {
    f.pool.maintain();
    auto a = f.pool.checkout();  // served from the warm connection
    std::optional<fake_pool::lease_type> b, c;
    boost::fibers::fiber fb([&] { b.emplace(*f.pool.checkout()); });
    boost::fibers::fiber fc([&] { c.emplace(*f.pool.checkout()); });
    fixture::settle();
    f.pool.maintain();
    fb.join();
    fc.join();
    CHECK(f.pool.metrics().in_use == 3);
  }
  CHECK(f.pool.metrics().idle == 3);
  f.clock.advance(10min);
  f.pool.maintain();
  CHECK(f.pool.metrics().idle == 3);  // not yet past the timeout
  f.clock.advance(1s);
  f.pool.maintain();
  const metrics m = f.pool.metrics();
  CHECK(m.idle == 1);
  CHECK(m.size == 1);
  CHECK(m.discarded == 2);
  CHECK(f.server->open_count() == 1);
}

TEST_CASE("connections past max_lifetime are replaced, never handed out") {
  pool_options o = manual_options(2);
  o.min_idle = 1;
  o.max_lifetime = 30min;
  o.idle_timeout = infinite;
  fixture f(o);
  f.pool.maintain();
  int first = 0;
  {
    auto l = f.pool.checkout();
    first = (*l)->id;
  }
  f.clock.advance(31min);
  // A checkout finds the expired connection, dooms it and waits for a fresh one.
  int second = 0;
  boost::fibers::fiber caller([&] { second = (*f.pool.checkout())->id; });
  fixture::settle();
  f.pool.maintain();
  caller.join();
  CHECK(second != first);
  CHECK(f.server->closes == 1);
  // Housekeeping also retires an idle one when its lifetime ends.
  f.clock.advance(31min);
  f.pool.maintain();
  f.pool.maintain();
  CHECK(f.server->closes == 2);
  CHECK(f.pool.metrics().idle == 1);
}

TEST_CASE("a connection idle longer than validation_bypass is validated first") {
  pool_options o = warm_options(1);
  o.validation_bypass = 500ms;
  fixture f(o);
  f.pool.maintain();
  { auto l = f.pool.checkout(); }  // fresh: created just now, no check
  CHECK(f.server->validations == 0);
  f.clock.advance(400ms);
  { auto l = f.pool.checkout(); }
  CHECK(f.server->validations == 0);
  f.clock.advance(600ms);
  { auto l = f.pool.checkout(); }
  CHECK(f.server->validations == 1);
}

TEST_CASE("a dead idle connection is discarded at checkout and the caller gets a new one") {
  pool_options o = warm_options(1);
  o.validation_bypass = 0ms;
  fixture f(o);
  f.pool.maintain();
  f.clock.advance(1ms);
  f.server->kill(1);
  int got = 0;
  boost::fibers::fiber caller([&] {
    auto l = f.pool.checkout();
    REQUIRE(l.ok());
    got = (*l)->id;
  });
  fixture::settle();
  f.pool.maintain();  // closes the dead one and opens a replacement
  f.pool.maintain();
  caller.join();
  CHECK(got == 2);
  CHECK(f.pool.metrics().validation_failures == 1);
  CHECK(f.server->open_count() == 1);
}

TEST_CASE("validation_bypass zero validates every checkout, even within one clock tick") {
  pool_options o = warm_options(1);
  o.validation_bypass = 0ms;
  fixture f(o);
  f.pool.maintain();
  { auto l = f.pool.checkout(); }
  { auto l = f.pool.checkout(); }
  CHECK(f.server->validations == 2);
}

TEST_CASE("a pool shut down while a checkout validates says so, and closes the connection") {
  pool_options o = warm_options(1);
  o.validation_bypass = 0ms;
  fixture f(o);
  f.pool.maintain();
  f.server->on_validate = [&] {
    f.server->on_validate = nullptr;
    f.server->kill(1);
    CHECK(f.pool.shutdown(0ms).code() == absl::StatusCode::kDeadlineExceeded);
  };
  const auto l = f.pool.checkout();
  CHECK(l.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(l.status(), "is shut down"));
  CHECK(f.server->open_count() == 0);
  CHECK(f.pool.metrics().in_use == 0);
}

TEST_CASE("failed connects are retried with exponential backoff and jitter") {
  pool_options o = manual_options(1);
  o.reconnect_backoff_min = 100ms;
  o.reconnect_backoff_max = 400ms;
  o.checkout_timeout = 1h;
  o.queue_target = 1min;  // no overload shedding while the server is down
  o.queue_interval = 1h;
  fixture f(o);
  int attempts = 0;
  f.server->on_connect = [&] { ++attempts; };
  f.server->down = true;
  bool served = false;
  boost::fibers::fiber caller([&] { served = f.pool.checkout().ok(); });
  fixture::settle();
  f.pool.maintain();
  CHECK(attempts == 1);
  // Retry 1 is due within [50, 100] ms, retry 2 within [100, 200] ms, then
  // [200, 400] ms and capped at [200, 400] ms.
  const std::chrono::milliseconds lower[] = {50ms, 100ms, 200ms, 200ms};
  const std::chrono::milliseconds upper[] = {100ms, 200ms, 400ms, 400ms};
  for (int i = 0; i < 4; ++i) {
    f.clock.advance(lower[i] - 1ms);
    f.pool.maintain();
    CHECK(attempts == i + 1);  // too early
    f.clock.advance(upper[i] - lower[i] + 1ms);
    f.pool.maintain();
    CHECK(attempts == i + 2);
  }
  CHECK(f.pool.metrics().connect_failures == 5);
  f.server->down = false;
  f.clock.advance(400ms);
  f.pool.maintain();
  caller.join();
  CHECK(served);
  CHECK(f.pool.metrics().connects == 1);
}

TEST_CASE("a checkout that times out while the server is down says why") {
  pool_options o = manual_options(1);
  fixture f(o);
  f.server->down = true;
  absl::Status failure;
  boost::fibers::fiber caller([&] { failure = f.pool.checkout(1s).status(); });
  fixture::settle();
  f.pool.maintain();
  f.clock.advance(1s);
  f.pool.maintain();
  caller.join();
  CHECK(failure.code() == absl::StatusCode::kDeadlineExceeded);
  INFO(failure.message());
  CHECK(contains(failure, "0 open of max_size 1"));
  CHECK(contains(failure, "last attempt to open a connection failed: fake server refused"));
}

TEST_CASE("during an outage waiters are not shed as overload; they time out with the cause") {
  pool_options o = manual_options(1);
  o.checkout_timeout = 3s;
  fixture f(o);
  f.server->down = true;
  absl::Status failure;
  boost::fibers::fiber caller([&] { failure = f.pool.checkout().status(); });
  fixture::settle();
  f.pool.maintain();  // the connect attempt fails
  for (int i = 0; i < 3; ++i) {
    f.clock.advance(1s);
    f.pool.maintain();
  }
  caller.join();
  CHECK(failure.code() == absl::StatusCode::kDeadlineExceeded);
  INFO(failure.message());
  CHECK(contains(failure, "fake server refused"));
  CHECK(f.pool.metrics().drops == 0);
}
