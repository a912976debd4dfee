// Turn-taking on a shared connection (FIFO, re-entrant, diagnosed waits)
// and the reaper (ownership_timeout, ordering, cancellation, warnings).
#include <doctest/doctest.h>

#include <vector>

#include "owned_pool.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

TEST_CASE("callers sharing a connection take turns, first come first served") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    REQUIRE(f.own().set_mode(shared_mode{current_owner()}).ok());
    auto turn = f.pool.checkout();  // the owner holds the turn
    REQUIRE(turn.ok());
    std::vector<int> order;
    std::vector<boost::fibers::fiber> workers;
    for (int i = 0; i < 3; ++i) {
      workers.emplace_back([&, i] {
        auto l = f.pool.checkout();
        REQUIRE(l.ok());
        order.push_back(i);
        boost::this_fiber::yield();
      });
      boost::this_fiber::yield();
    }
    CHECK(order.empty());
    CHECK(f.own().metrics().turn_waits == 3);
    *turn = {};
    for (auto& w : workers) w.join();
    CHECK(order == std::vector<int>{0, 1, 2});
  });
}

TEST_CASE("the holder of a turn may ask again without deadlocking") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    auto outer = f.pool.checkout();
    auto inner = f.pool.checkout();
    REQUIRE(inner.ok());
    CHECK((*outer)->id == (*inner)->id);
  });
}

TEST_CASE("a turn wait that times out names the holder, how long and where") {
  pool_options o = warm_options(3);
  o.checkout_timeout = 2s;
  owned_fixture f({}, o);
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    name_current_owner("holder");
    REQUIRE(f.own().checkout().ok());
    REQUIRE(f.own().set_mode(shared_mode{current_owner()}).ok());
    auto turn = f.pool.checkout();  // held across the wait
    absl::Status failure;
    boost::fibers::fiber waiter([&] {
      name_current_owner("waiter");
      failure = f.pool.checkout().status();
    });
    boost::this_fiber::yield();
    f.clock.advance(2s);
    f.pool.maintain();
    waiter.join();
    INFO(failure.message());
    CHECK(failure.code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(contains(failure, "waiter (owner"));
    CHECK(contains(failure, "waited 2000 ms for its turn"));
    CHECK(contains(failure, "which holder (owner"));
    CHECK(contains(failure, "has held for 2000 ms"));
    CHECK(contains(failure, "ownership_turns_test.cpp"));
    CHECK(f.own().metrics().turn_timeouts == 1);
  });
}

TEST_CASE("the reaper takes a connection back after ownership_timeout") {
  ownership_options own;
  own.ownership_timeout = 10s;
  owned_fixture f(own);
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    name_current_owner("slow test");
    REQUIRE(f.own().checkout().ok());
    f.clock.advance(9s);
    f.pool.maintain();
    CHECK(f.conn_id() > 0);
    f.clock.advance(2s);
    f.pool.maintain();
    CHECK(f.pool.metrics().in_use == 0);
    const auto l = f.pool.checkout();
    INFO(l.status().message());
    CHECK(l.status().code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(contains(l.status(), "slow test (owner"));
    CHECK(contains(l.status(), "after holding it 11000 ms"));
    CHECK(contains(l.status(), "ownership_timeout (10000 ms)"));
    CHECK(contains(l.status(), "ownership_turns_test.cpp"));
    // Reported once; afterwards the caller is simply unowned.
    CHECK(contains(f.pool.checkout().status(), "owns no connection"));
    CHECK(f.own().metrics().timeouts == 1);
  });
}

TEST_CASE("the reaper expires owners in deadline order and reports the next deadline") {
  ownership_options own;
  own.ownership_timeout = 10s;
  owned_fixture f(own);
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  std::vector<int> reclaimed_by;
  boost::fibers::fiber first([&] {
    REQUIRE(f.own().checkout().ok());
    for (int i = 0; i < 10; ++i) boost::this_fiber::yield();
  });
  boost::this_fiber::yield();
  f.clock.advance(5s);
  boost::fibers::fiber second([&] {
    REQUIRE(f.own().checkout().ok());
    for (int i = 0; i < 10; ++i) boost::this_fiber::yield();
  });
  boost::this_fiber::yield();
  CHECK(f.own().metrics().owners == 2);
  f.clock.advance(5s);  // first is due now, second in 5 s
  const auto next = f.own().reap(f.clock.now());
  CHECK(f.own().metrics().owners == 1);
  CHECK(next == f.clock.now() + 5s);
  f.clock.advance(5s);
  f.own().reap(f.clock.now());
  CHECK(f.own().metrics().owners == 0);
  first.join();
  second.join();
}

TEST_CASE("a statement in flight at the timeout is cancelled and its connection discarded") {
  ownership_options own;
  own.ownership_timeout = 1s;
  owned_fixture f(own);
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    name_current_owner("slow test");
    REQUIRE(f.own().checkout().ok());
    auto turn = f.pool.checkout();
    REQUIRE(turn.ok());
    {
      const gate_pass running((*turn)->gate());  // a statement is running
      REQUIRE(running.ok());
      f.clock.advance(2s);
      f.pool.maintain();
      CHECK(f.server->cancels == 1);
      CHECK(f.pool.metrics().in_use == 1);  // not back while the statement runs
      const gate_pass next((*turn)->gate());
      CHECK(next.status().code() == absl::StatusCode::kDeadlineExceeded);
    }  // the cancelled statement ends; the turn is still held
    f.clock.advance(5ms);
    f.pool.maintain();  // the reaper looks again and returns it
    CHECK(f.pool.metrics().in_use == 0);
    f.pool.maintain();  // housekeeping closes it
    CHECK(f.pool.metrics().discarded == 1);
    const gate_pass later((*turn)->gate());
    CHECK(later.status().code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(contains(later.status(), "slow test (owner"));
    CHECK(contains(later.status(), "held it for 2000 ms, past ownership_timeout (1000 ms)"));
    REQUIRE((*turn).checkin().ok());  // ending the refused lease is harmless
    CHECK(contains(f.pool.checkout().status(), "the query in flight was cancelled"));
    CHECK(f.pool.metrics().in_use == 0);
  });
}

TEST_CASE("a lease held past the timeout is refused and its connection returned at once") {
  ownership_options own;
  own.ownership_timeout = 1s;
  owned_fixture f(own);
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    auto turn = f.pool.checkout();
    REQUIRE(turn.ok());
    (*turn)->status = tx_status::in_transaction;  // it wrote something
    f.clock.advance(2s);
    f.pool.maintain();
    CHECK(f.pool.metrics().in_use == 0);  // back in the pool
    f.pool.maintain();                    // housekeeping rolls it back
    CHECK(f.server->resets == 1);
    CHECK(f.server->cancels == 0);        // nothing was running
    const gate_pass refused((*turn)->gate());
    CHECK(refused.status().code() == absl::StatusCode::kDeadlineExceeded);
    REQUIRE((*turn).checkin().ok());
    CHECK(f.pool.metrics().in_use == 0);
  });
}

TEST_CASE("infinite ownership_timeout schedules no reaper work; warnings come first") {
  SUBCASE("infinite") {
    ownership_options own;
    own.ownership_timeout = infinite;
    owned_fixture f(own);
    owned_fixture::in_fiber([&] {
      REQUIRE(f.own().checkout().ok());
      CHECK(f.own().reap(f.clock.now()) == manual_clock::time_point::max());
      f.clock.advance(24h);
      f.pool.maintain();
      CHECK(f.own().metrics().owners == 1);
    });
  }
  SUBCASE("warning") {
    std::vector<ownership_event::kind> seen;
    ownership_options own;
    own.ownership_timeout = 10s;
    own.warn_before = 2s;
    own.on_event = [&](const ownership_event& e) { seen.push_back(e.what); };
    owned_fixture f(own);
    owned_fixture::in_fiber([&] {
      REQUIRE(f.own().checkout().ok());
      f.clock.advance(8s);
      f.pool.maintain();
      f.clock.advance(2s);
      f.pool.maintain();
      REQUIRE(f.own().checkin().ok() == false);  // already taken back
    });
    using k = ownership_event::kind;
    CHECK(seen == std::vector<k>{k::checkout, k::warning, k::timeout});
  }
}

TEST_CASE("a waiter granted its turn just before its owner checks in gets a lease it can end") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    auto turn = f.pool.checkout();
    REQUIRE(turn.ok());
    owner_id worker_id = 0;
    bool allowed = false;
    absl::Status seen = absl::UnknownError("the worker did not run");
    boost::fibers::fiber worker([&] {
      worker_id = current_owner();
      while (!allowed) boost::this_fiber::yield();
      auto l = f.pool.checkout();  // queues behind the owner's turn
      REQUIRE(l.ok());
      REQUIRE(static_cast<bool>(*l));  // it holds the turn it was granted
      const gate_pass statement((*l)->gate());
      seen = statement.status();
      CHECK((*l).checkin().ok());  // ends the turn, so the connection's record can go
    });
    boost::this_fiber::yield();
    REQUIRE(f.own().allow(current_owner(), worker_id).ok());
    allowed = true;
    while (f.own().metrics().turn_waits == 0) boost::this_fiber::yield();
    *turn = {};                         // grants the worker its turn; it has not run yet
    REQUIRE(f.own().checkin().ok());    // and the connection goes back before it does
    CHECK(f.pool.metrics().in_use == 0);
    worker.join();
    INFO(seen.message());
    CHECK(seen.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(contains(seen, "checked its connection in"));
  });
}

// A reference taken from the lease before the connection went back (what
// run_cleanup(**lease, ...) holds) is refused while the connection sits in
// the pool. Once the pool hands it to its next lessee, it is that lessee's:
// a reference must not outlive its lease (lease.hpp).
TEST_CASE("a reference taken from a held lease is refused once the connection is taken back") {
  ownership_options own;
  own.ownership_timeout = 1s;
  owned_fixture f(own);
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    auto turn = f.pool.checkout();
    REQUIRE(turn.ok());
    fake::connection_state& conn = **turn;  // while the lease lives
    f.clock.advance(2s);
    f.pool.maintain();  // the reaper takes the connection back
    REQUIRE(f.pool.metrics().in_use == 0);
    const gate_pass through_lease((*turn)->gate());
    REQUIRE_FALSE(through_lease.ok());
    const gate_pass through_reference(conn.gate());
    CHECK_FALSE(through_reference.ok());
    CHECK(through_reference.status().code() == absl::StatusCode::kDeadlineExceeded);
    owned_fixture::in_fiber([&] {  // the next owner's statements run
      REQUIRE(f.own().checkout().ok());
      auto next = f.pool.checkout();
      REQUIRE(next.ok());
      const gate_pass runs((*next)->gate());
      CHECK(runs.ok());
    });
  });
}
