// The sandbox against a real PostgreSQL: round-trip counts, rollback at
// checkin, per-statement protection, nested levels, translated transaction
// control with PostgreSQL's semantics, cancellation, the transaction ended behind the sandbox's back,
// deferred constraints, and the sandbox turned off. The last test case
// checks that no row written by any sandboxed test of this run survived;
// doctest runs files in name order and this file sorts last.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "sandbox_env.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {

PG_TEST_CASE("round trips: checkout 1 (0 after the first), statement 1 (2 failing), BEGIN/COMMIT 1, checkin 1") {
  ensure_ledger();
  pool p = make_sandbox_pool(dsn(), 1);
  auto box = install_sandbox(p);
  REQUIRE(box.ok());
  pq::connection* c = nullptr;
  std::uint64_t rt = 0;
  {
    auto l = p.checkout();  // manual mode without an owner: refused
    CHECK(l.status().code() == absl::StatusCode::kFailedPrecondition);
  }
  for (int round = 0; round < 2; ++round) {  // the 2nd skips the safeguard query
    REQUIRE(p.ownership().checkout().ok());
    auto l = p.checkout();
    REQUIRE(l.ok());
    if (c == nullptr) {
      c = &**l;
      CHECK(c->round_trips() == 1);  // connecting does not count
    } else {
      CHECK(c == &**l);
      CHECK(c->round_trips() == rt);  // BEGIN rides with the INSERT below
    }
    CHECK((*box)->is_sandboxed(*c));
    rt = c->round_trips();
    CHECK(c->exec("INSERT INTO " + ledger() + " (tag) VALUES ('rt')").ok());
    CHECK(c->round_trips() == rt + 1);
    CHECK(c->exec("SELECT $1::int", {"5"}).ok());
    CHECK(c->round_trips() == rt + 2);
    CHECK_FALSE(c->exec("SELECT 1/0").ok());
    CHECK(c->round_trips() == rt + 4);
    CHECK(c->exec("BEGIN").ok());
    CHECK(c->round_trips() == rt + 5);
    CHECK(c->exec("COMMIT").ok());
    CHECK(c->round_trips() == rt + 6);
    CHECK(c->exec("BEGIN").ok());
    CHECK(c->exec("ROLLBACK").ok());
    CHECK(c->round_trips() == rt + 8);
    CHECK(c->exec("COMMIT").ok());  // no block: the server's warning, one trip
    CHECK(c->round_trips() == rt + 9);
    (void)l->checkin();
    REQUIRE(p.ownership().checkin().ok());
    CHECK(c->round_trips() == rt + 10);
    CHECK_FALSE((*box)->is_sandboxed(*c));
    rt = c->round_trips();
  }
  CHECK(count_committed() == 0);
}

PG_TEST_CASE("writes are visible inside the sandbox and gone after checkin") {
  sandboxed s;
  s.insert("visible", 1);
  s.insert("visible", 2);
  CHECK(count_in(s.c(), "tag = 'visible'") == 2);
  CHECK(count_committed("tag = 'visible'") == 0);  // not committed meanwhile
  REQUIRE(s.checkin().ok());
  CHECK(count_committed("tag = 'visible'") == 0);
}

PG_TEST_CASE("a failing statement outside BEGIN does not poison the test") {
  sandboxed s;
  s.insert("keep", 1);
  auto missing = s.c().exec("SELECT * FROM no_such_table_sb");
  CHECK(missing.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(pq::sqlstate(missing.status()) == "42P01");
  CHECK(contains(text(missing.status()), "no_such_table_sb"));
  auto dup = s.c().exec("INSERT INTO " + ledger() + " (id, tag) SELECT id, 'dup' FROM " +
                        ledger() + " WHERE tag = 'keep'");
  CHECK(pq::sqlstate(dup.status()) == "23505");
  CHECK(dup.status().code() == absl::StatusCode::kAlreadyExists);
  auto bad_param = s.c().exec("SELECT $1::int", {"not a number"});
  CHECK(pq::sqlstate(bad_param.status()) == "22P02");
  CHECK(s.c().transaction_status() == tx_status::idle);
  s.insert("keep", 2);
  CHECK(count_in(s.c(), "tag = 'keep'") == 2);
  CHECK(count_in(s.c(), "tag = 'dup'") == 0);
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("a cancelled statement is rolled back to its savepoint; the test goes on") {
  sandboxed s;
  s.insert("before-cancel");
  std::atomic<bool> done{false};
  std::thread canceller([&] {  // repeats in case it came before the query
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (!done) CHECK(s.c().cancel().ok());
    }
  });
  auto slow = s.c().exec("SELECT pg_sleep(30)");
  done = true;
  canceller.join();
  CHECK(slow.status().code() == absl::StatusCode::kCancelled);
  CHECK(pq::sqlstate(slow.status()) == "57014");
  s.insert("after-cancel");
  CHECK(count_in(s.c(), "tag IN ('before-cancel', 'after-cancel')") == 2);
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("several statements in one exec are protected together, in one round trip") {
  sandboxed s;
  const std::string ins = "INSERT INTO " + ledger() + " (tag) VALUES ('multi')";
  auto rt = s.c().round_trips();
  auto r = s.c().exec(ins + "; " + ins + "; SELECT count(*) FROM " + ledger() +
                      " WHERE tag = 'multi'");
  REQUIRE_MESSAGE(r.ok(), text(r.status()));
  CHECK(r->get(0, 0) == "2");  // the last statement's result, as exec() promises
  CHECK(s.c().round_trips() == rt + 1);
  auto bad = s.c().exec(ins + "; SELECT 1/0");
  CHECK(pq::sqlstate(bad.status()) == "22012");
  CHECK(count_in(s.c(), "tag = 'multi'") == 2);  // the failed batch left nothing
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("raw transaction control in any spelling is translated") {
  sandboxed s;
  for (const char* begin : {"begin;", "  -- opening\n START TRANSACTION", "/* x */ BEGIN WORK",
                            "Begin Transaction Read Write"}) {
    CAPTURE(begin);
    s.exec(begin);
    CHECK(s.box->in_block(s.c()));
    s.insert("spell");
    s.exec("end work ;");
    CHECK_FALSE(s.box->in_block(s.c()));
  }
  s.exec("BEGIN");
  s.insert("aborted");
  s.exec("ABORT");
  CHECK(count_in(s.c(), "tag = 'aborted'") == 0);
  s.exec("BEGIN");
  s.insert("chain", 1);
  s.exec("COMMIT AND CHAIN");  // a fresh block at once
  CHECK(s.box->in_block(s.c()));
  s.insert("chain", 2);
  s.exec("rollback and chain");
  CHECK(s.box->in_block(s.c()));
  s.exec("COMMIT");
  CHECK(count_in(s.c(), "tag = 'chain'") == 1);
  CHECK(count_in(s.c(), "tag = 'spell'") == 4);
  // Control among other statements in one exec(), and user savepoints.
  s.exec("BEGIN; INSERT INTO " + ledger() + " (tag) VALUES ('batch'); COMMIT");
  CHECK_FALSE(s.box->in_block(s.c()));
  s.exec("BEGIN");
  s.exec("SAVEPOINT mine");
  s.insert("mine");
  s.exec("ROLLBACK TO SAVEPOINT mine");
  s.exec("RELEASE mine");
  s.exec("COMMIT");
  CHECK(count_in(s.c(), "tag IN ('batch', 'mine')") == 1);
  REQUIRE(s.checkin().ok());
  CHECK(count_committed() == 0);
}

PG_TEST_CASE("a failure inside BEGIN poisons the block until ROLLBACK") {
  sandboxed s;
  s.insert("outer");
  s.exec("BEGIN");
  s.insert("inner");
  CHECK_FALSE(s.c().exec("SELECT 1/0").ok());
  auto next = s.c().exec("SELECT 1");
  CHECK(pq::sqlstate(next.status()) == "25P02");
  CHECK(contains(text(next.status()), "must ROLLBACK"));
  s.exec("ROLLBACK");
  CHECK(count_in(s.c(), "tag = 'outer'") == 1);
  CHECK(count_in(s.c(), "tag = 'inner'") == 0);
  // COMMIT of a failed block rolls it back, as the server does.
  s.exec("BEGIN");
  s.insert("inner");
  CHECK_FALSE(s.c().exec("SELECT 1/0").ok());
  CHECK(s.c().exec("COMMIT").ok());
  CHECK_FALSE(s.box->in_block(s.c()));
  CHECK(count_in(s.c(), "tag = 'inner'") == 0);
  CHECK(count_in(s.c(), "tag = 'outer'") == 1);
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("a COMMIT behind the sandbox's back fails the next statement and checkin") {
  sandboxed s;
  s.insert("leaked");
  // Code under test that bypasses exec(): the server's guard refuses it.
  PGresult* raw = PQexec(s.c().native(), "COMMIT");
  PQclear(raw);
  const auto rt = s.c().round_trips();
  auto next = s.c().exec("SELECT 1");
  CHECK(next.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(text(next.status()), "had already ended before this statement"));
  CHECK(s.c().round_trips() == rt);  // not sent
  const absl::Status in = s.checkin();
  CHECK(in.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(text(in), "had already ended at checkin"));
  CHECK(contains(text(in), "rolled back, not committed"));
  CHECK(contains(text(in), "checkout_options{.sandbox = false}"));
  CHECK(count_committed("tag = 'leaked'") == 0);  // the guard refused the COMMIT
}

PG_TEST_CASE("a procedure that commits is refused by the server; the hint says what to do") {
  ensure_ledger();
  committed("CREATE OR REPLACE PROCEDURE sandbox_it_commits() LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO " + ledger() + " (tag) VALUES ('proc'); COMMIT; END $$");
  {
    sandboxed s;
    s.insert("before-proc");
    auto r = s.c().exec("CALL sandbox_it_commits()");
    CHECK(pq::sqlstate(r.status()) == "2D000");
    CHECK(contains(text(r.status()), "a procedure (or DO block) ran COMMIT or ROLLBACK"));
    CHECK(contains(text(r.status()), "checkout_options{.sandbox = false}"));
    CHECK(count_in(s.c(), "tag = 'before-proc'") == 1);  // still usable
    CHECK(count_in(s.c(), "tag = 'proc'") == 0);
    REQUIRE(s.checkin().ok());
  }
  CHECK(count_committed("tag IN ('proc', 'before-proc')") == 0);
  committed("DROP PROCEDURE sandbox_it_commits()");
}

PG_TEST_CASE("deferred constraints can be checked at checkin") {
  const std::string parent = ledger() + "_parent", child = ledger() + "_child";
  committed("CREATE TABLE " + parent + " (id int PRIMARY KEY)");
  committed("CREATE TABLE " + child + " (parent int REFERENCES " + parent +
            " DEFERRABLE INITIALLY DEFERRED)");
  {
    sandboxed s(with_deferred_check());
    s.exec("INSERT INTO " + child + " VALUES (42)");  // deferred: accepted for now
    const absl::Status in = s.checkin();
    CHECK(in.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(pq::sqlstate(in) == "23503");
    CHECK(contains(text(in), "deferred constraint is violated"));
  }
  {
    sandboxed s(with_deferred_check());
    pq::connection& c = s.c();
    s.exec("INSERT INTO " + parent + " VALUES (1)");
    s.exec("INSERT INTO " + child + " VALUES (1)");
    const auto rt = c.round_trips();
    (void)s.lease.checkin();
    CHECK(s.p.ownership().checkin().ok());
    CHECK(c.round_trips() == rt + 1);  // the check rides with the ROLLBACK
  }
  {
    sandboxed s;  // without the option the violation goes unnoticed
    s.exec("INSERT INTO " + child + " VALUES (43)");
    CHECK(s.checkin().ok());
  }
  CHECK(std::string(committed("SELECT count(*) FROM " + child).get(0, 0)) == "0");
  committed("DROP TABLE " + child + ", " + parent);
}

PG_TEST_CASE("sandbox off: real commits, no translation") {
  ensure_ledger();
  pool p = make_sandbox_pool();
  auto box = install_sandbox(p);
  REQUIRE(box.ok());
  REQUIRE(p.ownership().checkout({.sandbox = false}).ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    CHECK_FALSE((*box)->is_sandboxed(**l));
    CHECK((*l)->exec("BEGIN").ok());
    CHECK((*l)->exec("INSERT INTO " + ledger() + " (tag) VALUES ('real')").ok());
    CHECK((*l)->exec("COMMIT").ok());
    CHECK((*l)->transaction_status() == tx_status::idle);
  }
  REQUIRE(p.ownership().checkin().ok());
  CHECK(count_committed("tag = 'real'") == 1);
  committed("DELETE FROM " + ledger() + " WHERE tag = 'real'");
}

PG_TEST_CASE("no row written by a sandboxed test of this run exists") {
  ensure_ledger();
  CHECK(count_committed() == 0);
  committed("DROP TABLE " + ledger());
}

}  // namespace sandpool::test
