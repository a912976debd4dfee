// The sandbox's suite-level tools against a real server: suite fixtures
// (load once, roll each test back to the loaded state), rollback to the
// checkout's state, run_unboxed (real commits, the caller's sandbox
// untouched), the start/stop owner used from other threads, concurrent
// sandboxed owners that do not see each other, and the safeguard refusing
// and allowing a database that does not look like a test database.
#include <doctest/doctest.h>

#include <barrier>
#include <chrono>
#include <thread>

#include "sandbox_env.hpp"
#include "sandpool/sandbox/fixture.hpp"
#include "sandpool/sandbox/unboxed.hpp"
#include "sandpool/testing/owner_thread.hpp"

namespace sandpool::test {

PG_TEST_CASE("a suite fixture loads once and each test rolls back to the loaded state") {
  ensure_ledger();
  pool p = make_sandbox_pool();
  auto box = install_sandbox(p);
  REQUIRE(box.ok());
  suite_fixture suite(p, *box);
  int loads = 0;
  REQUIRE(suite.start([&](pq::connection& c) {
    ++loads;
    return c.exec("INSERT INTO " + ledger() + " (tag, n) VALUES ('fixture', 1), ('fixture', 2)")
        .status();
  }).ok());
  for (int test = 0; test < 3; ++test) {
    auto l = p.checkout();
    REQUIRE(l.ok());
    CHECK(count_in(**l, "tag = 'fixture'") == 2);  // every test starts from the load
    CHECK(count_in(**l, "tag = 'per-test'") == 0);
    must((*l)->exec("INSERT INTO " + ledger() + " (tag) VALUES ('per-test')"));
    must((*l)->exec("DELETE FROM " + ledger() + " WHERE n = 1"));
    must((*l)->exec("BEGIN"));  // a test that forgets to COMMIT
    l->checkin().IgnoreError();
    REQUIRE(suite.reset().ok());
  }
  CHECK(loads == 1);
  CHECK(count_committed("tag IN ('fixture', 'per-test')") == 0);
  REQUIRE(suite.stop().ok());
  CHECK(count_committed("tag IN ('fixture', 'per-test')") == 0);
}

PG_TEST_CASE("rollback_to without a mark returns to the state at checkout, in one round trip") {
  sandboxed s;
  s.insert("to-base");
  s.exec("BEGIN");
  const auto rt = s.c().round_trips();
  REQUIRE(s.box->rollback_to(s.c()).ok());
  CHECK(s.c().round_trips() == rt + 1);
  CHECK_FALSE(s.box->in_block(s.c()));
  CHECK(count_in(s.c(), "tag = 'to-base'") == 0);
  // Marks nest: rollback_to goes to the latest; once it is released, to
  // the one before.
  s.insert("mark", 0);
  REQUIRE(s.box->begin_suite_savepoint(s.c()).ok());
  s.insert("mark", 1);
  REQUIRE(s.box->begin_suite_savepoint(s.c()).ok());
  s.insert("mark", 2);
  REQUIRE(s.box->rollback_to(s.c()).ok());
  CHECK(count_in(s.c(), "tag = 'mark'") == 2);
  REQUIRE(s.box->release_suite_savepoint(s.c()).ok());
  s.insert("mark", 3);
  REQUIRE(s.box->rollback_to(s.c()).ok());
  CHECK(count_in(s.c(), "tag = 'mark'") == 1);
  CHECK(count_in(s.c(), "tag = 'mark' AND n = 0") == 1);
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("run_unboxed commits for real and leaves the caller's sandbox as it was") {
  sandboxed s;
  const std::string table = ledger() + "_migrated";
  s.insert("caller");
  s.exec("BEGIN");
  const auto rt = s.c().round_trips();
  const absl::Status migrated = run_unboxed(s.p, [&](pq::connection& c) {
    CHECK(c.hook() == nullptr);
    auto r = c.exec("CREATE TABLE " + table + " (v int); INSERT INTO " + table + " VALUES (7)");
    return r.status();
  });
  REQUIRE_MESSAGE(migrated.ok(), text(migrated));
  CHECK(s.c().round_trips() == rt);  // the caller's connection was not used
  CHECK(s.box->in_block(s.c()));
  CHECK(s.exec("SELECT v FROM " + table).get(0, 0) == "7");  // committed: visible
  CHECK(count_in(s.c(), "tag = 'caller'") == 1);
  s.exec("COMMIT");
  const absl::Status open = run_unboxed(s.p, [&](pq::connection& c) {
    return c.exec("BEGIN; INSERT INTO " + table + " VALUES (8)").status();
  });
  CHECK(open.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(text(open), "left a transaction open"));
  REQUIRE(s.checkin().ok());
  CHECK(std::string(committed("SELECT count(*) FROM " + table).get(0, 0)) == "1");
  committed("DROP TABLE " + table);
  CHECK(count_committed("tag = 'caller'") == 0);
}

PG_TEST_CASE("run_unboxed blocked on the caller's own locks is cancelled and says why") {
  sandboxed s;
  s.insert("locked");  // the test's transaction now holds a lock on the ledger
  const auto started = std::chrono::steady_clock::now();
  const absl::Status blocked = run_unboxed(s.p, [&](pq::connection& c) {
    return c.exec("VACUUM FULL " + ledger()).status();
  });
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < std::chrono::seconds(10));  // not forever
  CHECK(blocked.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(pq::sqlstate(blocked) == "55P03");
  const std::string why = text(blocked);
  CAPTURE(why);
  CHECK(contains(why, "VACUUM FULL"));
  CHECK(contains(why, "AccessExclusiveLock on " + ledger()));
  CHECK(contains(why, "the caller's own sandboxed test transaction holds (backend " +
                          std::to_string(s.c().backend_pid()) + ")"));
  CHECK(contains(why, "the function returned: "));
  // The caller's sandbox is as it was.
  CHECK(count_in(s.c(), "tag = 'locked'") == 1);
  // A lock held by someone else is waited for, not cancelled.
  const std::string elsewhere = ledger() + "_elsewhere";
  committed("CREATE TABLE IF NOT EXISTS " + elsewhere + " (v int)");
  pq::connection other = connect();
  must(other.exec("BEGIN; LOCK TABLE " + elsewhere + " IN SHARE MODE"));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    must(other.exec("ROLLBACK"));
  });
  const auto wait_started = std::chrono::steady_clock::now();
  const absl::Status waited = run_unboxed(s.p, [&](pq::connection& c) {
    return c.exec("BEGIN; LOCK TABLE " + elsewhere + " IN ROW EXCLUSIVE MODE; COMMIT").status();
  });
  release.join();
  committed("DROP TABLE " + elsewhere);
  CHECK_MESSAGE(waited.ok(), text(waited));
  CHECK(std::chrono::steady_clock::now() - wait_started >= std::chrono::milliseconds(500));
  REQUIRE(s.checkin().ok());
  CHECK(count_committed("tag = 'locked'") == 0);
}

PG_TEST_CASE("a start/stop owner outlives its starter and serves other threads") {
  ensure_ledger();
  pool p = make_sandbox_pool();
  REQUIRE(install_sandbox(p).ok());
  std::unique_ptr<owner_thread> owner;
  std::thread starter([&] {
    auto o = owner_thread::start(p);
    REQUIRE_MESSAGE(o.ok(), text(o.status()));
    owner = std::move(*o);
  });
  starter.join();  // the starter is gone; the owner is not
  REQUIRE(owner);
  auto write = [&](const std::string& tag) {
    auto l = p.checkout();
    REQUIRE_MESSAGE(l.ok(), text(l.status()));
    must((*l)->exec("INSERT INTO " + ledger() + " (tag) VALUES ('" + tag + "')"));
  };
  std::thread by_context([&] {
    REQUIRE(owner->adopt().ok());
    write("owner-ctx");
  });
  by_context.join();
  std::thread by_token([&] {
    REQUIRE(p.ownership().adopt_token(owner->token()).ok());
    write("owner-token");
    auto l = p.checkout();
    REQUIRE(l.ok());
    CHECK(count_in(**l, "tag LIKE 'owner-%'") == 2);  // one connection, one transaction
  });
  by_token.join();
  CHECK(count_committed("tag LIKE 'owner-%'") == 0);
  CHECK(owner->stop().ok());
  CHECK(owner->stop().ok());  // idempotent
  std::thread late([&] {  // the connection is gone for everyone
    (void)p.ownership().adopt(owner->context());
    CHECK_FALSE(p.checkout().ok());
  });
  late.join();
  CHECK(count_committed("tag LIKE 'owner-%'") == 0);
}

PG_TEST_CASE("two sandboxed owners at once do not see each other's rows") {
  ensure_ledger();
  pool p = make_sandbox_pool();
  REQUIRE(install_sandbox(p).ok());
  std::barrier both_wrote(2), both_counted(2);
  long seen[2] = {-1, -1}, seen_other[2] = {-1, -1};
  auto test_body = [&](int i) {
    REQUIRE(p.ownership().checkout().ok());
    {
      auto l = p.checkout();
      REQUIRE(l.ok());
      const std::string mine = "owner-" + std::to_string(i);
      must((*l)->exec("INSERT INTO " + ledger() + " (tag) VALUES ('" + mine + "')"));
      both_wrote.arrive_and_wait();
      seen[i] = count_in(**l, "tag = '" + mine + "'");
      seen_other[i] = count_in(**l, "tag = 'owner-" + std::to_string(1 - i) + "'");
      both_counted.arrive_and_wait();
    }
    REQUIRE(p.ownership().checkin().ok());
  };
  std::thread a(test_body, 0), b(test_body, 1);
  a.join();
  b.join();
  CHECK(seen[0] == 1);
  CHECK(seen[1] == 1);
  CHECK(seen_other[0] == 0);
  CHECK(seen_other[1] == 0);
  CHECK(count_committed("tag LIKE 'owner-%'") == 0);
}

PG_TEST_CASE("the safeguard refuses a database that is not a test database, unless allowed") {
  if (committed("SELECT 1 FROM pg_database WHERE datname = 'sandpool_prod_like'").rows() == 1)
    committed("DROP DATABASE sandpool_prod_like WITH (FORCE)");
  committed("CREATE DATABASE sandpool_prod_like");
  const std::string prod = dsn_with("dbname=sandpool_prod_like");
  {
    pool p = make_sandbox_pool(prod, 1);
    REQUIRE(install_sandbox(p).ok());
    const auto r = p.ownership().checkout();
    CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
    const std::string m = text(r.status());
    CAPTURE(m);
    CHECK(contains(m, "refused to sandbox database \"sandpool_prod_like\""));
    CHECK(contains(m, "local server (unix socket)"));
    CHECK(contains(m, "database_patterns [\"test\"]"));
    CHECK(contains(m, "allow_any = true"));
    CHECK(p.ownership().checkin().code() == absl::StatusCode::kFailedPrecondition);  // not owner
    // Unsandboxed checkouts are not the safeguard's business.
    CHECK(p.ownership().checkout({.sandbox = false}).ok());
    CHECK(p.ownership().checkin().ok());
    pq::connection c = connect(prod);
    CHECK(check_safeguard(c, {}, "truncate").code() == absl::StatusCode::kFailedPrecondition);
    safeguard_options by_name;
    by_name.database_patterns = {"PROD_LIKE"};
    CHECK(check_safeguard(c, by_name).ok());
    safeguard_options any;
    any.allow_any = true;
    CHECK(check_safeguard(c, any).ok());
  }
  for (int how = 0; how < 2; ++how) {
    sandbox_options allowed;
    if (how == 0) allowed.safeguard.database_patterns = {"prod_like"};
    if (how == 1) allowed.safeguard.allow_any = true;
    pool p = make_sandbox_pool(prod, 1);
    REQUIRE(install_sandbox(p, allowed).ok());
    REQUIRE(p.ownership().checkout().ok());
    {
      auto l = p.checkout();
      REQUIRE(l.ok());
      must((*l)->exec("CREATE TABLE t (v int)"));  // rolled back at checkin
    }
    CHECK(p.ownership().checkin().ok());
  }
  pq::connection check = connect(prod);
  CHECK(must(check.exec("SELECT to_regclass('t') IS NULL")).get(0, 0) == "t");
  check.close();
  committed("DROP DATABASE sandpool_prod_like WITH (FORCE)");
}

}  // namespace sandpool::test
