// Ownership against a real PostgreSQL: an owner's allowed worker thread sees
// the owner's uncommitted rows on the same connection, another owner does
// not, and once the owner ends or times out its transaction is rolled back
// and no connection is leaked.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "pg_env.hpp"
#include "sandpool/ownership/spawn.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "sandpool/sandpool.hpp"

using namespace sandpool;
using namespace std::chrono_literals;

namespace {

std::string app_name() { return "sandpool-own-" + std::to_string(::getpid()); }
std::string table() { return "own_items_" + std::to_string(::getpid()); }

pool make_pool(ownership_options own = {}) {
  auto driver = pq::driver::create(test::dsn_with("application_name=" + app_name()));
  REQUIRE_MESSAGE(driver.ok(), test::text(driver.status()));
  pool_options o;
  o.name = "ownership-it";
  o.max_size = 4;
  o.checkout_timeout = 10s;
  auto p = pool::create(*driver, o, {}, std::move(own));
  REQUIRE(p.ok());
  return std::move(*p);
}

long count_rows(pool& p) {
  auto l = p.checkout();
  REQUIRE_MESSAGE(l.ok(), test::text(l.status()));
  auto r = (*l)->exec("SELECT count(*) FROM " + table());
  REQUIRE_MESSAGE(r.ok(), test::text(r.status()));
  return std::stol(std::string(r->get(0, 0)));
}

// Polls `done` for up to 10 s: housekeeping rolls back on its own thread.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

struct table_guard {
  table_guard() {
    pool p = make_pool();
    auto l = p.checkout();
    REQUIRE(l.ok());
    REQUIRE((*l)->exec("CREATE TABLE IF NOT EXISTS " + table() + " (id serial, who text)").ok());
  }
  ~table_guard() {
    pool p = make_pool();
    if (auto l = p.checkout(); l.ok()) (void)(*l)->exec("DROP TABLE IF EXISTS " + table());
  }
};

}  // namespace

TEST_CASE("allowed workers see the owner's uncommitted rows; other owners do not") {
  if (test::integration_skipped()) return;
  table_guard guard;
  pool p = make_pool();
  REQUIRE(p.ownership().set_mode(manual_mode{}).ok());
  long seen_by_worker = -1, seen_by_stranger = -1;
  std::thread owner([&] {
    REQUIRE(p.ownership().checkout({.sandbox = false}).ok());
    {
      auto l = p.checkout();
      REQUIRE(l.ok());
      REQUIRE((*l)->exec("BEGIN").ok());
      REQUIRE((*l)->exec("INSERT INTO " + table() + " (who) VALUES ('owner')").ok());
    }
    auto worker = spawn_thread(p, [&] { seen_by_worker = count_rows(p); });
    REQUIRE(worker.ok());
    worker->join();
    std::thread stranger([&] {
      REQUIRE(p.ownership().checkout({.sandbox = false}).ok());
      seen_by_stranger = count_rows(p);
      REQUIRE(p.ownership().checkin().ok());
    });
    stranger.join();
    // Ends without checkin: the pool reclaims and rolls back.
  });
  owner.join();
  CHECK(seen_by_worker == 1);
  CHECK(seen_by_stranger == 0);
  REQUIRE(p.ownership().set_mode(auto_mode{}).ok());
  CHECK(eventually([&] { return p.metrics().in_use == 0 && count_rows(p) == 0; }));
  CHECK(p.ownership().metrics().reclaims == 1);
}

TEST_CASE("the reaper rolls back an owner that holds on past ownership_timeout") {
  if (test::integration_skipped()) return;
  table_guard guard;
  ownership_options own;
  own.ownership_timeout = 300ms;
  pool p = make_pool(own);
  REQUIRE(p.ownership().set_mode(manual_mode{}).ok());
  REQUIRE(p.ownership().checkout({.sandbox = false}).ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    REQUIRE((*l)->exec("BEGIN").ok());
    REQUIRE((*l)->exec("INSERT INTO " + table() + " (who) VALUES ('slow')").ok());
  }
  CHECK(eventually([&] { return p.ownership().metrics().timeouts == 1; }));
  const auto late = p.checkout();
  CHECK(late.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(test::text(late.status()).find("ownership_timeout (300 ms)") != std::string::npos);
  REQUIRE(p.ownership().set_mode(auto_mode{}).ok());
  CHECK(eventually([&] { return p.metrics().in_use == 0 && count_rows(p) == 0; }));
}

TEST_CASE("a statement the ownership timeout interrupts says so, not 'user request'") {
  if (test::integration_skipped()) return;
  ownership_options own;
  own.ownership_timeout = 300ms;
  pool p = make_pool(own);
  REQUIRE(p.ownership().set_mode(manual_mode{}).ok());
  REQUIRE(p.ownership().checkout({.sandbox = false}).ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    const auto slow = (*l)->exec("SELECT pg_sleep(30)");
    const std::string why = test::text(slow.status());
    CAPTURE(why);
    CHECK(slow.status().code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(pq::sqlstate(slow.status()) == "57014");
    CHECK(why.find("past ownership_timeout (300 ms)") != std::string::npos);
    CHECK(why.find("held its connection for") != std::string::npos);
    CHECK(why.find("(while running: SELECT pg_sleep(30))") != std::string::npos);
    CHECK(why.find("user request") == std::string::npos);
  }
  REQUIRE(p.ownership().set_mode(auto_mode{}).ok());
  CHECK(eventually([&] { return p.metrics().in_use == 0; }));
}

TEST_CASE("no connection is left open after the pools above are gone") {
  if (test::integration_skipped()) return;
  auto driver = pq::driver::create(test::dsn());
  REQUIRE(driver.ok());
  auto c = driver->connect();
  REQUIRE(c.ok());
  CHECK(eventually([&] {
    auto r = c->exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                     app_name() + "'");
    return r.ok() && r->get(0, 0) == "0";
  }));
}

TEST_CASE("a sandboxed checkout on a pool with no sandbox installed is refused, not committed") {
  if (test::integration_skipped()) return;
  pool p = make_pool();
  REQUIRE(p.ownership().set_mode(manual_mode{}).ok());
  auto r = p.ownership().checkout();  // sandbox on by default, none installed
  REQUIRE_FALSE(r.ok());
  const std::string m = test::text(r.status());
  INFO(m);
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(m.find("no sandbox is installed on this pool") != std::string::npos);
  CHECK(m.find("sandpool::install_sandbox(pool)") != std::string::npos);
  CHECK(m.find("{.sandbox = false}") != std::string::npos);
  CHECK(p.metrics().in_use == 0);  // nothing was checked out
  CHECK(p.ownership().checkout({.sandbox = false}).ok());
  REQUIRE(p.ownership().checkin().ok());
}
