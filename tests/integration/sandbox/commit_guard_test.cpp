// The commit guard against a real server: however a COMMIT reaches a
// sandboxed connection (native(), several statements in one raw string, a
// procedure, two-phase commit, a comment the sandbox reads differently from
// the server), the server refuses it and nothing the test wrote is
// committed. Each case checks what a fresh, unsandboxed connection sees.
#include <libpq-fe.h>

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <utility>

#include "sandbox_env.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

// Runs sql through the raw PGconn, as a client library would; returns the
// error message (empty if it succeeded) and the SQLSTATE.
struct raw_outcome {
  std::string error;
  std::string sqlstate;
};
raw_outcome raw(pq::connection& c, const std::string& sql) {
  PGresult* r = PQexec(c.native(), sql.c_str());
  raw_outcome out;
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
    out.error = PQresultErrorMessage(r);
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) out.sqlstate = s;
  }
  PQclear(r);
  return out;
}

}  // namespace

PG_TEST_CASE("a COMMIT through native() is refused by the server and nothing is committed") {
  sandboxed s;
  s.insert("guard-native");
  const raw_outcome r = raw(s.c(), "COMMIT");
  CHECK(r.sqlstate == "25SB1");
  CHECK(contains(r.error, "COMMIT refused: this connection is inside a test sandbox"));
  CHECK(contains(r.error, "nothing was committed"));
  CHECK(count_committed("tag = 'guard-native'") == 0);
  // The sandbox notices at the next statement and at checkin, and says the
  // writes were rolled back.
  auto next = s.c().exec("SELECT 1");
  CHECK(next.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(text(next.status()), "rolled back, not committed"));
  const absl::Status in = s.checkin();
  CHECK(in.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(count_committed("tag = 'guard-native'") == 0);
}

PG_TEST_CASE("INSERT; COMMIT; BEGIN in one raw string commits nothing") {
  sandboxed s;
  const raw_outcome r =
      raw(s.c(), "INSERT INTO " + ledger() + " (tag) VALUES ('guard-string'); COMMIT; BEGIN");
  CHECK(r.sqlstate == "25SB1");
  CHECK(count_committed("tag = 'guard-string'") == 0);
  (void)s.checkin();
  CHECK(count_committed("tag = 'guard-string'") == 0);
}

PG_TEST_CASE("END, COMMIT AND CHAIN and PREPARE TRANSACTION through native() are refused") {
  // PREPARE TRANSACTION refuses the guard's holdable cursor itself (0A000).
  const std::pair<const char*, const char*> ends[] = {
      {"END", "25SB1"}, {"COMMIT AND CHAIN", "25SB1"},
      {"PREPARE TRANSACTION 'sandpool_guard_gid'", "0A000"}};
  for (const auto& one : ends) {
    const char* end = one.first;
    const char* state = one.second;
    CAPTURE(end);
    sandboxed s;
    s.insert("guard-end");
    CHECK(raw(s.c(), end).sqlstate == state);
    (void)s.checkin();
    CHECK(count_committed("tag = 'guard-end'") == 0);
  }
  CHECK(committed("SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'sandpool_guard_gid'")
            .get(0, 0) == "0");
}

PG_TEST_CASE("SET CONSTRAINTS ALL IMMEDIATE does not disarm the guard") {
  sandboxed s;
  s.insert("guard-immediate");
  s.exec("SET CONSTRAINTS ALL IMMEDIATE");
  CHECK(raw(s.c(), "SET CONSTRAINTS ALL IMMEDIATE").error.empty());
  CHECK(raw(s.c(), "SET CONSTRAINTS ALL DEFERRED").error.empty());
  CHECK(count_in(s.c(), "tag = 'guard-immediate'") == 1);  // the transaction goes on
  CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
  (void)s.checkin();
  CHECK(count_committed("tag = 'guard-immediate'") == 0);
}

PG_TEST_CASE("a savepoint rolled back or released does not disarm the guard") {
  sandboxed s;
  s.insert("guard-savepoint");
  CHECK(raw(s.c(), "SAVEPOINT a; ROLLBACK TO a; SAVEPOINT b; RELEASE b").error.empty());
  CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
  (void)s.checkin();
  CHECK(count_committed("tag = 'guard-savepoint'") == 0);
}

PG_TEST_CASE("a procedure that commits cannot end the sandbox's transaction") {
  const std::string proc = "sandpool_guard_proc_" + std::to_string(::getpid());
  committed("CREATE OR REPLACE PROCEDURE " + proc + "() LANGUAGE plpgsql AS $$ BEGIN INSERT INTO " +
            ledger() + " (tag) VALUES ('guard-proc'); COMMIT; END $$");
  {
    sandboxed s;
    auto r = s.c().exec("CALL " + proc + "()");
    CHECK_FALSE(r.ok());
    CHECK(pq::sqlstate(r.status()) == "2D000");  // invalid transaction termination
    REQUIRE(s.checkin().ok());
  }
  CHECK(count_committed("tag = 'guard-proc'") == 0);
  committed("DROP PROCEDURE " + proc);
}

PG_TEST_CASE("inputs the sandbox may read differently from the server still commit nothing") {
  // A -- comment ends at a carriage return for the server; a string under
  // standard_conforming_strings = off; a routine named like a keyword.
  const std::string cases[] = {
      "INSERT INTO " + ledger() + " (tag) VALUES ('guard-misread') -- note\rCOMMIT",
      "INSERT INTO " + ledger() + " (tag) VALUES ('guard-misread'); -- note\rCOMMIT; BEGIN",
  };
  for (const std::string& sql : cases) {
    CAPTURE(sql);
    sandboxed s;
    (void)s.c().exec(sql);
    (void)s.checkin();
    CHECK(count_committed("tag = 'guard-misread'") == 0);
  }
}

PG_TEST_CASE("the guard's statements are public and idempotent") {
  pq::connection c = connect(dsn());
  CHECK(must(c.exec(std::string(sandbox_guard_sql()))).status() == PGRES_COMMAND_OK);
  CHECK(must(c.exec(std::string(sandbox_guard_sql()))).status() == PGRES_COMMAND_OK);
  CHECK(must(c.exec("SELECT count(*) FROM pg_proc WHERE proname = 'refuse_commit_now'"))
            .get(0, 0) == "1");
}

PG_TEST_CASE("session_replication_role = replica does not disarm the guard") {
  sandboxed s;
  s.insert("guard-replica");
  CHECK(raw(s.c(), "SET session_replication_role = replica").error.empty());
  CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
  (void)s.checkin();
  CHECK(count_committed("tag = 'guard-replica'") == 0);
}

PG_TEST_CASE("arming the guard writes nothing: a test that writes nothing has no transaction id") {
  sandboxed s;
  CHECK(s.exec("SELECT pg_current_xact_id_if_assigned() IS NULL").get(0, 0) == "t");
  s.insert("guard-xid");
  CHECK(s.exec("SELECT pg_current_xact_id_if_assigned() IS NULL").get(0, 0) == "f");
}

PG_TEST_CASE("CLOSE ALL through exec() leaves the guard armed, in a block and out of one") {
  {
    sandboxed s;
    s.insert("guard-close");
    s.exec("DECLARE mine CURSOR WITH HOLD FOR SELECT 1");
    s.exec("CLOSE ALL");
    CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
    (void)s.checkin();
    CHECK(count_committed("tag = 'guard-close'") == 0);
  }
  {
    // Declared again inside the block, the cursor would go with the block's
    // rollback: it is checked again after it.
    sandboxed s;
    s.insert("guard-close-block");
    s.exec("BEGIN");
    s.exec("CLOSE ALL");
    s.exec("ROLLBACK");
    CHECK(s.exec("SELECT count(*) FROM pg_cursors WHERE name = 'sandpool_guard'").get(0, 0) ==
          "1");
    CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
    (void)s.checkin();
    CHECK(count_committed("tag = 'guard-close-block'") == 0);
  }
}

PG_TEST_CASE("a block that fails after CLOSE ALL and ends leaves the guard armed") {
  for (const char* end : {"END", "ROLLBACK", "ABORT", "COMMIT AND CHAIN"}) {
    CAPTURE(end);
    sandboxed s;
    s.insert("guard-close-failed");
    s.exec("BEGIN");
    s.exec("CLOSE ALL");
    CHECK_FALSE(s.c().exec("SELECT 1/0").ok());
    s.exec(end);
    if (std::string_view(end) == "COMMIT AND CHAIN") s.exec("ROLLBACK");
    CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
    (void)s.checkin();
    CHECK(count_committed("tag = 'guard-close-failed'") == 0);
  }
}

PG_TEST_CASE("FETCH, MOVE and CLOSE of the guard's cursor through exec() are refused") {
  sandboxed s;
  s.insert("guard-fetch");
  for (const char* sql : {"FETCH sandpool_guard", "MOVE FORWARD 0 IN sandpool_guard",
                          "CLOSE SANDPOOL_GUARD"}) {
    CAPTURE(sql);
    auto r = s.c().exec(sql);
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(contains(text(r.status()), "commit guard"));
  }
  CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
  (void)s.checkin();
  CHECK(count_committed("tag = 'guard-fetch'") == 0);
}

PG_TEST_CASE("rollback_to() past a CLOSE ALL leaves the guard armed") {
  sandboxed s;
  REQUIRE(s.box->begin_suite_savepoint(s.c()).ok());
  s.insert("guard-mark");
  s.exec("CLOSE ALL");
  REQUIRE(s.box->rollback_to(s.c()).ok());
  s.insert("guard-mark");
  CHECK(raw(s.c(), "COMMIT").sqlstate == "25SB1");
  (void)s.checkin();
  CHECK(count_committed("tag = 'guard-mark'") == 0);
}

PG_TEST_CASE("a string that names the guard's cursor without using it is sent") {
  sandboxed s;
  CHECK(s.c().exec("SELECT count(*) FROM pg_cursors WHERE name <> 'sandpool_guard' -- removed")
            .ok());
}

PG_TEST_CASE("a string the server reads by backslash_quote goes where a failure can be undone") {
  sandboxed s;
  s.exec("SET backslash_quote = off");
  auto r = s.c().exec("SELECT E'it\\'s'");
  CHECK(pq::sqlstate(r.status()) == "22P06");  // unsafe use of \' in a string literal
  CHECK(s.exec("SELECT 1").get(0, 0) == "1");  // the sandbox's transaction goes on
}

}  // namespace sandpool::test
