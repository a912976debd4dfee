// Cleanup strategies against a real server: DELETE follows foreign keys
// (children first, cycles in one statement), TRUNCATE takes the set at once
// or cascades, `only` / `except` pick the tables, a cleanup is all or
// nothing, and a database that is not a test database is refused before
// anything is read. Each test case works in a schema of its own process, so
// suites running beside it are untouched.
#include "sandpool/testing/cleanup.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "pg_env.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

const std::string schema = "cleanup_" + std::to_string(::getpid());

void run(pq::connection& c, const std::string& sql) {
  absl::StatusOr<pq::result> r = c.exec(sql);
  REQUIRE_MESSAGE(r.ok(), text(r));
}

long count(pq::connection& c, const std::string& table) {
  absl::StatusOr<pq::result> r = c.exec("SELECT count(*) FROM " + schema + "." + table);
  REQUIRE_MESSAGE(r.ok(), text(r));
  return std::stol(std::string(r->get(0, 0)));
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// parent <- child <- grandchild with RESTRICT keys (a wrong order fails),
// an unrelated table and a log table, each holding rows.
struct family {
  pq::connection c = connect();
  family() {
    run(c, "SET client_min_messages = warning");  // no NOTICEs from DROP ... CASCADE
    run(c, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
    run(c, "SET search_path = " + schema);
    run(c,
        "CREATE TABLE parent (id serial PRIMARY KEY);"
        "CREATE TABLE child (id serial PRIMARY KEY,"
        "  parent_id int NOT NULL REFERENCES parent ON DELETE RESTRICT);"
        "CREATE TABLE grandchild (id serial PRIMARY KEY,"
        "  child_id int NOT NULL REFERENCES child ON DELETE RESTRICT);"
        "CREATE TABLE audit (id serial PRIMARY KEY, what text);"
        "CREATE TABLE log (id serial PRIMARY KEY, line text)");
    fill();
  }
  ~family() { (void)c.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); }
  void fill() {
    run(c,
        "INSERT INTO parent DEFAULT VALUES; INSERT INTO parent DEFAULT VALUES;"
        "INSERT INTO child (parent_id) SELECT id FROM parent;"
        "INSERT INTO grandchild (child_id) SELECT id FROM child;"
        "INSERT INTO audit (what) VALUES ('a'); INSERT INTO log (line) VALUES ('l')");
  }
  cleanup_strategy strategy(cleanup_kind kind) const {
    cleanup_strategy s;
    s.kind = kind;
    s.schemas = {schema};
    return s;
  }
  std::string q(const std::string& table) const { return "\"" + schema + "\".\"" + table + "\""; }
};

}  // namespace

PG_TEST_CASE("DELETE empties children before parents, in one round trip") {
  family f;
  const cleanup_strategy s = f.strategy(cleanup_kind::delete_rows);
  const std::uint64_t before = f.c.round_trips();
  absl::StatusOr<cleanup_plan> plan = plan_cleanup(f.c, s);
  REQUIRE_MESSAGE(plan.ok(), text(plan));
  CHECK(f.c.round_trips() - before == 1);  // one catalog query
  const auto& t = plan->tables;
  REQUIRE(t.size() == 5);
  auto at = [&](const std::string& name) { return std::find(t.begin(), t.end(), f.q(name)); };
  CHECK(at("grandchild") < at("child"));
  CHECK(at("child") < at("parent"));
  CHECK(plan->outside_references.empty());

  REQUIRE_MESSAGE(run_cleanup(f.c, s).ok(), text(run_cleanup(f.c, s)));
  for (const char* table : {"parent", "child", "grandchild", "audit", "log"})
    CHECK_MESSAGE(count(f.c, table) == 0, table);
  CHECK(f.c.transaction_status() == tx_status::idle);
}

PG_TEST_CASE("a plan made once cleans again in two round trips, on any connection") {
  family f;
  absl::StatusOr<cleanup_plan> plan = plan_cleanup(f.c, f.strategy(cleanup_kind::delete_rows));
  REQUIRE_MESSAGE(plan.ok(), text(plan));
  pq::connection other = connect();
  for (pq::connection* c : {&f.c, &other, &f.c}) {
    const std::uint64_t before = c->round_trips();
    const absl::Status st = run_cleanup(*c, *plan);
    REQUIRE_MESSAGE(st.ok(), text(st));
    CHECK(c->round_trips() - before == 2);  // the safeguard, then the cleanup
    CHECK(count(f.c, "grandchild") == 0);
    CHECK(count(f.c, "parent") == 0);
    f.fill();
  }
  run(f.c, "DROP TABLE " + schema + ".log");
  const absl::Status stale = run_cleanup(f.c, *plan);
  CHECK(pq::sqlstate(stale) == "42P01");
  CHECK_MESSAGE(has(text(stale), "make a new plan"), text(stale));
  CHECK(count(f.c, "parent") == 2);
}

PG_TEST_CASE("TRUNCATE takes the whole set in one statement") {
  family f;
  cleanup_strategy s = f.strategy(cleanup_kind::truncate);
  s.restart_identity = true;
  absl::StatusOr<cleanup_plan> plan = plan_cleanup(f.c, s);
  REQUIRE_MESSAGE(plan.ok(), text(plan));
  CHECK(has(plan->sql, "TRUNCATE "));
  CHECK(has(plan->sql, "RESTART IDENTITY"));
  CHECK_FALSE(has(plan->sql, "CASCADE"));
  REQUIRE_MESSAGE(run_cleanup(f.c, s).ok(), text(run_cleanup(f.c, s)));
  CHECK(count(f.c, "parent") == 0);
  CHECK(count(f.c, "grandchild") == 0);
  f.fill();
  absl::StatusOr<pq::result> first = f.c.exec("SELECT min(id) FROM " + schema + ".parent");
  REQUIRE(first.ok());
  CHECK(first->get(0, 0) == "1");  // sequences restarted
}

PG_TEST_CASE("only: the named tables, nothing else") {
  family f;
  cleanup_strategy s = f.strategy(cleanup_kind::delete_rows);
  s.only = {"grandchild", schema + ".child"};
  REQUIRE_MESSAGE(run_cleanup(f.c, s).ok(), text(run_cleanup(f.c, s)));
  CHECK(count(f.c, "grandchild") == 0);
  CHECK(count(f.c, "child") == 0);
  CHECK(count(f.c, "parent") == 2);
  CHECK(count(f.c, "audit") == 1);
}

PG_TEST_CASE("except: every table but the named ones") {
  family f;
  cleanup_strategy s = f.strategy(cleanup_kind::truncate);
  s.except = {"log"};
  REQUIRE_MESSAGE(run_cleanup(f.c, s).ok(), text(run_cleanup(f.c, s)));
  CHECK(count(f.c, "parent") == 0);
  CHECK(count(f.c, "audit") == 0);
  CHECK(count(f.c, "log") == 1);
}

PG_TEST_CASE("a DELETE blocked by a table outside the set removes nothing") {
  family f;
  cleanup_strategy s = f.strategy(cleanup_kind::delete_rows);
  s.only = {"parent", "audit"};
  const absl::Status st = run_cleanup(f.c, s);
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(pq::sqlstate(st) == "23503");
  CHECK_MESSAGE(has(text(st), schema + ".child -> " + schema + ".parent"), text(st));
  CHECK_MESSAGE(has(text(st), "nothing was removed"), text(st));
  CHECK_MESSAGE(has(text(st), "`only`"), text(st));
  CHECK(count(f.c, "audit") == 1);  // all or nothing
  CHECK(count(f.c, "parent") == 2);
  CHECK(f.c.transaction_status() == tx_status::idle);
}

PG_TEST_CASE("TRUNCATE of a referenced table: refused up front, or cascaded") {
  family f;
  cleanup_strategy s = f.strategy(cleanup_kind::truncate);
  s.only = {"parent"};
  const std::uint64_t before = f.c.round_trips();
  absl::StatusOr<cleanup_plan> refused = plan_cleanup(f.c, s);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(has(text(refused), schema + ".child -> " + schema + ".parent"), text(refused));
  CHECK_MESSAGE(has(text(refused), "truncate_cascade"), text(refused));
  CHECK(f.c.round_trips() - before == 1);  // the catalog query only
  CHECK(count(f.c, "parent") == 2);

  s.kind = cleanup_kind::truncate_cascade;
  REQUIRE_MESSAGE(run_cleanup(f.c, s).ok(), text(run_cleanup(f.c, s)));
  CHECK(count(f.c, "parent") == 0);
  CHECK(count(f.c, "grandchild") == 0);  // the cascade reaches beyond `only`
  CHECK(count(f.c, "audit") == 1);
}

PG_TEST_CASE("cycles and self-references are deleted without deferral") {
  family f;
  run(f.c,
      "CREATE TABLE a (id int PRIMARY KEY, b_id int);"
      "CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE RESTRICT);"
      "ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b ON DELETE RESTRICT;"
      "CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree ON DELETE RESTRICT);"
      "CREATE TABLE leaf (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE RESTRICT);"
      "INSERT INTO a VALUES (1, NULL); INSERT INTO b VALUES (1, 1);"
      "UPDATE a SET b_id = 1; INSERT INTO leaf VALUES (1, 1);"
      "INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2)");
  cleanup_strategy s = f.strategy(cleanup_kind::delete_rows);
  s.only = {"a", "b", "tree", "leaf"};
  absl::StatusOr<cleanup_plan> plan = plan_cleanup(f.c, s);
  REQUIRE_MESSAGE(plan.ok(), text(plan));
  CHECK_MESSAGE(has(plan->sql, "WITH d0 AS (DELETE FROM"), plan->sql);
  const auto& t = plan->tables;
  CHECK(std::find(t.begin(), t.end(), f.q("leaf")) < std::find(t.begin(), t.end(), f.q("a")));
  REQUIRE_MESSAGE(run_cleanup(f.c, s).ok(), text(run_cleanup(f.c, s)));
  for (const char* table : {"a", "b", "tree", "leaf"}) CHECK_MESSAGE(count(f.c, table) == 0, table);
}

PG_TEST_CASE("partitions are cleaned through their parent; odd names are quoted") {
  family f;
  run(f.c,
      "CREATE TABLE events (at int NOT NULL) PARTITION BY RANGE (at);"
      "CREATE TABLE events_low PARTITION OF events FOR VALUES FROM (0) TO (10);"
      "CREATE TABLE events_high PARTITION OF events FOR VALUES FROM (10) TO (20);"
      "CREATE TABLE \"Odd \"\"Name\" (x int);"
      "INSERT INTO events VALUES (1), (15); INSERT INTO \"Odd \"\"Name\" VALUES (1)");
  cleanup_strategy s = f.strategy(cleanup_kind::delete_rows);
  s.only = {"events", "Odd \"Name"};
  absl::StatusOr<cleanup_plan> plan = plan_cleanup(f.c, s);
  REQUIRE_MESSAGE(plan.ok(), text(plan));
  CHECK(plan->tables.size() == 2);
  REQUIRE_MESSAGE(run_cleanup(f.c, s).ok(), text(run_cleanup(f.c, s)));
  CHECK(count(f.c, "events") == 0);
  CHECK(count(f.c, "\"Odd \"\"Name\"") == 0);
}

PG_TEST_CASE("a name that matches no table is an error that lists the tables") {
  family f;
  cleanup_strategy s = f.strategy(cleanup_kind::delete_rows);
  s.except = {"logs"};
  const absl::Status st = run_cleanup(f.c, s);
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK_MESSAGE(has(text(st), "'logs' in `except`"), text(st));
  CHECK_MESSAGE(has(text(st), schema + ".log"), text(st));
  CHECK(count(f.c, "parent") == 2);

  s.except = {".log"};
  CHECK(run_cleanup(f.c, s).code() == absl::StatusCode::kInvalidArgument);
  s.except = {};
  s.schemas = {};
  CHECK(run_cleanup(f.c, s).code() == absl::StatusCode::kInvalidArgument);
}

PG_TEST_CASE("a connection inside a transaction is refused: the cleanup must commit") {
  family f;
  run(f.c, "BEGIN");
  const absl::Status st = run_cleanup(f.c, f.strategy(cleanup_kind::delete_rows));
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(has(text(st), "inside a transaction"), text(st));
  CHECK_MESSAGE(has(text(st), ".sandbox = false"), text(st));
  run(f.c, "ROLLBACK");
  CHECK(count(f.c, "parent") == 2);
}

PG_TEST_CASE("a table lock held elsewhere fails after lock_timeout, naming the fix") {
  family f;
  pq::connection other = connect();
  run(other, "BEGIN; LOCK TABLE " + schema + ".audit IN ACCESS SHARE MODE");
  cleanup_strategy s = f.strategy(cleanup_kind::truncate);
  s.lock_timeout = std::chrono::milliseconds(200);
  const absl::Status st = run_cleanup(f.c, s);
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(has(text(st), "lock_timeout (200 ms)"), text(st));
  run(other, "ROLLBACK");
  CHECK(count(f.c, "parent") == 2);
}

PG_TEST_CASE("a database that is not a test database is refused before any cleanup") {
  const std::string live = "sandpool_orders_live_" + std::to_string(::getpid());
  pq::connection admin = connect();
  run(admin, "SET client_min_messages = warning");
  run(admin, "DROP DATABASE IF EXISTS " + live);
  run(admin, "CREATE DATABASE " + live);
  {
    pq::connection c = connect(dsn_with("dbname=" + live));
    run(c, "CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)");
    const std::uint64_t before = c.round_trips();
    cleanup_strategy s;  // default schemas: public
    const absl::Status st = run_cleanup(c, s);
    CHECK_FALSE(st.ok());
    CHECK_MESSAGE(has(text(st), live), text(st));
    // The safeguard's own check at most; no catalog query, no cleanup.
    CHECK(c.round_trips() - before <= 1);
    absl::StatusOr<pq::result> r = c.exec("SELECT count(*) FROM precious");
    REQUIRE(r.ok());
    CHECK(r->get(0, 0) == "1");
  }
  // FORCE: a PgBouncer in between keeps its server connection to the
  // database open after the client above is gone.
  run(admin, "DROP DATABASE " + live + " WITH (FORCE)");
}

}  // namespace sandpool::test
