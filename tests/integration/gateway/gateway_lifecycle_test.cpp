// A gateway session's life on the owner's connection: a CancelRequest
// cancels that session's statement only; a session that waits too long for
// its turn gets the turn-timeout error naming the holder and goes on; a
// client that dies mid-statement is cancelled and rolled back; the owner's
// checkin and its ownership timeout end the sessions, saying which, also
// when the timeout comes while a session holds its turn; the
// limits refuse with errors that name them.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "gateway_env.hpp"

namespace sandpool::test {
namespace {

using namespace std::chrono_literals;

// The next result of an asynchronous query: its value, or "ERROR <sqlstate>".
std::string next_result(PGconn* c) {
  std::string out = "none";
  for (PGresult* r; (r = PQgetResult(c)) != nullptr; PQclear(r)) {
    if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
      out = std::string("ERROR ") + PQresultErrorField(r, PG_DIAG_SQLSTATE);
    } else if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
  }
  return out;
}

bool cancel(PGconn* c) {
  PGcancel* k = PQgetCancel(c);
  char err[256];
  const bool ok = PQcancel(k, err, sizeof err) == 1;
  PQfreeCancel(k);
  return ok;
}

TEST_CASE("a CancelRequest cancels its own session's statement, not the next one") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  client b(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  REQUIRE_MESSAGE(b.ok(), b.error());
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(PQsendQuery(a.c, "SELECT pg_sleep(30)") == 1);
  REQUIRE(PQsendQuery(b.c, "SELECT 5") == 1);  // waits for a's turn to end
  CHECK(eventually([&] { return env.owner_busy(); }, 5s));
  REQUIRE(cancel(a.c));
  CHECK(next_result(a.c) == "ERROR 57014");
  CHECK(next_result(b.c) == "5");
  CHECK(std::chrono::steady_clock::now() - start < 20s);
  CHECK(a.run("SELECT 6") == "6");
  // A cancel with a wrong key, or for an idle session, cancels nothing.
  REQUIRE(cancel(b.c));
  CHECK(b.run("SELECT 7") == "7");
}

TEST_CASE("a session waiting past turn_timeout gets the error naming the holder, then goes on") {
  gateway_options o;
  o.turn_timeout = 300ms;
  gateway_env env(o);
  client a(env.gw->conninfo(env.token));
  client b(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  REQUIRE_MESSAGE(b.ok(), b.error());
  CHECK(a.run("BEGIN") == "BEGIN");  // a keeps the turn until its block ends
  PGresult* r = PQexec(b.c, "SELECT 1");
  REQUIRE(PQresultStatus(r) == PGRES_FATAL_ERROR);
  CHECK(std::string(PQresultErrorField(r, PG_DIAG_SQLSTATE)) == "55P03");
  const std::string message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  PQclear(r);
  CAPTURE(message);
  CHECK(contains(message, "turn_timeout (300 ms)"));
  CHECK(contains(message, "held by gateway session"));
  CHECK(PQstatus(b.c) == CONNECTION_OK);
  CHECK(a.run("COMMIT") == "COMMIT");
  CHECK(b.run("SELECT 2") == "2");
}

TEST_CASE("a client that dies mid-statement is cancelled and rolled back") {
  gateway_env env;
  {
    client a(env.gw->conninfo(env.token));
    REQUIRE_MESSAGE(a.ok(), a.error());
    REQUIRE(PQsendQuery(a.c, ("INSERT INTO " + ledger() +
                              " (tag, n) VALUES ('gw-mid', 1); SELECT pg_sleep(60)")
                                 .c_str()) == 1);
    CHECK(eventually([&] { return env.owner_busy(); }, 5s));
  }  // the socket closes while pg_sleep runs
  const auto start = std::chrono::steady_clock::now();
  CHECK(eventually([&] { return env.gw->sessions() == 0; }, 20s));
  CHECK(std::chrono::steady_clock::now() - start < 20s);
  CHECK(env.owner_count("tag = 'gw-mid'") == 0);
  CHECK(env.owner_count() >= 0);  // the owner's connection goes on
  client b(env.gw->conninfo(env.token));
  CHECK(b.run("SELECT 8") == "8");
}

TEST_CASE("the owner's checkin ends its sessions with an error that says so") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  CHECK(a.run("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-checkin', 1)") == "INSERT 0 1");
  REQUIRE(env.checkin().ok());
  PGresult* r = PQexec(a.c, "SELECT 1");
  CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
  PQclear(r);
  const std::string message = PQerrorMessage(a.c);
  CAPTURE(message);
  CHECK(contains(message, "terminating gateway session"));
  CHECK(contains(message, "checked its connection in"));
  CHECK(PQstatus(a.c) == CONNECTION_BAD);
  CHECK(count_committed("tag = 'gw-checkin'") == 0);
}

TEST_CASE("the owner's ownership timeout ends its sessions with an error that says so") {
  ownership_options own;
  own.ownership_timeout = 500ms;
  gateway_env env({}, own);
  client a(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  CHECK(a.run("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-timeout', 1)") == "INSERT 0 1");
  std::string message;
  CHECK(eventually(
      [&] {
        PQclear(PQexec(a.c, "SELECT 1"));
        message = PQerrorMessage(a.c);
        return PQstatus(a.c) == CONNECTION_BAD;
      },
      10s));
  CAPTURE(message);
  CHECK(contains(message, "terminating gateway session"));
  CHECK(contains(message, "ownership_timeout"));
  CHECK(count_committed("tag = 'gw-timeout'") == 0);
}

// The reaper takes the connection back while a session holds its turn
// (here inside the client's transaction block, and between the extended
// protocol's messages before a Sync): the session's next message ends it,
// saying why, and nothing reaches the connection the pool took back.
TEST_CASE("an ownership timeout during a session's turn ends it with an error that says so") {
  ownership_options own;
  own.ownership_timeout = 500ms;
  gateway_env env({}, own);
  client a(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  bool extended = false;
  SUBCASE("inside a transaction block") {
    CHECK(a.run("BEGIN") == "BEGIN");
    CHECK(a.run("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-held', 1)") == "INSERT 0 1");
  }
  SUBCASE("between Execute and Sync") {
    extended = true;
    REQUIRE(PQenterPipelineMode(a.c) == 1);
    REQUIRE(PQsendQueryParams(a.c, ("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-held', 1)").c_str(),
                              0, nullptr, nullptr, nullptr, nullptr, 0) == 1);
    REQUIRE(PQsendFlushRequest(a.c) == 1);
    REQUIRE(PQflush(a.c) == 0);
    PGresult* r = PQgetResult(a.c);  // the INSERT ran; its savepoint waits for the Sync
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    CHECK(PQgetResult(a.c) == nullptr);
  }
  CHECK(eventually([&] { return env.p.ownership().metrics().timeouts > 0; }, 10s));
  std::string message;
  if (extended) {
    REQUIRE(PQpipelineSync(a.c) == 1);
    for (int i = 0; i < 8; ++i) {
      PGresult* r = PQgetResult(a.c);
      if (r == nullptr) {
        if (PQstatus(a.c) != CONNECTION_OK) break;
        continue;
      }
      const ExecStatusType status = PQresultStatus(r);
      PQclear(r);
      if (status == PGRES_PIPELINE_SYNC || status == PGRES_FATAL_ERROR) break;
    }
    message = PQerrorMessage(a.c);
  } else {
    PQclear(PQexec(a.c, "SELECT 1"));
    message = PQerrorMessage(a.c);
  }
  CAPTURE(message);
  CHECK(contains(message, "terminating gateway session"));
  CHECK(contains(message, "ownership_timeout"));
  CHECK_FALSE(contains(message, "connection pointer is NULL"));
  CHECK(count_committed("tag = 'gw-held'") == 0);
}

TEST_CASE("limits refuse with errors that name them") {
  gateway_options o;
  o.max_sessions_per_owner = 2;
  o.max_message_bytes = 4096;
  gateway_env env(o);
  client a(env.gw->conninfo(env.token));
  client b(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  REQUIRE_MESSAGE(b.ok(), b.error());
  client c(env.gw->conninfo(env.token));
  CHECK_FALSE(c.ok());
  CAPTURE(c.error());
  CHECK(contains(c.error(), "max_sessions_per_owner"));
  // An oversized message: an error naming the limit, and a closed session.
  PGresult* r = PQexec(a.c, ("SELECT '" + std::string(8000, 'x') + "'").c_str());
  CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
  PQclear(r);
  const std::string message = PQerrorMessage(a.c);
  CAPTURE(message);
  CHECK(contains(message, "max_message_bytes"));
  CHECK(PQstatus(a.c) == CONNECTION_BAD);
  CHECK(b.run("SELECT 1") == "1");
}

}  // namespace
}  // namespace sandpool::test
