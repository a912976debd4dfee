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

PG_TEST_CASE("round trips: checkout 1, statement 1 (2 failing), BEGIN/COMMIT 1, checkin 1") {
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
      CHECK(c->round_trips() == rt + 1);
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

// Server notices on c, one "SEVERITY SQLSTATE message" line each, while
// the object lives.
struct notices {
  explicit notices(pq::connection& c) : conn(c.native()) {
    previous = PQsetNoticeReceiver(conn, &notices::add, this);
  }
  ~notices() { PQsetNoticeReceiver(conn, previous, nullptr); }
  static void add(void* self, const PGresult* r) {
    auto field = [&](int code) {
      const char* v = PQresultErrorField(r, code);
      return std::string(v == nullptr ? "" : v);
    };
    static_cast<notices*>(self)->lines.push_back(field(PG_DIAG_SEVERITY_NONLOCALIZED) + " " +
                                                 field(PG_DIAG_SQLSTATE) + " " +
                                                 field(PG_DIAG_MESSAGE_PRIMARY));
  }
  std::vector<std::string> take() { return std::exchange(lines, {}); }
  PGconn* conn;
  PQnoticeReceiver previous = nullptr;
  std::vector<std::string> lines;
};

using lines = std::vector<std::string>;
const std::string no_transaction = "WARNING 25P01 there is no transaction in progress";

PG_TEST_CASE("BEGIN inside a block warns and changes nothing; COMMIT ends the whole block") {
  sandboxed s;
  notices n(s.c());
  s.exec("BEGIN");
  s.insert("nest", 1);
  auto again = s.c().exec("BEGIN");
  REQUIRE(again.ok());
  CHECK(again->command_tag() == "BEGIN");
  CHECK(n.take() == lines{"WARNING 25001 there is already a transaction in progress"});
  s.insert("nest", 2);
  s.exec("ROLLBACK");  // the whole block, both inserts
  CHECK_FALSE(s.box->in_block(s.c()));
  CHECK(s.c().transaction_status() == tx_status::idle);
  CHECK(count_in(s.c(), "tag = 'nest'") == 0);
  // A savepoint made before an inner BEGIN is still there to roll back to.
  s.exec("BEGIN");
  s.exec("SAVEPOINT before_inner");
  s.insert("nest", 3);
  s.exec("BEGIN");
  s.exec("ROLLBACK TO SAVEPOINT before_inner");
  s.insert("nest", 4);
  auto commit = s.c().exec("COMMIT");
  REQUIRE(commit.ok());
  CHECK(commit->command_tag() == "COMMIT");
  CHECK(n.take() == lines{"WARNING 25001 there is already a transaction in progress"});
  CHECK(count_in(s.c(), "tag = 'nest'") == 1);
  // The second COMMIT finds no block: the server's warning, and nothing ends.
  auto stray = s.c().exec("COMMIT");
  REQUIRE(stray.ok());
  CHECK(stray->command_tag() == "COMMIT");
  CHECK(n.take() == lines{no_transaction});
  auto stray_rollback = s.c().exec("ROLLBACK");
  REQUIRE(stray_rollback.ok());
  CHECK(stray_rollback->command_tag() == "ROLLBACK");
  CHECK(n.take() == lines{no_transaction});
  CHECK(count_in(s.c(), "tag = 'nest'") == 1);
  REQUIRE(s.checkin().ok());
  CHECK(count_committed("tag = 'nest'") == 0);
}

PG_TEST_CASE("transaction_status() and command tags are a plain session's") {
  sandboxed s;
  CHECK(s.c().transaction_status() == tx_status::idle);
  CHECK(s.c().server_transaction_status() == tx_status::in_transaction);
  CHECK(s.exec("START TRANSACTION").command_tag() == "START TRANSACTION");
  CHECK(s.c().transaction_status() == tx_status::in_transaction);
  CHECK_FALSE(s.c().exec("SELECT 1/0").ok());
  CHECK(s.c().transaction_status() == tx_status::in_error);
  // In a failed block only COMMIT, ROLLBACK and ROLLBACK TO are accepted.
  for (const char* sql : {"BEGIN", "SAVEPOINT a", "SET TRANSACTION READ WRITE", "SELECT 1"}) {
    CAPTURE(sql);
    CHECK(pq::sqlstate(s.c().exec(sql).status()) == "25P02");
  }
  CHECK(s.exec("END").command_tag() == "ROLLBACK");  // a failed block rolls back
  CHECK(s.c().transaction_status() == tx_status::idle);
  CHECK(s.exec("BEGIN").command_tag() == "BEGIN");
  CHECK(s.exec("ABORT").command_tag() == "ROLLBACK");
  // AND CHAIN and savepoints need a block, as on the server.
  for (const char* sql : {"COMMIT AND CHAIN", "ROLLBACK AND CHAIN", "SAVEPOINT a",
                          "RELEASE SAVEPOINT a", "ROLLBACK TO SAVEPOINT a"}) {
    CAPTURE(sql);
    auto r = s.c().exec(sql);
    CHECK(pq::sqlstate(r.status()) == "25P01");
    CHECK(contains(text(r.status()), "can only be used in transaction blocks"));
    CHECK(s.c().transaction_status() == tx_status::idle);
  }
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("a string with transaction control runs as the server runs it") {
  sandboxed s;
  notices n(s.c());
  const std::string ins = "INSERT INTO " + ledger() + " (tag, n) VALUES ('implicit', ";
  // COMMIT in a string ends its implicit transaction (with the warning);
  // ROLLBACK undoes it.
  s.exec(ins + "1); COMMIT; " + ins + "2)");
  CHECK(n.take() == lines{no_transaction});
  s.exec(ins + "3); ROLLBACK; " + ins + "4)");
  CHECK(n.take() == lines{no_transaction});
  CHECK(count_in(s.c(), "tag = 'implicit' AND n IN (1, 2, 4)") == 3);
  CHECK(count_in(s.c(), "tag = 'implicit' AND n = 3") == 0);
  // An error undoes the string's implicit transaction, back to its last
  // COMMIT; BEGIN makes what ran before it part of the block.
  auto failed = s.c().exec(ins + "5); BEGIN; " + ins + "6); COMMIT; " + ins + "7); SELECT 1/0");
  CHECK(pq::sqlstate(failed.status()) == "22012");
  CHECK(count_in(s.c(), "tag = 'implicit' AND n IN (5, 6)") == 2);
  CHECK(count_in(s.c(), "tag = 'implicit' AND n = 7") == 0);
  auto chain = s.c().exec(ins + "8); COMMIT AND CHAIN; " + ins + "9)");
  CHECK(pq::sqlstate(chain.status()) == "25P01");
  CHECK(count_in(s.c(), "tag = 'implicit' AND n = 8") == 0);
  // A block left open by a string stays open.
  s.exec(ins + "10); BEGIN; " + ins + "11)");
  CHECK(s.c().transaction_status() == tx_status::in_transaction);
  s.exec("ROLLBACK");
  CHECK(count_in(s.c(), "tag = 'implicit' AND n IN (10, 11)") == 0);
  REQUIRE(s.checkin().ok());
  CHECK(count_committed("tag = 'implicit'") == 0);
}

PG_TEST_CASE("a string with transaction control stops where it changed standard_conforming_strings") {
  sandboxed s;
  // The server would read U&'' with the setting the string arrived with.
  auto r = s.c().exec(R"(SET standard_conforming_strings = off; SELECT U&'d\0061t'; BEGIN)");
  CHECK(pq::sqlstate(r.status()) == "0A000");
  CHECK(contains(text(r.status()), "Send the SET in an exec() of its own"));
  CHECK(s.exec("SHOW standard_conforming_strings").get(0, 0) == "on");  // undone with it
  CHECK(s.c().transaction_status() == tx_status::idle);
  // Without transaction control too: pipelined, the SELECT would be read
  // after the SET.
  auto plain = s.c().exec(R"(SET standard_conforming_strings = off; SELECT 'a\b' AS v)");
  CHECK(pq::sqlstate(plain.status()) == "0A000");
  CHECK(s.exec("SHOW standard_conforming_strings").get(0, 0) == "on");
  // On its own the SET holds, and later strings are read with it.
  s.exec("SET standard_conforming_strings = off");
  CHECK(s.exec(R"(SELECT 'a\'; COMMIT; SELECT ''' AS v; BEGIN)").command_tag() == "BEGIN");
  CHECK(s.box->in_block(s.c()));
  s.exec("ROLLBACK");
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("a BEGIN that fails in a string undoes the string, as the server's does") {
  sandboxed s;
  const std::string ins = "INSERT INTO " + ledger() + " (tag) VALUES ('failed-begin')";
  auto r = s.c().exec(ins + "; BEGIN ISOLATION LEVEL SERIALIZABLE");
  CHECK(pq::sqlstate(r.status()) == "25001");
  CHECK(s.c().transaction_status() == tx_status::idle);
  CHECK_FALSE(s.box->in_block(s.c()));
  CHECK(count_in(s.c(), "tag = 'failed-begin'") == 0);
  s.insert("after");
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
