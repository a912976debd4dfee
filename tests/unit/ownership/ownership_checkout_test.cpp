// Explicit checkout and checkin, the unowned-access error, and mode
// switches with their side effects.
#include <doctest/doctest.h>

#include "owned_pool.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

TEST_CASE("manual mode: a caller with nothing gets an error that teaches the fix") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    name_current_owner("worker");
    const auto l = f.pool.checkout();
    REQUIRE_FALSE(l.ok());
    const absl::Status& s = l.status();
    INFO(s.message());
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(contains(s, "pool 'test' is in manual mode"));
    CHECK(contains(s, "worker (owner"));
    CHECK(contains(s, "checkout()"));
    CHECK(contains(s, "allow(owner, caller)"));
    CHECK(contains(s, "capture()"));
    CHECK(contains(s, "token()"));
    CHECK(contains(s, "shared_mode{owner}"));
    CHECK(contains(s, "reverts to manual when its owner ends"));
  });
}

TEST_CASE("checkout makes the caller an owner; repeats are values, not errors") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    CHECK(*f.own().checkout() == checkout_result::checked_out);
    CHECK(*f.own().checkout() == checkout_result::already_owner);
    const int first = f.conn_id();
    CHECK(first > 0);
    CHECK(f.conn_id() == first);  // the same connection every time
    CHECK(f.own().metrics().owners == 1);
    CHECK(f.own().checkin().ok());
    CHECK(f.conn_id() == -1);  // manual again: nothing owned
  });
  CHECK(f.pool.metrics().in_use == 0);
}

TEST_CASE("checkin by a caller that owns nothing says so, and names its owner") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    const absl::Status none = f.own().checkin();
    CHECK(none.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(contains(none, "owns no connection"));
    name_current_owner("the test");
    REQUIRE(f.own().checkout().ok());
    const owner_id me = current_owner();
    owned_fixture::in_fiber([&] {
      REQUIRE(f.own().allow(me, current_owner()).ok());
      const absl::Status s = f.own().checkin();
      CHECK(contains(s, "allowed on the connection of the test"));
    });
  });
}

TEST_CASE("auto mode: owners keep their connection, everyone else gets a fresh one") {
  owned_fixture f;
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    const int mine = f.conn_id();
    owned_fixture::in_fiber([&] { CHECK(f.conn_id() != mine); });
    CHECK(f.conn_id() == mine);
  });
}

TEST_CASE("shared mode needs a checked-out owner and checks in every other owner") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    const absl::Status refused = f.own().set_mode(shared_mode{current_owner()});
    CHECK(contains(refused, "shared mode needs an owner with a checked-out connection"));
    REQUIRE(f.own().checkout().ok());
    const owner_id me = current_owner();
    const int mine = f.conn_id();
    boost::fibers::fiber other([&] {
      REQUIRE(f.own().checkout().ok());
      boost::this_fiber::yield();  // set_mode runs while it owns
      CHECK(f.conn_id() == mine);  // its connection was checked in: it shares now
      CHECK(*f.own().checkout() == checkout_result::already_allowed);
    });
    boost::this_fiber::yield();
    REQUIRE(f.own().set_mode(shared_mode{me}).ok());
    other.join();
    CHECK(f.own().metrics().owners == 1);
  });
  // The shared owner ended: back to manual.
  CHECK(std::holds_alternative<manual_mode>(f.own().current_mode()));
  CHECK(f.conn_id() == -1);
}

TEST_CASE("switching to manual or auto checks in every owner") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  boost::fibers::fiber a([&] {
    REQUIRE(f.own().checkout().ok());
    boost::this_fiber::yield();
    boost::this_fiber::yield();
    CHECK(f.conn_id() == -1);
  });
  boost::this_fiber::yield();
  CHECK(f.own().metrics().owners == 1);
  CHECK(f.pool.metrics().in_use == 1);
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  CHECK(f.own().metrics().owners == 0);
  CHECK(f.pool.metrics().in_use == 0);
  a.join();
}

TEST_CASE("auto mode with nobody owning takes the trivial path") {
  owned_fixture f;
  CHECK(f.own().set_mode(auto_mode{}).ok());
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    CHECK_FALSE(f.own().trivial());
    CHECK(f.own().checkin().ok());
  });
  CHECK(f.own().trivial());
}

TEST_CASE("overload control never sheds an ownership checkout: it waits FIFO to its timeout") {
  // The shedding case of pool_waiting_test, with test owners instead of
  // auto-mode callers: more owners than connections, overloaded for good.
  pool_options o = warm_options(1);
  o.queue_target = 50ms;
  o.queue_interval = 1s;
  o.checkout_timeout = 30s;
  owned_fixture f({}, o);
  auto held = f.pool.checkout();  // an auto-mode lease holds the only connection
  REQUIRE(held.ok());
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  absl::Status waited;
  boost::fibers::fiber a([&] { waited = f.own().checkout().status(); });
  fixture::settle();
  for (int i = 0; i < 5; ++i) {  // five intervals with nobody served in time
    f.clock.advance(1s);
    f.pool.maintain();
    fixture::settle();
  }
  CHECK(f.pool.metrics().drops == 0);
  CHECK(f.pool.metrics().waiting == 1);
  // Past checkout_timeout it times out (with the live counts); it is never
  // dropped as overload.
  f.clock.advance(30s);
  f.pool.maintain();
  a.join();
  CHECK(waited.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(f.pool.metrics().drops == 0);
  // A waiting owner is served as soon as the connection comes back.
  bool served = false;
  boost::fibers::fiber b([&] { served = f.own().checkout().ok(); });
  fixture::settle();
  f.clock.advance(3s);
  f.pool.maintain();
  fixture::settle();
  *held = {};
  b.join();
  CHECK(served);
  CHECK(f.pool.metrics().drops == 0);
}
