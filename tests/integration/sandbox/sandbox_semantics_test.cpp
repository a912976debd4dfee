// PostgreSQL's transaction semantics through the sandbox, one behaviour per
// test: BEGIN inside a block, stray COMMIT and ROLLBACK and their warnings,
// command tags and transaction_status(), failed blocks, strings with
// transaction control (the implicit transaction), and the one refusal
// (standard_conforming_strings changed mid-string). The differential test
// checks the same against the server at random; these are the cases it
// found, named.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <string>
#include <utility>
#include <vector>

#include "sandbox_env.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

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

}  // namespace

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

}  // namespace sandpool::test
