// Every guardrail of the sandbox against a real server: what is refused is
// not sent (no round trip), the message says what would have happened and
// what to do, the SQLSTATE is attached where the server would have given one,
// the isolation level cannot be changed from inside,
// and the test's transaction is still usable afterwards.
#include <doctest/doctest.h>

#include "sandbox_env.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

// Runs sql, expects a refusal with `code` whose message holds every part,
// with nothing sent; returns the refusal's SQLSTATE.
std::string refused(sandboxed& s, const std::string& sql, absl::StatusCode code,
                     std::initializer_list<std::string_view> parts) {
  const auto rt = s.c().round_trips();
  const tx_status before = s.c().transaction_status();
  auto r = s.c().exec(sql);
  CAPTURE(sql);
  CAPTURE(text(r.status()));
  CHECK(r.status().code() == code);
  for (std::string_view part : parts) CHECK(contains(text(r.status()), part));
  CHECK(s.c().round_trips() == rt);  // nothing sent, nothing changed
  CHECK(s.c().transaction_status() == before);
  return pq::sqlstate(r.status());
}

}  // namespace

PG_TEST_CASE("COMMIT and ROLLBACK with no block warn, as the server does, and end nothing") {
  sandboxed s;
  s.insert("guard");
  for (const char* sql : {"COMMIT", "end", "commit work;", "ROLLBACK", "abort",
                          "/* c */ rollback transaction"}) {
    CAPTURE(sql);
    auto r = s.c().exec(sql);
    REQUIRE_MESSAGE(r.ok(), text(r.status()));
    CHECK(s.c().transaction_status() == tx_status::idle);
    CHECK(s.c().server_transaction_status() == tx_status::in_transaction);
  }
  CHECK(pq::sqlstate(s.c().exec("COMMIT AND CHAIN").status()) == "25P01");
  CHECK(count_in(s.c(), "tag = 'guard'") == 1);  // nothing was ended
  REQUIRE(s.checkin().ok());
  CHECK(count_committed("tag = 'guard'") == 0);
}

PG_TEST_CASE("two-phase commit and COPY are refused; unparsable control gets the server's error") {
  sandboxed s;
  using code = absl::StatusCode;
  refused(s, "PREPARE TRANSACTION 'gid1'", code::kFailedPrecondition,
          {"PREPARE TRANSACTION (two-phase commit) was not sent", "unsandboxed"});
  refused(s, "COMMIT PREPARED 'gid1'", code::kFailedPrecondition, {"COMMIT PREPARED"});
  refused(s, "rollback prepared 'gid1'", code::kFailedPrecondition, {"ROLLBACK PREPARED"});
  refused(s, "COPY " + ledger() + " FROM STDIN", code::kUnimplemented,
          {"COPY is not supported by exec()", "native()"});
  // What does not parse is sent: the server's own syntax error comes back,
  // under the statement's savepoint, and the test goes on.
  for (const char* sql : {"BEGIN garbage", "COMMIT NOW", "START", "ROLLBACK TO", "/* open"}) {
    auto r = s.c().exec(sql);
    const std::string error = text(r.status());
    CAPTURE(error);
    CHECK(pq::sqlstate(r.status()) == "42601");
    CHECK((contains(error, "syntax error") || contains(error, "unterminated")));
    CHECK(s.c().transaction_status() == tx_status::idle);
    CHECK(s.exec("SELECT 1").get(0, 0) == "1");
  }
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("DISCARD ALL is refused with what the sandbox does instead") {
  sandboxed s;
  CHECK(refused(s, "DISCARD ALL", absl::StatusCode::kFailedPrecondition,
                {"DISCARD ALL was not sent", "resets the session itself",
                 "DISCARD PLANS / TEMP / SEQUENCES"}) == "25001");
  s.exec("DISCARD TEMP");  // the forms allowed in a transaction block run
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("savepoint statements need a block and may not use sandpool_ names") {
  sandboxed s;
  using code = absl::StatusCode;
  for (const char* sql : {"SAVEPOINT a", "RELEASE SAVEPOINT a", "ROLLBACK TO a"}) {
    CHECK(refused(s, sql, code::kFailedPrecondition,
                               {"can only be used in transaction blocks"}) == "25P01");
  }
  s.exec("BEGIN");
  for (const char* sql : {"SAVEPOINT sandpool_1", "RELEASE sandpool_base",
                          "ROLLBACK TO SAVEPOINT sandpool_tx"}) {
    refused(s, sql, code::kInvalidArgument, {"reserved for the sandbox's own savepoints"});
  }
  CHECK(s.box->in_block(s.c()));
  s.exec("ROLLBACK");
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("READ ONLY and snapshots cannot apply to a savepoint") {
  sandboxed s;
  using code = absl::StatusCode;
  refused(s, "BEGIN READ ONLY", code::kFailedPrecondition,
          {"READ ONLY was not sent", "cannot be read-only"});
  refused(s, "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY",
          code::kFailedPrecondition, {"READ ONLY"});
  CHECK_FALSE(s.box->in_block(s.c()));
  s.exec("BEGIN");
  refused(s, "SET TRANSACTION READ ONLY", code::kFailedPrecondition, {"READ ONLY"});
  refused(s, "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", code::kFailedPrecondition,
          {"SET TRANSACTION SNAPSHOT was not sent"});
  s.exec("COMMIT");
  // Outside a block SET TRANSACTION does nothing but warn, as without the
  // sandbox.
  CHECK(s.c().exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").ok());
  CHECK(s.exec("SHOW transaction_isolation").get(0, 0) == "read committed");
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("the sandbox's isolation level holds; the code under test cannot change it") {
  CHECK(sandbox::create(with_isolation("sometimes")).status().code() ==
        absl::StatusCode::kInvalidArgument);
  {
    sandboxed s(with_isolation("serializable"));
    CHECK(s.exec("SHOW transaction_isolation").get(0, 0) == "serializable");
    s.exec("BEGIN ISOLATION LEVEL SERIALIZABLE");  // the same level: fine
    CHECK(s.box->in_block(s.c()));
    s.exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
    s.exec("COMMIT");
    auto other = s.c().exec("BEGIN ISOLATION LEVEL READ COMMITTED");
    CHECK(other.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(contains(text(other.status()), "asks for isolation level READ COMMITTED"));
    CHECK(contains(text(other.status()), "opened at checkout with SERIALIZABLE"));
    CHECK_FALSE(s.box->in_block(s.c()));
    s.insert("iso");  // still usable
    REQUIRE(s.checkin().ok());
  }
  {
    sandboxed s;  // the server's default, READ COMMITTED
    auto other = s.c().exec("START TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    CHECK(contains(text(other.status()), "opened at checkout with READ COMMITTED"));
    CHECK(contains(text(other.status()), "sandbox_options.isolation = \"REPEATABLE READ\""));
    s.exec("BEGIN");
    auto set = s.c().exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
    CHECK(contains(text(set.status()), "now aborted"));
    s.exec("ROLLBACK");
    s.insert("iso");
    REQUIRE(s.checkin().ok());
  }
  CHECK(count_committed("tag = 'iso'") == 0);
}

PG_TEST_CASE("statements that cannot run in a transaction block get a hint") {
  sandboxed s;
  auto r = s.c().exec("VACUUM " + ledger());
  CHECK(pq::sqlstate(r.status()) == "25001");
  CHECK(contains(text(r.status()), "cannot run inside a transaction block"));
  CHECK(contains(text(r.status()), "sandpool::run_unboxed()"));
  s.insert("after-vacuum");  // still usable
  REQUIRE(s.checkin().ok());
}

PG_TEST_CASE("suite savepoints outside a sandbox, and in the wrong state, are refused") {
  sandboxed s;
  s.exec("BEGIN");
  const absl::Status open = s.box->begin_suite_savepoint(s.c());
  CHECK(open.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(text(open), "still has a transaction block open"));
  s.exec("COMMIT");
  const absl::Status none = s.box->release_suite_savepoint(s.c());
  CHECK(contains(text(none), "no suite savepoint to release"));
  REQUIRE(s.checkin().ok());

  REQUIRE(s.p.ownership().checkout({.sandbox = false}).ok());
  auto l = s.p.checkout();
  REQUIRE(l.ok());
  const absl::Status off = s.box->rollback_to(**l);
  CHECK(off.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(contains(text(off), "is not in a sandbox"));
}

}  // namespace sandpool::test
