// The thread's keep (core_keep.hpp): a thread gets the connection it returned
// back without the lock; a caller that would queue takes a kept connection;
// housekeeping takes kept connections back every round, so lifetime, idle
// timeout, validation and shutdown treat them as idle; metrics count them
// as idle.
#include <doctest/doctest.h>

#include <future>
#include <optional>
#include <thread>
#include <utility>

#include "fake_pool.hpp"

namespace sandpool::test {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a thread gets its kept connection back, counted as a checkout with no wait") {
  fixture f(warm_options(2));
  f.pool.maintain();
  int first = -1;
  {
    auto l = f.pool.checkout();
    REQUIRE(l.ok());
    first = (*l)->id;
  }
  for (int i = 0; i < 5; ++i) {
    auto l = f.pool.checkout();
    REQUIRE(l.ok());
    CHECK((*l)->id == first);
  }
  const metrics m = f.pool.metrics();
  CHECK(m.checkouts == 6);
  CHECK(m.kept_checkouts == 5);
  CHECK(m.idle == 2);
  CHECK(m.in_use == 0);
  CHECK(f.server->validations == 0);
}

TEST_CASE("a caller that would queue takes the connection another thread keeps, at once") {
  fixture f(warm_options(1));
  f.pool.maintain();
  int kept = -1;
  std::thread keeper([&] {
    auto l = f.pool.checkout();
    if (l.ok()) kept = (*l)->id;
  });  // the keeper returns it and keeps it; the thread then ends
  keeper.join();
  REQUIRE(kept >= 0);
  CHECK(f.pool.metrics().idle == 1);
  // Manual housekeeping never runs here: only the steal can serve this.
  auto l = f.pool.checkout(10s);
  REQUIRE(l.ok());
  CHECK((*l)->id == kept);
  CHECK(f.pool.metrics().waiting == 0);
}

TEST_CASE("a thread holding two leases keeps the one it returned last") {
  fixture f(warm_options(2));
  f.pool.maintain();
  auto a = f.pool.checkout();
  auto b = f.pool.checkout();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const int ida = (*a)->id, idb = (*b)->id;
  (void)a->checkin();
  (void)b->checkin();
  const metrics m = f.pool.metrics();
  CHECK(m.idle == 2);
  CHECK(m.in_use == 0);
  auto c = f.pool.checkout();
  auto d = f.pool.checkout();
  REQUIRE(c.ok());
  REQUIRE(d.ok());
  CHECK((*c)->id == idb);
  CHECK((*d)->id == ida);
}

TEST_CASE("housekeeping takes a kept connection back: the idle timeout closes it") {
  pool_options o = manual_options(2);
  o.idle_timeout = 1min;
  fixture f(o);
  f.pool.maintain();  // min_idle 0: opens nothing
  std::thread keeper([&] {
    auto l = f.pool.checkout(10s);  // queues until the round below opens one
    (void)l;
  });  // returned and kept by a thread that then ends
  f.await_waiting(1);
  f.pool.maintain();
  keeper.join();
  CHECK(f.server->connects == 1);
  CHECK(f.pool.metrics().idle == 1);
  // A round is due within half validation_bypass while connections are
  // open; it takes the kept connection back.
  const auto due = f.pool.maintain();
  CHECK(due <= f.clock.now() + o.validation_bypass / 2);
  f.clock.advance(2min);
  f.pool.maintain();
  const metrics m = f.pool.metrics();
  CHECK(f.server->closes == 1);
  CHECK(m.size == 0);
  CHECK(m.discarded_for(discard_reason::idle) == 1);
}

TEST_CASE("a kept connection idle past validation_bypass is validated before reuse") {
  fixture f(warm_options(1));
  f.pool.maintain();
  { auto l = f.pool.checkout(); }
  { auto l = f.pool.checkout(); }
  CHECK(f.server->validations == 0);
  f.clock.advance(2s);  // past the 500 ms default, with no round in between
  auto l = f.pool.checkout();
  REQUIRE(l.ok());
  CHECK(f.server->validations == 1);
}

TEST_CASE("a kept connection found dead at that check is closed and replaced") {
  fixture f(warm_options(1));
  f.pool.maintain();
  int first = -1;
  {
    auto l = f.pool.checkout();
    REQUIRE(l.ok());
    first = (*l)->id;
  }
  f.server->kill(first);
  f.clock.advance(2s);  // past validation_bypass, with no round in between
  std::thread helper([&] {
    f.await_waiting(1);
    f.pool.maintain();  // closes the dead one
    f.pool.maintain();  // opens its replacement for the waiter
  });
  auto l = f.pool.checkout(10s);  // checks its kept one, finds it dead, queues
  helper.join();
  REQUIRE(l.ok());
  CHECK((*l)->id != first);
  const metrics m = f.pool.metrics();
  CHECK(m.validation_failures == 1);
  CHECK(m.discarded_for(discard_reason::validation_failed) == 1);
}

TEST_CASE("a kept connection past max_lifetime is closed, not handed out") {
  pool_options o = warm_options(1);
  o.max_lifetime = 1min;
  o.validation_bypass = 1h;
  fixture f(o);
  f.pool.maintain();
  int first = -1;
  {
    auto l = f.pool.checkout();
    first = (*l)->id;
  }
  f.clock.advance(2min);
  int got = -1;
  std::thread next([&] {
    auto l = f.pool.checkout(10s);  // the old one goes; the round below opens another
    if (l.ok()) got = (*l)->id;
  });
  f.await_waiting(1);
  f.pool.maintain();  // closes the old one
  f.pool.maintain();  // opens its replacement for the waiter
  next.join();
  CHECK(got >= 0);
  CHECK(got != first);
  CHECK(f.pool.metrics().discarded_for(discard_reason::expired) == 1);
}

TEST_CASE("shutdown closes the connections threads keep and reports no lease outstanding") {
  fixture f(warm_options(2));
  f.pool.maintain();
  std::thread other([&] { auto l = f.pool.checkout(); });
  other.join();
  { auto l = f.pool.checkout(); }
  CHECK(f.pool.metrics().in_use == 0);
  CHECK(f.pool.shutdown(0s).ok());
  CHECK(f.server->closes == 2);
  auto late = f.pool.checkout();
  CHECK(late.status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("a pool destroyed while this thread keeps its connection leaves nothing behind") {
  auto server = std::make_shared<fake::server>();
  manual_clock clock;
  for (int round = 0; round < 3; ++round) {
    auto p = fake_pool::create(fake::driver(server), warm_options(1), clock);
    REQUIRE(p.ok());
    p->maintain();
    { auto l = p->checkout(); }  // kept by this thread when the pool goes
  }
  CHECK(server->connects == 3);
  CHECK(server->closes == 3);
}

// A lease held by a thread_local is returned while its thread exits, after
// the thread's reference to the pool's slots is gone: it goes back through
// the lock, and nothing leaks (the ASan run checks).
using held_lease = std::optional<decltype(std::declval<fake_pool&>().checkout())>;
thread_local held_lease held_at_exit;

TEST_CASE("a lease returned by a thread_local at thread exit is not kept") {
  fixture f(warm_options(2));
  f.pool.maintain();
  std::thread t([&] {
    held_at_exit.emplace(absl::UnknownError("not yet"));  // constructed first, destroyed last
    { auto l = f.pool.checkout(); }  // the thread's reference to the slots: destroyed before
    auto kept = f.pool.checkout();  // served from the keep
    held_at_exit.emplace(f.pool.checkout());  // through the lock: its hold is timed
    REQUIRE(held_at_exit->ok());
  });
  t.join();
  const metrics m = f.pool.metrics();
  CHECK(m.in_use == 0);
  CHECK(m.idle == 2);
  CHECK(m.hold_time.count == 1);  // the one returned at exit, through the lock
  CHECK(m.kept_checkouts == 1);
}

TEST_CASE("keep_per_thread=false: every checkout goes through the lock") {
  pool_options o = warm_options(1);
  o.keep_per_thread = false;
  fixture f(o);
  f.pool.maintain();
  for (int i = 0; i < 3; ++i) {
    auto l = f.pool.checkout();
    REQUIRE(l.ok());
  }
  const metrics m = f.pool.metrics();
  CHECK(m.kept_checkouts == 0);
  CHECK(m.hold_time.count == 3);
}

}  // namespace
}  // namespace sandpool::test
