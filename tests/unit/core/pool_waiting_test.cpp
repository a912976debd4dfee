// Waiting for a connection: FIFO fairness for fibers and threads, checkout
// timeouts with diagnostics, and CoDel-style shedding under overload.
#include <doctest/doctest.h>

#include <mutex>
#include <thread>
#include <vector>

#include <boost/fiber/fiber.hpp>

#include "fake_pool.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

TEST_CASE("fibers waiting for a connection are served first come, first served") {
  fixture f(warm_options(1));
  f.pool.maintain();
  auto held = f.pool.checkout();
  REQUIRE(held.ok());
  std::vector<int> order;
  std::vector<boost::fibers::fiber> fibers;
  for (int i = 0; i < 4; ++i) {
    fibers.emplace_back([&, i] {
      auto lease = f.pool.checkout();
      REQUIRE(lease.ok());
      order.push_back(i);
      boost::this_fiber::yield();  // hold it across a switch
    });
    fixture::settle();  // fiber i is queued before fiber i+1 starts
  }
  CHECK(f.pool.metrics().waiting == 4);
  *held = {};
  for (auto& fb : fibers) fb.join();
  CHECK(order == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("threads waiting for a connection are served first come, first served") {
  fixture f(warm_options(1));
  f.pool.maintain();
  auto held = f.pool.checkout();
  REQUIRE(held.ok());
  std::mutex m;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto lease = f.pool.checkout();
      REQUIRE(lease.ok());
      std::lock_guard lk(m);
      order.push_back(i);
    });
    f.await_waiting(static_cast<std::size_t>(i) + 1);
  }
  *held = {};
  for (auto& t : threads) t.join();
  CHECK(order == std::vector<int>{0, 1, 2});
}

TEST_CASE("a waiting fiber lets the other fibers of its thread run") {
  fixture f(warm_options(1));
  f.pool.maintain();
  boost::fibers::fiber holder([&] {
    auto lease = f.pool.checkout();
    REQUIRE(lease.ok());
    for (int i = 0; i < 3; ++i) boost::this_fiber::yield();
  });
  bool served = false;
  boost::fibers::fiber waiter([&] { served = f.pool.checkout().ok(); });
  holder.join();
  waiter.join();
  CHECK(served);
}

TEST_CASE("a checkout times out after checkout_timeout with live counts and the holder") {
  fixture f(warm_options(1));
  f.pool.maintain();
  auto held = f.pool.checkout();  // the line the message must name
  REQUIRE(held.ok());
  absl::Status failure;
  boost::fibers::fiber caller([&] { failure = f.pool.checkout(1s).status(); });
  fixture::settle();
  f.clock.advance(999ms);
  f.pool.maintain();
  fixture::settle();
  CHECK(failure.ok());
  CHECK(f.pool.metrics().waiting == 1);
  f.clock.advance(1ms);
  f.pool.maintain();
  caller.join();
  CHECK(failure.code() == absl::StatusCode::kDeadlineExceeded);
  INFO(failure.message());
  CHECK(contains(failure, "pool 'test': checkout timed out after 1000 ms (checkout_timeout)"));
  CHECK(contains(failure, "1 open of max_size 1 (1 in use, 0 idle), 0 connecting, 0 waiting"));
  CHECK(contains(failure, "pool_waiting_test.cpp"));
  CHECK(contains(failure, "1000 ms ago"));
  CHECK(contains(failure, "raise max_size"));
  CHECK(f.pool.metrics().timeouts == 1);
}

TEST_CASE("a real-clock waiter times out on its own") {
  pool_options o;
  o.max_size = 1;
  o.min_idle = 1;
  auto p = basic_pool<fake::driver>::create(fake::driver{}, o);
  REQUIRE(p.ok());
  auto held = p->checkout();
  REQUIRE(held.ok());
  auto late = p->checkout(20ms);
  CHECK(late.status().code() == absl::StatusCode::kDeadlineExceeded);
}

TEST_CASE("under sustained overload, waiters older than 2x queue_target are shed") {
  pool_options o = warm_options(1);
  o.queue_target = 50ms;
  o.queue_interval = 1s;
  o.checkout_timeout = 30s;
  fixture f(o);
  f.pool.maintain();
  auto held = f.pool.checkout();
  REQUIRE(held.ok());
  absl::Status first, second;
  boost::fibers::fiber a([&] { first = f.pool.checkout().status(); });
  fixture::settle();
  // The first interval saw `held` served at once: not overloaded yet.
  f.clock.advance(1s);
  f.pool.maintain();
  fixture::settle();
  CHECK(first.ok());
  // A whole interval passes with nobody served within the target.
  f.clock.advance(1s);
  f.pool.maintain();
  a.join();
  CHECK(first.code() == absl::StatusCode::kResourceExhausted);
  INFO(first.message());
  CHECK(contains(first, "overloaded"));
  CHECK(contains(first, "queue_target (50 ms)"));
  // Still overloaded: a new waiter survives 2x target, not more.
  boost::fibers::fiber b([&] { second = f.pool.checkout().status(); });
  fixture::settle();
  f.clock.advance(99ms);
  f.pool.maintain();
  fixture::settle();
  CHECK(second.ok());
  f.clock.advance(2ms);
  f.pool.maintain();
  b.join();
  CHECK(second.code() == absl::StatusCode::kResourceExhausted);
  CHECK(f.pool.metrics().drops == 2);
}

TEST_CASE("a pool that serves within the target sheds nobody, however long one waits") {
  pool_options o = warm_options(1);
  o.queue_target = 50ms;
  o.queue_interval = 1s;
  o.checkout_timeout = 30s;
  fixture f(o);
  f.pool.maintain();
  { auto quick = f.pool.checkout(); }  // served at once in this interval
  auto held = f.pool.checkout();
  bool served = false;
  boost::fibers::fiber w([&] { served = f.pool.checkout().ok(); });
  fixture::settle();
  f.clock.advance(500ms);
  f.pool.maintain();
  f.clock.advance(600ms);  // the interval closes: min delay was 0
  f.pool.maintain();
  fixture::settle();
  CHECK(f.pool.metrics().drops == 0);
  *held = {};
  w.join();
  CHECK(served);
}

TEST_CASE("in an outage housekeeping sleeps until real work is due, however long one waits") {
  pool_options o = manual_options(1);
  o.queue_target = 50ms;
  o.queue_interval = 1s;
  o.checkout_timeout = 30s;
  o.reconnect_backoff_min = 1s;
  o.reconnect_backoff_max = 5s;
  fixture f(o);
  f.server->down = true;  // every connect fails
  absl::Status waited;
  boost::fibers::fiber a([&] { waited = f.pool.checkout().status(); });
  fixture::settle();
  // Far past 2x queue_target, with the queue standing for whole intervals:
  // overloaded, but in an outage nobody is shed, so there is nothing to
  // wake for before the next connect attempt, interval end or deadline.
  for (int step = 0; step < 25; ++step) {
    const auto due = f.pool.maintain();
    fixture::settle();
    CAPTURE(step);
    REQUIRE(due > f.clock.now());
    f.clock.advance(due - f.clock.now());
  }
  f.server->down = false;
  f.clock.advance(30s);
  f.pool.maintain();
  a.join();
  CHECK(waited.code() != absl::StatusCode::kResourceExhausted);  // timed out or served, not shed
  CHECK(f.pool.metrics().drops == 0);
}

TEST_CASE("a permanent connect error fails waiters at once; the pool recovers once it is fixed") {
  pool_options o = manual_options(1);
  o.checkout_timeout = 30s;
  o.reconnect_backoff_min = 1s;
  o.reconnect_backoff_max = 1s;
  fixture f(o);
  f.server->down = true;
  f.server->connect_error =
      absl::PermissionDeniedError("password authentication failed for user \"app\"");
  absl::Status waited;
  boost::fibers::fiber a([&] { waited = f.pool.checkout().status(); });
  fixture::settle();
  f.pool.maintain();  // the connect attempt: refused for good
  a.join();
  CHECK(waited.code() == absl::StatusCode::kPermissionDenied);
  INFO(waited.message());
  CHECK(contains(waited, "checkout failed at once"));
  CHECK(contains(waited, "password authentication failed for user \"app\""));
  CHECK(contains(waited, "goes on retrying in the background"));
  // Until the next attempt is due, a new checkout fails without waiting.
  auto again = f.pool.checkout();
  CHECK(again.status().code() == absl::StatusCode::kPermissionDenied);
  // Transient errors keep the wait: the caller waits for a connection.
  f.server->connect_error = absl::UnavailableError("connection refused");
  f.clock.advance(2s);
  f.pool.maintain();
  absl::Status transient;
  bool done = false;
  boost::fibers::fiber b([&] {
    transient = f.pool.checkout().status();
    done = true;
  });
  fixture::settle();
  f.clock.advance(2s);
  f.pool.maintain();
  fixture::settle();
  CHECK_FALSE(done);  // still waiting through the outage
  // Fixed: the next attempt connects and serves the waiter.
  f.server->down = false;
  f.clock.advance(2s);
  f.pool.maintain();
  b.join();
  CHECK(transient.ok());
}
