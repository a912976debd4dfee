// Allowances (transitive, one connection at a time, moved with
// unallow_existing), capture/adopt before a thread or fiber starts, tokens,
// and what allowed callers see when their owner ends.
#include <doctest/doctest.h>

#include <thread>

#include "owned_pool.hpp"
#include "sandpool/ownership/spawn.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace std::chrono_literals;

namespace {

// Runs f in a new fiber and returns its owner id after it ran.
owner_id fiber_owner(const std::function<void()>& f = [] {}) {
  owner_id id = 0;
  boost::fibers::fiber([&] {
    id = current_owner();
    f();
  }).join();
  return id;
}

}  // namespace

TEST_CASE("an allowed caller uses the owner's connection; allowances are transitive") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    const owner_id owner = current_owner();
    const int mine = f.conn_id();
    owned_fixture::in_fiber([&] {
      const owner_id worker = current_owner();
      CHECK(*f.own().allow(owner, worker) == allow_result::allowed);
      CHECK(*f.own().allow(owner, worker) == allow_result::already_allowed);
      CHECK(*f.own().allow(owner, owner) == allow_result::already_owner);
      CHECK(f.conn_id() == mine);
      CHECK(*f.own().checkout() == checkout_result::already_allowed);
      owned_fixture::in_fiber([&] {
        // Allowed by an allowed caller: resolves to the same owner.
        REQUIRE(f.own().allow(worker, current_owner()).ok());
        CHECK(f.conn_id() == mine);
      });
    });
    CHECK(f.own().metrics().allows == 2);
  });
}

TEST_CASE("allow errors: from nobody, onto an owner, elsewhere, a dead context") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  const owner_id dead = fiber_owner();
  owned_fixture::in_fiber([&] {
    name_current_owner("giver");
    CHECK(contains(f.own().allow(current_owner(), dead).status(), "no such live thread"));
    const owner_id giver = current_owner();
    boost::fibers::fiber other_owner([&] {
      name_current_owner("other owner");
      REQUIRE(f.own().checkout().ok());
      const owner_id other = current_owner();
      // giver owns nothing yet.
      CHECK(contains(f.own().allow(giver, other).status(), "giver (owner"));
      CHECK(contains(f.own().allow(giver, other).status(), "owns no connection"));
      boost::this_fiber::yield();
      boost::this_fiber::yield();
    });
    boost::this_fiber::yield();
    REQUIRE(f.own().checkout().ok());
    owned_fixture::in_fiber([&] {
      const owner_id me = current_owner();
      REQUIRE(f.own().allow(giver, me).ok());
    });
    other_owner.join();
  });
}

TEST_CASE("a caller is allowed on one connection at a time; unallow_existing moves it") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owner_id a = 0, b = 0;
  int conn_a = 0, conn_b = 0;
  boost::fibers::fiber fa([&] {
    name_current_owner("owner a");
    REQUIRE(f.own().checkout().ok());
    a = current_owner();
    conn_a = f.conn_id();
    for (int i = 0; i < 6; ++i) boost::this_fiber::yield();
  });
  boost::fibers::fiber fb([&] {
    name_current_owner("owner b");
    REQUIRE(f.own().checkout().ok());
    b = current_owner();
    conn_b = f.conn_id();
    for (int i = 0; i < 6; ++i) boost::this_fiber::yield();
  });
  boost::this_fiber::yield();
  owned_fixture::in_fiber([&] {
    const owner_id me = current_owner();
    REQUIRE(f.own().allow(a, me).ok());
    const auto refused = f.own().allow(b, me);
    CHECK(contains(refused.status(), "already allowed on the connection of owner a"));
    CHECK(contains(refused.status(), "unallow_existing"));
    CHECK(f.conn_id() == conn_a);
    REQUIRE(f.own().allow(b, me, {.unallow_existing = true}).ok());
    CHECK(f.conn_id() == conn_b);
    REQUIRE(f.own().unallow(me).ok());
    CHECK(f.conn_id() == -1);
  });
  fa.join();
  fb.join();
}

TEST_CASE("capture in the parent, adopt in a thread or fiber started later") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    CHECK_FALSE(f.own().capture().ok());  // nothing to capture yet
    REQUIRE(f.own().checkout().ok());
    const int mine = f.conn_id();
    const auto ctx = f.own().capture();
    REQUIRE(ctx.ok());
    int in_thread = 0;
    std::thread t([&] {
      REQUIRE(f.own().adopt(*ctx).ok());
      in_thread = f.conn_id();
    });
    t.join();
    CHECK(in_thread == mine);
    owned_fixture::in_fiber([&] {
      REQUIRE(f.own().adopt(*ctx).ok());
      CHECK(f.conn_id() == mine);
    });
  });
}

TEST_CASE("an owner that ends returns its connection; allowed callers learn why") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  std::optional<ownership_context> ctx;
  owner_id worker = 0;
  boost::fibers::fiber helper([&] {
    worker = current_owner();
    for (int i = 0; i < 4; ++i) boost::this_fiber::yield();
    const auto l = f.pool.checkout();
    INFO(l.status().message());
    CHECK(contains(l.status(), "is allowed on the connection of the test"));
    CHECK(contains(l.status(), "ended (its thread or fiber exited)"));
  });
  owned_fixture::in_fiber([&] {
    name_current_owner("the test");
    REQUIRE(f.own().checkout().ok());
    REQUIRE(f.own().allow(current_owner(), worker).ok());
    ctx = *f.own().capture();
    CHECK(f.pool.metrics().in_use == 1);
  });
  CHECK(f.pool.metrics().in_use == 0);  // reclaimed at fiber exit
  CHECK(f.own().metrics().reclaims == 1);
  helper.join();
  // Adopting a context whose owner ended says so.
  owned_fixture::in_fiber([&] {
    const absl::Status s = f.own().adopt(*ctx);
    INFO(s.message());
    CHECK(contains(s, "ended"));
  });
}

TEST_CASE("a thread that owns a connection returns it when it exits") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  std::thread t([&] {
    REQUIRE(f.own().checkout().ok());
    CHECK(f.conn_id() > 0);
  });
  t.join();
  CHECK(f.pool.metrics().in_use == 0);
  CHECK(f.own().metrics().owners == 0);
}

TEST_CASE("tokens: unguessable, adoptable elsewhere, revocable, never echoed") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  owned_fixture::in_fiber([&] {
    CHECK_FALSE(f.own().token().ok());
    REQUIRE(f.own().checkout().ok());
    const int mine = f.conn_id();
    const std::string token = *f.own().token();
    CHECK(token.size() > 36);
    CHECK(token != *f.own().token());
    owned_fixture::in_fiber([&] {
      REQUIRE(f.own().adopt_token(token).ok());
      CHECK(f.conn_id() == mine);
    });
    std::string forged = token;
    forged.back() = forged.back() == '0' ? '1' : '0';
    owned_fixture::in_fiber([&] {
      const absl::Status s = f.own().adopt_token(forged);
      CHECK(s.code() == absl::StatusCode::kPermissionDenied);
      CHECK_FALSE(contains(s, forged));
      CHECK(contains(f.own().adopt_token("sp1.1.zz"), "malformed"));
    });
    REQUIRE(f.own().revoke(token).ok());
    owned_fixture::in_fiber([&] {
      CHECK(contains(f.own().adopt_token(token), "unknown, revoked"));
    });
  });
}

TEST_CASE("spawn_thread and spawn_fiber start workers already on the caller's connection") {
  owned_fixture f;
  REQUIRE(f.own().set_mode(manual_mode{}).ok());
  CHECK_FALSE(spawn_thread(f.pool, [] {}).ok());  // the caller owns nothing
  owned_fixture::in_fiber([&] {
    REQUIRE(f.own().checkout().ok());
    const int mine = f.conn_id();
    int seen_thread = 0, seen_fiber = 0;
    auto t = spawn_thread(f.pool, [&] { seen_thread = f.conn_id(); });
    REQUIRE(t.ok());
    t->join();
    auto fb = spawn_fiber(f.pool, [&] { seen_fiber = f.conn_id(); });
    REQUIRE(fb.ok());
    fb->join();
    CHECK(seen_thread == mine);
    CHECK(seen_fiber == mine);
  });
}
