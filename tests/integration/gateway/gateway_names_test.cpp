// The gateway keeps a plain session's view of what it names on the server
// and of the server's errors: SQL PREPARE / DEALLOCATE and protocol
// statements share one namespace per session, DEALLOCATE ALL and CLOSE ALL
// reach only the session's own objects on the shared backend, what a session
// leaves is dropped when it ends, and its errors read as they do on a plain
// connection to the same server.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gateway_env.hpp"

namespace sandpool::test {
namespace {

// What a client reads of an error: severity, SQLSTATE, message, position.
std::string error_of(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  std::string out;
  if (PQresultStatus(r) != PGRES_FATAL_ERROR) {
    out = std::string("no error: ") + PQresStatus(PQresultStatus(r));
  } else {
    for (int f : {PG_DIAG_SEVERITY_NONLOCALIZED, PG_DIAG_SQLSTATE, PG_DIAG_MESSAGE_PRIMARY,
                  PG_DIAG_MESSAGE_DETAIL, PG_DIAG_MESSAGE_HINT, PG_DIAG_STATEMENT_POSITION}) {
      const char* v = PQresultErrorField(r, f);
      out += std::string(v == nullptr ? "-" : v) + " | ";
    }
  }
  PQclear(r);
  return out;
}

long prepared_named(sandpool::test::gateway_env& env, const std::string& like) {
  return env.owner_count_of("pg_prepared_statements", "name LIKE '" + like + "'");
}

TEST_CASE("errors read as on a plain connection to the same server") {
  gateway_env env;
  client gw(env.gw->conninfo(env.token));
  client plain(dsn());
  REQUIRE_MESSAGE(gw.ok(), gw.error());
  REQUIRE_MESSAGE(plain.ok(), plain.error());
  const std::vector<std::string> cases = {
      "SELECT 1 +;",
      "SELECT 1 +",
      "SELECT nosuchcolumn FROM pg_class;",
      "SELECT 1; SELECT 1 +;",
      "SELECT 1; SELECT 2 FROM nosuchtable",
      "SAVEPOINT s",
      "RELEASE SAVEPOINT s",
      "ROLLBACK TO SAVEPOINT s",
      "SELECT 1/0",
      "DEALLOCATE nosuchstatement",
      "CLOSE nosuchcursor",
      "EXECUTE nosuchstatement",
      "SELECT 'é' || nosuchcolumn",
  };
  for (const std::string& sql : cases) {
    CAPTURE(sql);
    CHECK(error_of(gw.c, sql) == error_of(plain.c, sql));
    CHECK(PQtransactionStatus(gw.c) == PQtransactionStatus(plain.c));
  }
}

TEST_CASE("SQL and protocol prepared statements share the session's namespace") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  client b(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  REQUIRE_MESSAGE(b.ok(), b.error());
  // Protocol-prepared, deallocated in SQL under the client's own name (what
  // libpqxx's unprepare does).
  PGresult* r = PQprepare(a.c, "q", "SELECT 'a' || $1", 1, nullptr);
  CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
  PQclear(r);
  CHECK(a.run("DEALLOCATE q") == "DEALLOCATE");
  r = PQdescribePrepared(a.c, "q");
  CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
  CHECK(std::string(PQresultErrorField(r, PG_DIAG_SQLSTATE)) == "26000");
  PQclear(r);
  CHECK(a.run("DEALLOCATE q") == "ERROR 26000");
  // SQL-prepared, executed by the protocol under its own name.
  CHECK(a.run("PREPARE gw_named(int) AS SELECT $1 + 1") == "PREPARE");
  CHECK(a.run("EXECUTE gw_named(1)") == "2");
  const char* v[] = {"41"};
  r = PQexecPrepared(a.c, "gw_named", 1, v, nullptr, nullptr, 0);
  REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(r, 0, 0)) == "42");
  PQclear(r);
  r = PQprepare(a.c, "gw_named", "SELECT 1", 0, nullptr);
  CHECK(std::string(PQresultErrorField(r, PG_DIAG_SQLSTATE)) == "42P05");
  PQclear(r);
  // Another session's DEALLOCATE ALL leaves a's statements alone.
  PQclear(PQprepare(a.c, "kept", "SELECT 7", 0, nullptr));
  PQclear(PQprepare(b.c, "gone", "SELECT 8", 0, nullptr));
  CHECK(b.run("PREPARE gw_b AS SELECT 9") == "PREPARE");
  CHECK(b.run("DEALLOCATE ALL") == "DEALLOCATE ALL");
  CHECK(b.run("EXECUTE gw_b") == "ERROR 26000");
  CHECK(a.run("EXECUTE gw_named(2)") == "3");
  r = PQexecPrepared(a.c, "kept", 0, nullptr, nullptr, nullptr, 0);
  CHECK(std::string(PQgetvalue(r, 0, 0)) == "7");
  PQclear(r);
  r = PQexecPrepared(b.c, "gone", 0, nullptr, nullptr, nullptr, 0);
  CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
  PQclear(r);
}

TEST_CASE("unnamed statements leave no prepared statement behind on the backend") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  for (int i = 0; i < 50; ++i) {
    const std::string v = std::to_string(i);
    const char* values[] = {v.c_str()};
    PGresult* r = PQexecParams(a.c, "SELECT $1::int + 1", 1, nullptr, values, nullptr, nullptr, 0);
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK(std::string(PQgetvalue(r, 0, 0)) == std::to_string(i + 1));
    PQclear(r);
    // Described on its own (not followed by Execute): prepared under the
    // session's one name for the unnamed statement.
    PQclear(PQprepare(a.c, "", "SELECT $1::text", 1, nullptr));
    r = PQdescribePrepared(a.c, "");
    CHECK(PQnparams(r) == 1);
    PQclear(r);
  }
  CHECK(prepared_named(env, "sandpool_gw%") <= 1);
}

TEST_CASE("what a session prepared or declared is gone when it ends") {
  gateway_env env;
  {
    client a(env.gw->conninfo(env.token));
    REQUIRE_MESSAGE(a.ok(), a.error());
    CHECK(a.run("PREPARE gw_left AS SELECT 1") == "PREPARE");
    PQclear(PQprepare(a.c, "proto_left", "SELECT 2", 0, nullptr));
    CHECK(a.run("BEGIN") == "BEGIN");
    CHECK(a.run("DECLARE gw_held CURSOR WITH HOLD FOR SELECT 1") == "DECLARE CURSOR");
    CHECK(a.run("COMMIT") == "COMMIT");
    CHECK(a.run("FETCH gw_held") == "1");
    CHECK(env.owner_count_of("pg_cursors", "name = 'gw_held'") == 1);
  }
  CHECK(eventually([&] { return env.gw->sessions() == 0; }, std::chrono::seconds(10)));
  CHECK(prepared_named(env, "gw_left") == 0);
  CHECK(prepared_named(env, "sandpool_gw%") == 0);
  CHECK(env.owner_count_of("pg_cursors", "name = 'gw_held'") == 0);
}

TEST_CASE("CLOSE ALL closes only the session's own cursors") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  client b(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  REQUIRE_MESSAGE(b.ok(), b.error());
  CHECK(a.run("BEGIN") == "BEGIN");
  CHECK(a.run("DECLARE gw_a CURSOR WITH HOLD FOR SELECT 1") == "DECLARE CURSOR");
  CHECK(a.run("COMMIT") == "COMMIT");
  CHECK(b.run("BEGIN") == "BEGIN");
  CHECK(b.run("DECLARE gw_b CURSOR WITH HOLD FOR SELECT 2") == "DECLARE CURSOR");
  CHECK(b.run("COMMIT") == "COMMIT");
  CHECK(b.run("CLOSE ALL") == "CLOSE CURSOR ALL");
  CHECK(b.run("FETCH gw_b") == "ERROR 34000");
  CHECK(a.run("FETCH gw_a") == "1");
}

}  // namespace
}  // namespace sandpool::test
