// The ownership registry on its own: no pool, no fibers, no clock. Each
// operation is checked by the effects it asks for, the way a sans-io node
// is tested: what the shell would have to do, in order, and nothing else.
#include "sandpool/ownership/detail/registry.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace sandpool;
using namespace sandpool::detail;
using namespace std::chrono_literals;

namespace {

using kind = effect::kind;

registry make(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max()) {
  return registry({.pool = "reg", .ownership_timeout = timeout});
}

std::vector<kind> kinds(const effects& fx) {
  std::vector<kind> k;
  for (const effect& e : fx) k.push_back(e.what);
  return k;
}

bool contains(std::string_view haystack, std::string_view text) {
  return haystack.find(text) != std::string_view::npos;
}
bool contains(const absl::Status& s, std::string_view text) {
  return contains(std::string_view(s.message().data(), s.message().size()), text);
}

constexpr owner_id owner = 11, worker = 12, other = 13;
const source_location here = source_location::current();

// An owner with a connection, in manual mode.
conn_id owned(registry& r, owner_id who = owner, reg_time now = 0s) {
  effects fx;
  REQUIRE(r.set_mode(manual_mode{}, now, fx).ok());
  return r.add(who, "test owner", here, now, fx);
}

// The owner holds the turn; an allowed worker is queued as waiter `w`.
conn_id worker_queued(registry& r, waiter_id w, reg_time deadline) {
  const conn_id c = owned(r);
  effects fx;
  REQUIRE(r.allow(owner, worker, {}, fx).ok());
  REQUIRE(r.lease(owner, here, 0s).how == lease_answer::kind::turn);
  r.enqueue(c, w, worker, here, 0s, deadline);
  return c;
}

}  // namespace

TEST_CASE("auto mode with nobody registered routes to a fresh connection") {
  registry r = make();
  CHECK(r.trivial());
  CHECK(r.lease(owner, here, 0s).how == lease_answer::kind::fresh);
  effects fx;
  r.add(owner, "o", here, 0s, fx);
  CHECK_FALSE(r.trivial());
  CHECK(fx.empty());  // no deadline: no reaper
}

TEST_CASE("turns are granted first come first served, re-entrant for the holder") {
  registry r = make();
  const conn_id c = owned(r);
  effects fx;
  REQUIRE(r.allow(owner, worker, {}, fx).ok());
  REQUIRE(r.allow(owner, other, {}, fx).ok());
  CHECK(r.lease(owner, here, 0s).how == lease_answer::kind::turn);
  CHECK(r.lease(owner, here, 0s).how == lease_answer::kind::turn);  // again: depth 2
  CHECK(r.lease(worker, here, 0s).how == lease_answer::kind::wait);
  r.enqueue(c, 1, worker, here, 0s, 10s);
  r.enqueue(c, 2, other, here, 0s, 10s);
  r.end_turn(c, 1s, fx);
  CHECK(fx.empty());  // still held once
  r.end_turn(c, 1s, fx);
  REQUIRE(kinds(fx) == std::vector{kind::grant});
  CHECK(fx[0].waiter == 1);
  fx.clear();
  r.end_turn(c, 2s, fx);
  REQUIRE(kinds(fx) == std::vector{kind::grant});
  CHECK(fx[0].waiter == 2);
  CHECK(r.metrics().turn_waits == 2);
}

TEST_CASE("a turn wait that gives up is told who holds the turn") {
  registry r = make();
  const conn_id c = worker_queued(r, 7, 2s);
  effects fx;
  const absl::Status s = r.leave(c, 7, 2s, fx);
  CHECK(contains(s, "test owner"));
  CHECK(r.leave(c, 7, 2s, fx).ok());  // already gone: nothing more to say
  CHECK(r.metrics().turn_timeouts == 1);
}

TEST_CASE("checkin with no lease held returns the connection through the decorator") {
  registry r = make();
  const conn_id c = owned(r);
  effects fx;
  REQUIRE(r.checkin(owner, 1s, fx).ok());
  REQUIRE(kinds(fx) == std::vector{kind::give_back});
  CHECK(fx[0].checkin);
  CHECK_FALSE(fx[0].discard);
  fx.clear();
  r.returned(c, fx);
  CHECK(kinds(fx) == std::vector{kind::drop});
  CHECK(r.empty());
  CHECK(contains(r.checkin(owner, 1s, fx), "owns no connection"));
}

TEST_CASE("checkin while an allowed caller runs a statement cancels it, then rolls back") {
  registry r = make();
  const conn_id c = owned(r);
  effects fx;
  REQUIRE(r.allow(owner, worker, {}, fx).ok());
  REQUIRE(r.lease(worker, here, 0s).how == lease_answer::kind::turn);
  REQUIRE(r.checkin(owner, 1s, fx).ok());
  REQUIRE(kinds(fx) == std::vector{kind::revoke});
  CHECK(fx[0].cancel);
  CHECK(fx[0].wait);
  CHECK(contains(fx[0].status, "checked its connection in"));
  CHECK(contains(fx[0].text, "cancelled"));
  fx.clear();
  r.revoked(c, revoke_report::busy, fx);  // still running after the wait
  CHECK(kinds(fx) == std::vector{kind::reaper});
  fx.clear();
  CHECK(r.expire(2s, fx) == 2s + 2ms);  // looks again soon
  REQUIRE(kinds(fx) == std::vector{kind::revoke});
  CHECK_FALSE(fx[0].cancel);
  fx.clear();
  r.revoked(c, revoke_report::idle, fx);
  REQUIRE(kinds(fx) == std::vector{kind::give_back});
  CHECK(fx[0].discard);  // a cancelled session is closed, not reused
  fx.clear();
  r.returned(c, fx);
  CHECK(fx.empty());  // the worker's lease still refers to it
  r.end_turn(c, 3s, fx);
  CHECK(kinds(fx) == std::vector{kind::drop});
  CHECK(r.lease(worker, here, 3s).error.code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("the deadline takes the connection back even while a lease is held") {
  registry r = make(10s);
  effects fx;
  REQUIRE(r.set_mode(manual_mode{}, 0s, fx).ok());
  const conn_id c = r.add(owner, "slow test", here, 0s, fx);
  CHECK(kinds(fx) == std::vector{kind::reaper});
  fx.clear();
  REQUIRE(r.lease(owner, here, 1s).how == lease_answer::kind::turn);
  CHECK(r.expire(9s, fx) == 10s);
  CHECK(fx.empty());
  CHECK(r.expire(11s, fx) == reg_time::max());
  REQUIRE(kinds(fx) == std::vector{kind::revoke});
  CHECK(fx[0].cancel);
  CHECK_FALSE(fx[0].wait);
  CHECK(fx[0].status.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(contains(fx[0].status, "slow test"));
  CHECK(contains(fx[0].status, "held it for 11000 ms, past ownership_timeout (10000 ms)"));
  fx.clear();
  r.revoked(c, revoke_report::idle, fx);  // nothing ran: return it now
  REQUIRE(kinds(fx) == std::vector{kind::give_back});
  CHECK_FALSE(fx[0].discard);
  CHECK_FALSE(fx[0].checkin);
  fx.clear();
  r.returned(c, fx);
  CHECK(fx.empty());
  r.end_turn(c, 12s, fx);
  CHECK(kinds(fx) == std::vector{kind::drop});
  // The owner hears of it once, then is simply unowned.
  CHECK(r.lease(owner, here, 12s).error.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(contains(r.lease(owner, here, 12s).error, "owns no connection"));
  CHECK(r.metrics().timeouts == 1);
}

TEST_CASE("an owner that ends with a lease held on a gateless connection waits for the lease") {
  registry r = make();
  const conn_id c = owned(r);
  REQUIRE(r.lease(owner, here, 0s).how == lease_answer::kind::turn);
  effects fx;
  r.owner_ended(owner, 1s, fx);
  REQUIRE(kinds(fx) == std::vector{kind::revoke});
  CHECK(contains(fx[0].status, "ended"));
  fx.clear();
  r.revoked(c, revoke_report::ungated, fx);
  CHECK(fx.empty());
  r.end_turn(c, 2s, fx);
  REQUIRE(kinds(fx) == std::vector{kind::give_back});
  fx.clear();
  r.returned(c, fx);
  CHECK(kinds(fx) == std::vector{kind::drop});
  CHECK(r.metrics().reclaims == 1);
}

TEST_CASE("queued callers fail when the owner loses its connection") {
  registry r = make();
  worker_queued(r, 5, 10s);
  effects fx;
  r.owner_ended(owner, 1s, fx);
  REQUIRE(kinds(fx) == std::vector({kind::fail, kind::revoke}));
  CHECK(fx[0].waiter == 5);
  CHECK(contains(fx[0].status, "is allowed on the connection of test owner"));
}

TEST_CASE("shared mode needs its owner checked out, keeps it, and ends with it") {
  registry r = make();
  effects fx;
  CHECK(contains(r.set_mode(shared_mode{owner}, 0s, fx), "shared"));
  const conn_id c = owned(r);
  r.add(other, "other owner", here, 0s, fx);
  REQUIRE(r.set_mode(shared_mode{owner}, 0s, fx).ok());
  REQUIRE(kinds(fx) == std::vector{kind::give_back});  // the other owner's
  fx.clear();
  CHECK(r.repeat_checkout(worker) == checkout_result::already_allowed);
  CHECK(r.lease(worker, here, 0s).how == lease_answer::kind::turn);
  r.end_turn(c, 0s, fx);
  REQUIRE(r.checkin(owner, 1s, fx).ok());
  CHECK(std::holds_alternative<manual_mode>(r.current_mode()));
}

TEST_CASE("tokens name the owner's connection and die with its checkout") {
  registry r = make();
  owned(r);
  auto t = r.issue_token(owner, {1, 2, 3});
  REQUIRE(t.ok());
  effects fx;
  REQUIRE(r.adopt_token(worker, *t, fx).ok());
  CHECK(r.root_conn(worker) == r.root_conn(owner));
  auto forged = *t;
  forged.secret[0] ^= 1;
  CHECK(r.adopt_token(other, forged, fx).code() == absl::StatusCode::kPermissionDenied);
  REQUIRE(r.checkin(owner, 1s, fx).ok());
  CHECK(r.adopt_token(other, *t, fx).code() == absl::StatusCode::kPermissionDenied);
}
