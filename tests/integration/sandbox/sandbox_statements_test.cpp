// What the sandbox sends the server, message by message: libpq's protocol
// trace (PQtrace) of one sandboxed connection counts the statements of a
// sandboxed test (checkin, then the next checkout) and of one protected
// statement, and which protocol carries them (Query: simple, one message
// for a whole string; Parse: extended, one per statement). The round-trip
// counts beside them must stay at one per test and one per statement.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cstdio>
#include <string>

#include "sandbox_env.hpp"
#include "sandpool/pq/server_error.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

// The frontend messages PQtrace wrote to `file` since it was rewound.
struct sent {
  int query = 0;  // simple-protocol Query messages
  int parse = 0;  // extended-protocol Parse messages (one per statement)
  std::string log;  // the statements, for failure messages
};

sent read_trace(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  sent out;
  char line[4096];
  while (std::fgets(line, sizeof line, file) != nullptr) {
    const std::string l(line);
    // "F\t<length>\tQuery\t..." without timestamps: F is the frontend.
    if (!l.starts_with("F\t")) continue;
    if (l.find("\tQuery\t") != std::string::npos) ++out.query, out.log += l;
    if (l.find("\tParse\t") != std::string::npos) ++out.parse, out.log += l;
  }
  return out;
}

// A trace of c's messages in a temporary file, stopped when it goes.
struct trace {
  explicit trace(pq::connection& c) : conn(c.native()), file(std::tmpfile()) {
    REQUIRE(file != nullptr);
    PQtrace(conn, file);
    PQsetTraceFlags(conn, PQTRACE_SUPPRESS_TIMESTAMPS);
  }
  ~trace() {
    PQuntrace(conn);
    std::fclose(file);
  }
  sent since_start() { return read_trace(file); }
  // Starts counting again from nothing.
  void restart() {
    PQuntrace(conn);
    std::fclose(file);
    file = std::tmpfile();
    REQUIRE(file != nullptr);
    PQtrace(conn, file);
    PQsetTraceFlags(conn, PQTRACE_SUPPRESS_TIMESTAMPS);
  }
  PGconn* conn;
  std::FILE* file;
};

}  // namespace

PG_TEST_CASE("a sandboxed test that sends nothing costs nothing; its first statement opens it") {
  ensure_ledger();
  pool p = make_sandbox_pool(dsn(), 1);
  REQUIRE(install_sandbox(p).ok());
  // The first checkout on a backend opens at once (with the safeguard's
  // check); later ones wait for the test's first statement.
  REQUIRE(p.ownership().checkout().ok());
  pq::connection* c = nullptr;
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    c = &**l;
    CHECK_FALSE(c->opening_deferred());
  }
  trace t(*c);  // native(): would send a deferred opening, but none is
  REQUIRE(p.ownership().checkin().ok());  // ROLLBACK and DISCARD ALL, not waited for
  REQUIRE(p.ownership().checkout().ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    CHECK(c->opening_deferred());
    CHECK((*l)->read_reset().ok());
  }

  // Tests that send nothing: no statement, no round trip.
  t.restart();
  constexpr int tests = 3;
  const auto rt = c->round_trips();
  for (int i = 0; i < tests; ++i) {
    REQUIRE(p.ownership().checkin().ok());
    REQUIRE(p.ownership().checkout().ok());
  }
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
  }
  const sent idle = t.since_start();
  INFO(idle.log);
  CHECK(c->round_trips() == rt);
  CHECK(idle.parse == 0);
  CHECK(idle.query == 0);
  REQUIRE(p.ownership().checkin().ok());

  // A test of one statement: the statement's string carries BEGIN and the
  // guard's DECLARE (one Query); checkin sends ROLLBACK and DISCARD ALL.
  t.restart();
  REQUIRE(p.ownership().checkout().ok());
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    const auto before = c->round_trips();
    CHECK((*l)->exec("SELECT 1").ok());
    CHECK(c->round_trips() == before + 1);
  }
  REQUIRE(p.ownership().checkin().ok());
  REQUIRE(p.ownership().checkout().ok());
  {
    auto l = p.checkout();  // reads the checkin's answer
    REQUIRE(l.ok());
    CHECK((*l)->read_reset().ok());
  }
  const sent one = t.since_start();
  INFO(one.log);
  CHECK(one.query == 1);
  CHECK(one.parse == 2);  // ROLLBACK, DISCARD ALL
  CHECK(contains(one.log, "BEGIN; DECLARE sandpool_guard CURSOR WITH HOLD FOR SELECT "
                          "sandpool.refuse_commit_now(); SAVEPOINT sandpool_tx;SELECT 1"));

  // A protected statement: SAVEPOINT sandpool_tx, the statement and RELEASE
  // in one simple-protocol string.
  const std::string insert = "INSERT INTO " + ledger() + " (tag) VALUES ('counted')";
  t.restart();
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    const auto before = c->round_trips();
    CHECK((*l)->exec(insert).ok());
    CHECK(c->round_trips() == before + 1);
  }
  const sent per_statement = t.since_start();
  INFO(per_statement.log);
  CHECK(per_statement.query == 1);
  CHECK(per_statement.parse == 0);
  CHECK(contains(per_statement.log, "SAVEPOINT sandpool_tx;INSERT INTO"));

  // With parameters, or text the parser rejects: a pipeline of three.
  t.restart();
  {
    auto l = p.checkout();
    REQUIRE(l.ok());
    const auto before = c->round_trips();
    CHECK((*l)->exec("INSERT INTO " + ledger() + " (tag) VALUES ($1)", {"counted"}).ok());
    CHECK(c->round_trips() == before + 1);
    auto bad = (*l)->exec("SELEC 1");
    CHECK(pq::sqlstate(bad.status()) == "42601");
    CHECK((*l)->exec("SELECT 1").ok());  // the syntax error was undone
  }
  const sent fallback = t.since_start();
  INFO(fallback.log);
  CHECK(fallback.parse == 6);
  CHECK(fallback.query == 2);  // the syntax error's undo, and SELECT 1
  REQUIRE(p.ownership().checkin().ok());
  CHECK(count_committed("tag = 'counted'") == 0);
}

PG_TEST_CASE("a protected statement's error reads as on a plain connection") {
  sandboxed s;
  pq::connection plain = connect(dsn());
  for (const std::string sql : {"SELECT nosuch FROM (SELECT 1) AS t", "SELECT 1/0",
                                "SELECT 'é', nosuch", "SELECT 1; SELECT nosuch"}) {
    CAPTURE(sql);
    auto boxed = s.c().exec(sql);
    auto direct = plain.exec(sql);
    REQUIRE_FALSE(boxed.ok());
    REQUIRE_FALSE(direct.ok());
    CHECK(pq::sqlstate(boxed.status()) == pq::sqlstate(direct.status()));
    auto field = [](const absl::Status& st, char code) {
      for (const auto& [k, v] : pq::server_error_fields(st))
        if (k == code) return v;
      return std::string();
    };
    CHECK(field(boxed.status(), 'P') == field(direct.status(), 'P'));
    CHECK(field(boxed.status(), 'M') == field(direct.status(), 'M'));
    CHECK(contains(text(boxed.status()), sql));
    CHECK_FALSE(contains(text(boxed.status()), "sandpool_tx;"));
  }
}

}  // namespace sandpool::test
