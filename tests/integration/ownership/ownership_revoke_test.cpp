// Revocation against a real PostgreSQL: once an owner loses its connection
// (ownership_timeout, its thread ends, or it checks in while an allowed
// worker runs a statement), a lease still held on that connection runs
// nothing more, a statement in flight is cancelled, the transaction is
// rolled back (no row committed, no row lock left) and the connection goes
// back to the pool at once: held leases do not keep it. Every wait is
// bounded: pool statements by statement_timeout = 10s, the observer by
// lock_timeout and statement_timeout, and polls by a few seconds.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pg_env.hpp"
#include "sandpool/ownership/spawn.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "sandpool/sandpool.hpp"

using namespace sandpool;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

std::string app_name() { return "sandpool-own-revoke-" + std::to_string(::getpid()); }
std::string table() { return "own_revoke_items_" + std::to_string(::getpid()); }

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// A sandboxed, manual-mode pool. checkout_timeout is short so that a
// connection a held lease wrongly keeps shows as a failed checkout, not a hang.
pool make_pool(std::size_t size, ownership_options own = {}) {
  auto driver = pq::driver::create(test::dsn_with("application_name=" + app_name()));
  REQUIRE_MESSAGE(driver.ok(), test::text(driver.status()));
  pool_options o;
  o.name = "ownership-revoke-it";
  o.max_size = size;
  o.checkout_timeout = 3s;
  auto p = pool::create(*driver, o, {}, std::move(own));
  REQUIRE_MESSAGE(p.ok(), test::text(p.status()));
  REQUIRE(p->ownership().set_mode(manual_mode{}).ok());
  auto box = install_sandbox(*p);
  REQUIRE_MESSAGE(box.ok(), test::text(box.status()));
  return std::move(*p);
}

ownership_options timeout_after(std::chrono::milliseconds limit) {
  ownership_options own;
  own.ownership_timeout = limit;
  return own;
}

// A plain connection outside the pool, whose waits are bounded.
pq::connection observer() {
  pq::connection c = test::connect();
  REQUIRE(c.exec("SET statement_timeout = '5s'").ok());
  return c;
}

// What the owner does in every test: an uncommitted row and a row lock.
// Bounds the owner's statements (set here, not as a startup option, which
// PgBouncer refuses; the test's rollback undoes it), then writes a row and
// locks another.
absl::Status hold_rows(pq::connection& c) {
  if (auto r = c.exec("SET statement_timeout = '10s'"); !r.ok()) return r.status();
  if (auto r = c.exec("INSERT INTO " + table() + " (id, who) VALUES (2, 'owner')"); !r.ok())
    return r.status();
  return c.exec("SELECT who FROM " + table() + " WHERE id = 1 FOR UPDATE").status();
}

long committed_rows(pq::connection& obs) {
  auto r = obs.exec("SELECT count(*) FROM " + table() + " WHERE id <> 1");
  REQUIRE_MESSAGE(r.ok(), test::text(r.status()));
  return std::stol(std::string(r->get(0, 0)));
}

// Updates the row hold_rows() locks, waiting for the lock up to lock_timeout.
absl::Status update_locked_row(pq::connection& obs, std::string_view lock_timeout) {
  if (auto r = obs.exec("SET lock_timeout = '" + std::string(lock_timeout) + "'"); !r.ok())
    return r.status();
  return obs.exec("UPDATE " + table() + " SET who = 'observer' WHERE id = 1").status();
}

bool row_lock_held(pq::connection& obs) {
  return pq::sqlstate(update_locked_row(obs, "100ms")) == "55P03";  // lock_not_available
}

// Polls `done` until it holds or `within` has passed; rollback and return
// happen on the pool's own threads.
template <class F>
bool eventually(std::chrono::milliseconds within, F done) {
  const auto until = steady::now() + within;
  while (steady::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// True once the pool's backend is running pg_sleep, as the server sees it.
bool sleeping(pq::connection& obs) {
  auto r = obs.exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                    app_name() + "' AND state = 'active' AND query LIKE '%pg_sleep%'");
  return r.ok() && r->get(0, 0) != "0";
}

// One thread telling another that something happened; waits are bounded.
class one_shot {
 public:
  void set() {
    {
      std::lock_guard lk(m_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds within) {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, within, [&] { return set_; });
  }

 private:
  std::mutex m_;  // guards set_
  std::condition_variable cv_;
  bool set_ = false;
};

// A new owner on its own thread checks out, runs a statement and checks in.
absl::Status checkout_elsewhere(pool& p) {
  absl::Status result;
  std::thread([&] {
    name_current_owner("the next owner");
    if (auto r = p.ownership().checkout(); !r.ok()) {
      result = r.status();
      return;
    }
    if (auto l = p.checkout(); !l.ok()) {
      result = l.status();
    } else {
      result = (*l)->exec("SELECT 1").status();
    }
    if (absl::Status s = p.ownership().checkin(); result.ok()) result = s;
  }).join();
  return result;
}

// After the held lease is gone: nothing in use, nobody owning, and the next
// owner gets a working connection.
void check_healthy(pool& p) {
  CHECK(eventually(5s, [&] { return p.metrics().in_use == 0; }));
  const absl::Status next = checkout_elsewhere(p);
  CHECK_MESSAGE(next.ok(), test::text(next));
  CHECK(p.ownership().metrics().owners == 0);
  CHECK(p.metrics().waiting == 0);
}

// The committed table the owners write to: one row (id 1) to lock.
struct table_guard {
  table_guard() {
    pq::connection c = observer();
    REQUIRE(c.exec("DROP TABLE IF EXISTS " + table()).ok());
    REQUIRE(c.exec("CREATE TABLE " + table() + " (id int PRIMARY KEY, who text)").ok());
    REQUIRE(c.exec("INSERT INTO " + table() + " VALUES (1, 'seed')").ok());
  }
  ~table_guard() {
    pq::connection c = test::connect();
    (void)c.exec("SET lock_timeout = '5s'");
    (void)c.exec("DROP TABLE IF EXISTS " + table());
  }
};

// The owner's checkout, lease and rows; the first failure, if any.
absl::Status owner_setup(pool& p, lease& out) {
  if (auto r = p.ownership().checkout(); !r.ok()) return r.status();
  auto l = p.checkout();
  if (!l.ok()) return l.status();
  out = std::move(*l);
  return hold_rows(*out);
}

}  // namespace

PG_TEST_CASE("a lease held idle past ownership_timeout is refused, rolled back and returned") {
  table_guard guard;
  pool p = make_pool(1, timeout_after(1000ms));
  pq::connection obs = observer();
  one_shot ready, go, ran, release;
  absl::Status setup, late;
  std::jthread owner([&] {
    name_current_owner("idle timeout owner");
    lease l;
    setup = owner_setup(p, l);
    ready.set();
    if (!setup.ok() || !go.wait(10s)) return;
    late = l->exec("SELECT 1").status();  // after the deadline, the lease still held
    ran.set();
    (void)release.wait(20s);
  });  // the lease goes before the thread ends: this test is about the timeout
  REQUIRE(ready.wait(10s));
  REQUIRE_MESSAGE(setup.ok(), test::text(setup));
  CHECK_MESSAGE(row_lock_held(obs), "the owner's row lock must be held before the deadline");
  REQUIRE(eventually(5s, [&] { return p.ownership().metrics().timeouts == 1; }));
  go.set();
  REQUIRE(ran.wait(15s));

  const std::string why = test::text(late);
  CAPTURE(why);
  CHECK(late.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(contains(why, "idle timeout owner"));
  CHECK(contains(why, "ownership_timeout"));
  CHECK(contains(why, "held"));
  CHECK(contains(why, " ms"));

  CHECK(committed_rows(obs) == 0);
  absl::Status update;
  CHECK_MESSAGE(eventually(5s, [&] { return (update = update_locked_row(obs, "2s")).ok(); }),
                "the timed-out owner's row lock is still held: ", test::text(update));
  const absl::Status next = checkout_elsewhere(p);  // max_size 1, the lease still held
  CHECK_MESSAGE(next.ok(), "the held lease kept the only connection: ", test::text(next));

  release.set();
  owner.join();
  check_healthy(p);
  CHECK(committed_rows(obs) == 0);
}

PG_TEST_CASE("a statement running at ownership_timeout is cancelled and the lease then refused") {
  table_guard guard;
  pool p = make_pool(2, timeout_after(1000ms));
  pq::connection obs = observer();
  one_shot ready, ran, release;
  absl::Status setup, slow, after;
  steady::duration slow_took{};
  std::jthread owner([&] {
    name_current_owner("sleeping owner");
    lease l;
    setup = owner_setup(p, l);
    ready.set();
    if (!setup.ok()) return;
    const auto start = steady::now();
    slow = l->exec("SELECT pg_sleep(30)").status();
    slow_took = steady::now() - start;
    after = l->exec("SELECT 1").status();
    ran.set();
    (void)release.wait(20s);
  });
  REQUIRE(ready.wait(10s));
  REQUIRE_MESSAGE(setup.ok(), test::text(setup));
  CHECK_MESSAGE(row_lock_held(obs), "the owner's row lock must be held before the deadline");
  REQUIRE(ran.wait(20s));  // statement_timeout ends pg_sleep after 10 s at worst

  CAPTURE(test::text(slow));
  CAPTURE(test::text(after));
  CHECK_FALSE(slow.ok());
  CHECK(contains(test::text(slow), "ownership_timeout"));
  CHECK(slow_took < 5s);
  CHECK(after.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(contains(test::text(after), "ownership_timeout"));

  CHECK(committed_rows(obs) == 0);
  absl::Status update;
  CHECK_MESSAGE(eventually(5s, [&] { return (update = update_locked_row(obs, "2s")).ok(); }),
                "the cancelled owner's row lock is still held: ", test::text(update));

  release.set();
  owner.join();
  check_healthy(p);
}

PG_TEST_CASE("an owner that ends with a lease still held loses the connection at once") {
  table_guard guard;
  pool p = make_pool(1);
  pq::connection obs = observer();
  one_shot ready, go;
  absl::Status setup;
  std::unique_ptr<lease> leftover;  // outlives the owner's thread
  std::jthread owner([&] {
    name_current_owner("exiting owner");
    lease l;
    setup = owner_setup(p, l);
    ready.set();
    if (!setup.ok() || !go.wait(10s)) return;
    leftover = std::make_unique<lease>(std::move(l));
  });
  REQUIRE(ready.wait(10s));
  REQUIRE_MESSAGE(setup.ok(), test::text(setup));
  CHECK_MESSAGE(row_lock_held(obs), "the owner's row lock must be held while it runs");
  go.set();
  owner.join();
  REQUIRE(leftover != nullptr);

  absl::Status update;
  CHECK_MESSAGE(eventually(5s, [&] { return (update = update_locked_row(obs, "2s")).ok(); }),
                "the ended owner's row lock is still held: ", test::text(update));
  CHECK(committed_rows(obs) == 0);
  const absl::Status next = checkout_elsewhere(p);  // max_size 1, the leftover still held
  CHECK_MESSAGE(next.ok(), "the leftover lease kept the only connection: ", test::text(next));

  const absl::Status late = (*leftover)->exec("SELECT 1").status();
  CAPTURE(test::text(late));
  CHECK(late.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(test::text(late), "exiting owner"));
  CHECK(contains(test::text(late), "ended"));

  leftover.reset();
  check_healthy(p);
  CHECK(committed_rows(obs) == 0);
}

PG_TEST_CASE("checkin cancels an allowed worker's statement and refuses the worker after") {
  table_guard guard;
  pool p = make_pool(2);
  pq::connection obs = observer();
  one_shot worker_ready, go, worker_ran, release;
  absl::Status setup, worker_setup, checkin, slow, after, fresh;
  steady::time_point checkin_start{}, slow_end{};
  steady::duration checkin_took{};
  std::jthread owner([&] {
    name_current_owner("checking-in owner");
    if (auto r = p.ownership().checkout(); !r.ok()) {
      setup = r.status();
      worker_ready.set();
      return;
    }
    auto worker = spawn_thread(p, [&] {
      lease l;
      if (auto got = p.checkout(); got.ok()) l = std::move(*got);
      worker_setup = l ? hold_rows(*l) : absl::FailedPreconditionError("worker got no lease");
      worker_ready.set();
      if (!worker_setup.ok()) return;
      slow = l->exec("SELECT pg_sleep(30)").status();
      slow_end = steady::now();
      after = l->exec("SELECT 1").status();
      fresh = p.checkout().status();
      worker_ran.set();
      (void)release.wait(20s);  // the lease stays held while the test looks
    });
    if (!worker.ok()) {
      setup = worker.status();
      worker_ready.set();
      return;
    }
    if (go.wait(10s)) {
      checkin_start = steady::now();
      checkin = p.ownership().checkin();
      checkin_took = steady::now() - checkin_start;
    }
    worker->join();
  });
  REQUIRE(worker_ready.wait(10s));
  REQUIRE_MESSAGE(setup.ok(), test::text(setup));
  REQUIRE_MESSAGE(worker_setup.ok(), test::text(worker_setup));
  CHECK_MESSAGE(row_lock_held(obs), "the worker's row lock must be held before the checkin");
  CHECK(eventually(5s, [&] { return sleeping(obs); }));
  go.set();
  REQUIRE(worker_ran.wait(20s));  // statement_timeout ends pg_sleep after 10 s at worst

  CHECK_MESSAGE(checkin.ok(), test::text(checkin));
  CHECK(checkin_took < 5s);
  CAPTURE(test::text(slow));
  CHECK_FALSE(slow.ok());
  CHECK(slow_end - checkin_start < 5s);
  for (const absl::Status* later : {&after, &fresh}) {
    CAPTURE(test::text(*later));
    CHECK_FALSE(later->ok());
    CHECK(contains(test::text(*later), "checked its connection in"));
  }

  CHECK(committed_rows(obs) == 0);
  absl::Status update;
  CHECK_MESSAGE(eventually(5s, [&] { return (update = update_locked_row(obs, "2s")).ok(); }),
                "the checked-in owner's row lock is still held: ", test::text(update));

  release.set();
  owner.join();
  check_healthy(p);
}

PG_TEST_CASE("no connection of the revocation tests is left open after their pools are gone") {
  pq::connection obs = observer();
  CHECK(eventually(5s, [&] {
    auto r = obs.exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                      app_name() + "'");
    return r.ok() && r->get(0, 0) == "0";
  }));
}
