// The pool's session reset against a real server: what each policy leaves
// for the next lease of the same connection (settings, prepared statements,
// LISTEN, advisory locks, temp tables, cursors WITH HOLD), a connection
// returned inside a transaction, a custom reset that fails, and the cost on
// the returning caller (the reset rides on the socket; the next use reads it).
#include <doctest/doctest.h>

#include <string>

#include "pg_env.hpp"
#include "pool_it_env.hpp"
#include "sandpool/sandpool.hpp"

namespace sandpool::test {
namespace {

// A pool of one connection, so every lease gets the same backend.
sandpool::pool one_connection_pool(const std::string& app, pq::session_reset reset) {
  pool_options o = options_for(app);
  o.max_size = 1;
  absl::StatusOr<sandpool::pool> p =
      sandpool::pool::create(make_driver(pool_dsn(app), {std::move(reset)}), std::move(o));
  REQUIRE_MESSAGE(p.ok(), text(p));
  return *std::move(p);
}

std::string one(sandpool::lease& l, const std::string& sql) {
  absl::StatusOr<pq::result> r = l->exec(sql);
  REQUIRE_MESSAGE(r.ok(), text(r));
  return std::string(r->get(0, 0));
}

sandpool::lease take(sandpool::pool& p) {
  absl::StatusOr<sandpool::lease> l = p.checkout();
  REQUIRE_MESSAGE(l.ok(), text(l));
  return *std::move(l);
}

// Leaves every kind of session state behind; returns the backend's pid.
std::string dirty_the_session(sandpool::pool& p) {
  sandpool::lease l = take(p);
  for (const char* sql :
       {"SET statement_timeout = '1234ms'", "SET search_path = pg_catalog",
        "PREPARE kept AS SELECT 41 + 1", "LISTEN sandpool_reset_channel",
        "SELECT pg_advisory_lock(424242)", "CREATE TEMP TABLE scratch (x int)",
        "BEGIN", "DECLARE held CURSOR WITH HOLD FOR SELECT 1", "COMMIT"}) {
    absl::StatusOr<pq::result> r = l->exec(sql);
    REQUIRE_MESSAGE(r.ok(), text(r));
  }
  return one(l, "SELECT pg_backend_pid()");
}

struct session_view {
  std::string pid, timeout, search_path, prepared, listening, advisory, temp, cursors;
};

session_view look(sandpool::pool& p) {
  sandpool::lease l = take(p);
  session_view v;
  v.pid = one(l, "SELECT pg_backend_pid()");
  v.timeout = one(l, "SHOW statement_timeout");
  v.search_path = one(l, "SHOW search_path");
  v.prepared = one(l, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'kept'");
  v.listening = one(l, "SELECT count(*) FROM pg_listening_channels()");
  v.advisory = one(l,
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                   "pid = pg_backend_pid()");
  v.temp = one(l, "SELECT count(*) FROM pg_class WHERE relname = 'scratch' AND "
                  "relpersistence = 't'");
  v.cursors = one(l, "SELECT count(*) FROM pg_cursors");
  return v;
}

PG_TEST_CASE("keep_prepared (the default) undoes the session's state but its prepared statements") {
  const std::string app = app_name("reset-keep");
  {
    absl::StatusOr<pq::driver> d = pq::driver::create(dsn());
    REQUIRE(d.ok());
    CHECK(d->reset_policy().name() == "keep_prepared");
    sandpool::pool p = one_connection_pool(app, pq::session_reset::keep_prepared());
    const std::string pid = dirty_the_session(p);
    const session_view v = look(p);
    CHECK(v.pid == pid);  // the same connection: it was reset, not replaced
    CHECK(v.timeout == "0");
    CHECK(v.search_path == "\"$user\", public");
    CHECK(v.prepared == "1");
    CHECK(v.listening == "0");
    CHECK(v.advisory == "0");
    CHECK(v.temp == "0");
    CHECK(v.cursors == "0");
    CHECK(p.metrics().discarded == 0);
  }
  check_no_leak(app);
}

PG_TEST_CASE("discard_all leaves a session as fresh as a new connection's") {
  const std::string app = app_name("reset-discard");
  {
    sandpool::pool p = one_connection_pool(app, pq::session_reset::discard_all());
    const std::string pid = dirty_the_session(p);
    const session_view v = look(p);
    CHECK(v.pid == pid);
    CHECK(v.timeout == "0");
    CHECK(v.prepared == "0");
    CHECK(v.listening == "0");
    CHECK(v.advisory == "0");
    CHECK(v.temp == "0");
    CHECK(v.cursors == "0");
  }
  check_no_leak(app);
}

PG_TEST_CASE("none passes the session's state on, and costs no request on a clean return") {
  const std::string app = app_name("reset-none");
  {
    sandpool::pool p = one_connection_pool(app, pq::session_reset::none());
    const std::string pid = dirty_the_session(p);
    const session_view v = look(p);
    CHECK(v.pid == pid);
    CHECK(v.timeout == "1234ms");
    CHECK(v.prepared == "1");
    CHECK(v.listening == "1");
    CHECK(v.advisory == "1");
    CHECK(v.temp == "1");
    std::uint64_t before = 0;
    {
      sandpool::lease l = take(p);
      before = l->round_trips();
    }
    sandpool::lease l = take(p);
    CHECK(l->round_trips() == before);
  }
  check_no_leak(app);
}

PG_TEST_CASE("the reset is one request, queued by the returning caller and read by the next use") {
  const std::string app = app_name("reset-cost");
  {
    sandpool::pool p = one_connection_pool(app, pq::session_reset::keep_prepared());
    std::uint64_t before = 0;
    {
      sandpool::lease l = take(p);
      (void)one(l, "SHOW search_path");
      REQUIRE(l->exec("SET search_path = pg_catalog").ok());
      before = l->round_trips();
    }
    sandpool::lease l = take(p);
    CHECK(l->round_trips() == before + 1);  // the reset, sent at the return
    CHECK(l->reset_pending());              // not waited for by anyone yet
    CHECK(one(l, "SELECT 2") == "2");       // reads the reset's answer first
    CHECK_FALSE(l->reset_pending());
    CHECK(l->round_trips() == before + 2);
  }
  check_no_leak(app);
}

PG_TEST_CASE("a lease that changes nothing owes no reset, unless always(); native() counts as a change") {
  const std::string app = app_name("reset-owed");
  {
    sandpool::pool p = one_connection_pool(app, pq::session_reset::keep_prepared());
    std::uint64_t before = 0;
    {
      sandpool::lease l = take(p);
      (void)one(l, "SELECT 1");
      before = l->round_trips();
    }
    {
      sandpool::lease l = take(p);
      CHECK(l->round_trips() == before);  // nothing sent for the clean return
      CHECK_FALSE(l->reset_pending());
      PGresult* r = PQexec(l->native(), "SET statement_timeout = '4321ms'");
      PQclear(r);
      before = l->round_trips();
    }
    sandpool::lease l = take(p);
    CHECK(l->round_trips() == before + 1);  // native() use: reset
    CHECK(one(l, "SHOW statement_timeout") == "0");
  }
  {
    sandpool::pool p = one_connection_pool(app, pq::session_reset::discard_all().always());
    std::uint64_t before = 0;
    {
      sandpool::lease l = take(p);
      (void)one(l, "SELECT 1");
      before = l->round_trips();
    }
    sandpool::lease l = take(p);
    CHECK(l->round_trips() == before + 1);
  }
  check_no_leak(app);
}

PG_TEST_CASE("a connection returned inside a transaction is rolled back and reset") {
  const std::string app = app_name("reset-dirty");
  {
    sandpool::pool p = one_connection_pool(app, pq::session_reset::keep_prepared());
    {
      sandpool::lease l = take(p);
      for (const char* sql : {"BEGIN", "SET statement_timeout = '777ms'",
                              "CREATE TEMP TABLE scratch (x int)", "COMMIT",
                              "BEGIN", "INSERT INTO scratch VALUES (1)"}) {
        REQUIRE(l->exec(sql).ok());
      }
    }
    const session_view v = look(p);
    CHECK(v.timeout == "0");
    CHECK(v.temp == "0");
    CHECK(p.metrics().resets == 1);
  }
  check_no_leak(app);
}

PG_TEST_CASE("custom: your statements run after each lease; one that fails fails the connect") {
  const std::string app = app_name("reset-custom");
  {
    absl::StatusOr<pq::session_reset> reset = pq::session_reset::custom({"RESET statement_timeout"});
    REQUIRE(reset.ok());
    sandpool::pool p = one_connection_pool(app, *reset);
    (void)dirty_the_session(p);
    const session_view v = look(p);
    CHECK(v.timeout == "0");
    CHECK(v.search_path == "pg_catalog");  // only what the statement resets
  }
  check_no_leak(app);

  CHECK(pq::session_reset::custom({}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(pq::session_reset::custom({" ; "}).status().code() == absl::StatusCode::kInvalidArgument);

  absl::StatusOr<pq::session_reset> bad = pq::session_reset::custom({"RESET no_such_setting_x"});
  REQUIRE(bad.ok());
  pool_options o = options_for(app_name("reset-custom-bad"));
  o.max_size = 1;
  o.initial_connect_timeout = std::chrono::seconds(5);
  absl::StatusOr<sandpool::pool> p =
      sandpool::pool::create(make_driver(dsn(), {*bad}), std::move(o));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(text(p).find("custom session reset failed") != std::string::npos);
  CHECK(text(p).find("no_such_setting_x") != std::string::npos);

  // Checked as it runs after a lease: DISCARD ALL refuses to share the
  // implicit transaction with another statement.
  absl::StatusOr<pq::session_reset> shared = pq::session_reset::custom({"UNLISTEN *", "DISCARD ALL"});
  REQUIRE(shared.ok());
  pool_options o2 = options_for(app_name("reset-custom-shared"));
  o2.max_size = 1;
  o2.initial_connect_timeout = std::chrono::seconds(5);
  absl::StatusOr<sandpool::pool> p2 =
      sandpool::pool::create(make_driver(dsn(), {*shared}), std::move(o2));
  REQUIRE_FALSE(p2.ok());
  CHECK(p2.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(text(p2).find("DISCARD ALL") != std::string::npos);
}

}  // namespace
}  // namespace sandpool::test
