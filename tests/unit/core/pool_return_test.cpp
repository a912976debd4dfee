// Returning connections: dirty and broken returns, double returns, shutdown
// with outstanding leases, and leases that outlive their pool.
#include <doctest/doctest.h>

#include <boost/fiber/fiber.hpp>

#include "fake_pool.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

TEST_CASE("a connection returned inside a transaction is rolled back before reuse") {
  fixture f(warm_options(1));
  f.pool.maintain();
  {
    auto l = f.pool.checkout();
    (*l)->status = tx_status::in_transaction;
  }
  CHECK(f.pool.metrics().idle == 0);  // not offered while dirty
  tx_status seen = tx_status::broken;
  boost::fibers::fiber next([&] { seen = (*f.pool.checkout())->status; });
  fixture::settle();
  CHECK(f.pool.metrics().waiting == 1);
  f.pool.maintain();  // resets, then hands it to the waiter
  next.join();
  CHECK(seen == tx_status::idle);
  CHECK(f.server->resets == 1);
  CHECK(f.pool.metrics().resets == 1);
}

TEST_CASE("a failed transaction and a command in flight are both reset") {
  for (tx_status dirty : {tx_status::in_error, tx_status::active}) {
    fixture f(warm_options(1));
    f.pool.maintain();
    { (*f.pool.checkout())->status = dirty; }
    f.pool.maintain();
    CHECK(f.pool.metrics().idle == 1);
    CHECK(f.server->resets == 1);
  }
}

TEST_CASE("a broken connection is discarded and replaced, never handed out") {
  fixture f(warm_options(1));
  f.pool.maintain();
  { (*f.pool.checkout())->status = tx_status::broken; }
  f.pool.maintain();  // closes it
  f.pool.maintain();  // opens a replacement for min_idle
  const metrics m = f.pool.metrics();
  CHECK(m.discarded == 1);
  CHECK(m.idle == 1);
  auto l = f.pool.checkout();
  CHECK((*l)->id == 2);
}

TEST_CASE("after a broken return the idle connections are validated before reuse") {
  // Within validation_bypass a fresh idle connection is normally handed out
  // unchecked; once one came back broken, its idle siblings are suspect (a
  // server restart kills them all), so the next caller gets a live one.
  fixture f(warm_options(3));
  f.pool.maintain();
  auto a = f.pool.checkout();
  REQUIRE(a.ok());
  for (int id = 1; id <= 3; ++id) f.server->kill(id);
  (*a)->status = tx_status::broken;
  *a = {};  // returned broken
  const int validations = f.server->validations;
  int got = 0;
  boost::fibers::fiber next([&] { got = (*f.pool.checkout())->id; });
  fixture::settle();
  // Both suspects were validated, failed and dropped; the caller waits.
  CHECK(f.server->validations == validations + 2);
  CHECK(f.pool.metrics().validation_failures == 2);
  CHECK(f.pool.metrics().waiting == 1);
  f.pool.maintain();  // closes the three dead ones
  f.pool.maintain();  // opens replacements; the first goes to the caller
  next.join();
  CHECK(got > 3);
}

TEST_CASE("a discarded lease does not make the idle connections suspect") {
  fixture f(warm_options(2));
  f.pool.maintain();
  { f.pool.checkout()->discard(); }
  const int validations = f.server->validations;
  auto b = f.pool.checkout();
  REQUIRE(b.ok());
  CHECK(f.server->validations == validations);
}

TEST_CASE("a connection whose reset fails is discarded") {
  fixture f(warm_options(1));
  f.pool.maintain();
  {
    auto l = f.pool.checkout();
    (*l)->status = tx_status::in_transaction;
    f.server->kill((*l)->id);
  }
  f.pool.maintain();  // the reset fails: doomed
  f.pool.maintain();  // closed, which frees the only slot
  f.pool.maintain();  // a replacement for min_idle
  CHECK(f.pool.metrics().discarded == 1);
  CHECK(f.server->open_count() == 1);
}

TEST_CASE("a lease can be returned once; a second checkin says where it came from") {
  fixture f(warm_options(1));
  f.pool.maintain();
  auto l = f.pool.checkout();
  REQUIRE(l.ok());
  CHECK(l->checkin().ok());
  const absl::Status twice = l->checkin();
  CHECK(twice.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(twice, "already returned"));
  CHECK(contains(twice, "pool_return_test.cpp"));
  fake_pool::lease_type moved = std::move(*l);
  CHECK_FALSE(moved);
  CHECK(contains(moved.checkin(), "already returned"));
  fake_pool::lease_type empty;
  CHECK(contains(empty.checkin(), "lease is empty"));
  CHECK(f.pool.metrics().in_use == 0);
}

TEST_CASE("shutdown fails waiters, closes idle connections and reports leases still out") {
  fixture f(warm_options(2));
  f.pool.maintain();
  auto held = f.pool.checkout();
  auto other = f.pool.checkout();
  REQUIRE(other.ok());
  *other = {};  // one idle, one out
  REQUIRE(f.pool.metrics().idle == 1);
  const absl::Status s = f.pool.shutdown(0ms);
  CHECK(s.code() == absl::StatusCode::kDeadlineExceeded);
  INFO(s.message());
  CHECK(contains(s, "1 lease(s) are still out"));
  CHECK(contains(s, "pool_return_test.cpp"));
  CHECK(f.server->open_count() == 1);
  const auto late = f.pool.checkout();
  CHECK(late.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(late.status(), "is shut down"));
  *held = {};
  CHECK(f.server->open_count() == 0);
}

TEST_CASE("shutdown fails a waiting caller instead of leaving it hanging") {
  fixture f(warm_options(1));
  f.pool.maintain();
  auto held = f.pool.checkout();
  absl::Status failure;
  boost::fibers::fiber waiter([&] { failure = f.pool.checkout().status(); });
  fixture::settle();
  boost::fibers::fiber returner([&] {
    boost::this_fiber::yield();
    *held = {};
  });
  CHECK(f.pool.shutdown(10s).ok());  // drains: the returner gives it back
  waiter.join();
  returner.join();
  CHECK(failure.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(f.server->open_count() == 0);
}

TEST_CASE("a lease outlives its pool and closes its connection when returned") {
  auto server = std::make_shared<fake::server>();
  manual_clock clock;
  std::optional<fake_pool::lease_type> survivor;
  {
    auto pool = fake_pool::create(fake::driver(server), warm_options(2), clock);
    REQUIRE(pool.ok());
    pool->maintain();
    survivor.emplace(*pool->checkout());
  }
  CHECK(server->open_count() == 1);
  CHECK((*survivor)->id >= 1);  // still usable
  survivor.reset();
  CHECK(server->open_count() == 0);
}
