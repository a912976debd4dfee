// Nothing carries over between owners of one connection: on a pool of
// size 1, the next test sees none of the previous test's session state,
// sandboxed or not (prepared statements, session advisory locks, settings,
// temp tables), and the reset adds no round trip to the sandboxed checkin.
#include <libpq-fe.h>

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "pool_it_env.hpp"
#include "sandbox_env.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

std::string scalar(pq::connection& c, const std::string& sql) {
  return std::string(must(c.exec(sql)).get(0, 0));
}

// Advisory locks held by the sandbox pool's backends, seen from outside.
std::string advisory_locks_held() {
  return std::string(committed("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a "
                               "USING (pid) WHERE l.locktype = 'advisory' AND "
                               "a.application_name = '" + sandbox_app() + "'")
                         .get(0, 0));
}

}  // namespace

PG_TEST_CASE("the next sandboxed test on the connection sees no prepared statement or lock") {
  ensure_ledger();
  pool p = make_sandbox_pool(dsn(), 1);
  auto box = install_sandbox(p);
  REQUIRE(box.ok());
  for (int test = 0; test < 2; ++test) {
    CAPTURE(test);
    REQUIRE(p.ownership().checkout().ok());
    {
      auto l = p.checkout();
      REQUIRE(l.ok());
      pq::connection& c = **l;
      // The same names each time: a leftover would make these fail (42P05).
      must(c.exec("PREPARE sandpool_reset_probe AS SELECT 1"));
      CHECK(scalar(c, "SELECT pg_try_advisory_lock(4242)") == "t");
      CHECK(scalar(c, "SELECT count(*) FROM pg_prepared_statements") == "1");
    }
    REQUIRE(p.ownership().checkin().ok());
    // The ROLLBACK and the reset are not waited for; reading from outside
    // needs them done: the next checkout settles them first.
    REQUIRE(p.ownership().checkout().ok());
    {
      auto l = p.checkout();
      REQUIRE(l.ok());
      CHECK(scalar(**l, "SELECT count(*) FROM pg_prepared_statements") == "0");
    }
    CHECK(advisory_locks_held() == "0");
    REQUIRE(p.ownership().checkin().ok());
  }
}

PG_TEST_CASE("an unsandboxed test's settings and temp tables do not reach the next test") {
  ensure_ledger();
  pool p = make_sandbox_pool(dsn(), 1);
  auto box = install_sandbox(p);
  REQUIRE(box.ok());
  std::string default_path;
  REQUIRE(p.ownership().checkout({.sandbox = false}).ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    default_path = scalar(**l, "SHOW search_path");
    must((*l)->exec("SET search_path = pg_catalog"));
    must((*l)->exec("SET statement_timeout = '1234ms'"));
    must((*l)->exec("CREATE TEMP TABLE sandpool_reset_temp (x int)"));
    must((*l)->exec("SELECT pg_advisory_lock(4343)"));
  }
  REQUIRE(p.ownership().checkin().ok());
  REQUIRE(p.ownership().checkout().ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    CHECK(scalar(**l, "SHOW search_path") == default_path);
    CHECK(scalar(**l, "SHOW statement_timeout") == "0");
    CHECK(scalar(**l, "SELECT to_regclass('pg_temp.sandpool_reset_temp') IS NULL") == "t");
  }
  CHECK(advisory_locks_held() == "0");
  REQUIRE(p.ownership().checkin().ok());
}

PG_TEST_CASE("a test whose transaction ended behind the sandbox's back still leaves nothing") {
  ensure_ledger();
  pool p = make_sandbox_pool(dsn(), 1);
  auto box = install_sandbox(p);
  REQUIRE(box.ok());
  REQUIRE(p.ownership().checkout().ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    must((*l)->exec("PREPARE sandpool_reset_gone AS SELECT 1"));
    PQclear(PQexec((*l)->native(), "COMMIT"));  // refused by the guard; the block is gone
  }
  CHECK(p.ownership().checkin().code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(p.ownership().checkout().ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    CHECK(scalar(**l, "SELECT count(*) FROM pg_prepared_statements") == "0");
  }
  REQUIRE(p.ownership().checkin().ok());
}

PG_TEST_CASE("a test that sent nothing leaves no opening to the connection's next lease") {
  using namespace std::chrono_literals;
  ownership_options own;
  own.ownership_timeout = 300ms;
  sandboxed s({}, 1, own);
  REQUIRE(s.checkin().ok());
  for (const bool timed_out : {false, true}) {
    CAPTURE(timed_out);
    REQUIRE(s.p.ownership().checkout().ok());
    {
      auto l = s.p.checkout();
      REQUIRE(l.ok());
      CHECK((*l)->opening_deferred());  // this backend opened once already
    }
    if (timed_out) {
      const auto before = s.p.ownership().metrics().timeouts;
      CHECK(eventually([&] { return s.p.ownership().metrics().timeouts > before; }, 10s));
      (void)s.p.ownership().checkin();  // reports the timeout
    } else {
      REQUIRE(s.p.ownership().checkin().ok());
    }
    // The next owner, unsandboxed: its statements run on their own.
    REQUIRE(s.p.ownership().checkout({.sandbox = false}).ok());
    {
      auto l = s.p.checkout();
      REQUIRE(l.ok());
      CHECK_FALSE((*l)->opening_deferred());
      CHECK(scalar(**l, "SELECT pg_catalog.txid_current_if_assigned() IS NULL AND "
                        "pg_catalog.now() = pg_catalog.statement_timestamp()") == "t");
      CHECK((*l)->server_transaction_status() == tx_status::idle);
    }
    REQUIRE(s.p.ownership().checkin().ok());
  }
}

PG_TEST_CASE("the reset rides along the checkin's ROLLBACK: a sandboxed test is one round trip") {
  sandboxed s({}, 1);
  REQUIRE(s.c().exec("SELECT 1").ok());  // the test ran something
  const auto before = s.c().round_trips();
  REQUIRE(s.checkin().ok());
  REQUIRE(s.p.ownership().checkout().ok());
  auto l = s.p.checkout();
  REQUIRE(l.ok());
  // checkin's ROLLBACK + DISCARD ALL, one request; the next checkout sends
  // nothing until the test's first statement, which carries BEGIN.
  CHECK((*l)->round_trips() - before == 1);
  CHECK((*l)->opening_deferred());
  REQUIRE((*l)->exec("SELECT 1").ok());
  CHECK((*l)->round_trips() - before == 2);
  s.lease = std::move(*l);
}

}  // namespace sandpool::test

namespace sandpool::test {

// Terminates c's backend and waits until the server has let it go.
static void terminate_backend(const pq::connection& c) {
  pq::connection admin = connect();
  const std::string pid = std::to_string(c.backend_pid());
  must(admin.exec("SELECT pg_terminate_backend(" + pid + ")"));
  for (int i = 0; i < 500; ++i) {
    if (must(admin.exec("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid))
            .get(0, 0) == "0")
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("backend " << pid << " did not go away");
}

PG_TEST_CASE("a lost connection's error gives the server's reason, not the sandbox's statements") {
  // BEGIN is one plain query, which reads the server's FATAL; the others
  // are pipelined, where libpq hands that FATAL to the notice receiver only.
  for (const char* sql : {"BEGIN", "SELECT 1", "INSERT INTO no_such_table_x VALUES (1); COMMIT"}) {
    CAPTURE(sql);
    sandboxed s;
    terminate_backend(s.c());
    auto r = s.c().exec(sql);
    const std::string why = text(r.status());
    CAPTURE(why);
    CHECK(r.status().code() == absl::StatusCode::kUnavailable);
    if (std::string_view(sql) == "BEGIN") {
      CHECK(pq::sqlstate(r.status()) == "57P01");
      CHECK(contains(why, "terminating connection due to administrator command"));
    }
    CHECK(contains(why, "was lost"));
    CHECK(contains(why, "(while running: " + std::string(sql).substr(0, 20)));
    CHECK_FALSE(contains(why, "sandpool_tx"));
    CHECK(s.c().transaction_status() == tx_status::broken);
    const absl::Status checkin = s.checkin();
    CHECK(checkin.code() == absl::StatusCode::kUnavailable);
  }
}

}  // namespace sandpool::test
