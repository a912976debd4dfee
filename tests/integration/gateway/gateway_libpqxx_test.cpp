// The gateway with libpqxx 6.4 as its client, in libpqxx's own idioms:
// pqxx::work (its commit is a savepoint release the owner sees, and the
// owner's checkin commits nothing), a failure inside a work that leaves the
// owner's transaction usable, subtransactions, prepared statements,
// parameters, nontransaction, cursors and pipelines. Errors are compared with
// the same statements on a plain libpqxx connection to the server.
#include <doctest/doctest.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <typeinfo>

#include "pool_it_env.hpp"
#include "sandbox_env.hpp"

namespace sandpool::test {
namespace {

// The owner with a sandbox, its turn given back so sessions can take theirs.
struct gateway_env : sandboxed {
  gateway_env() {
    (void)lease.checkin();
    auto t = p.ownership().token();
    REQUIRE_MESSAGE(t.ok(), text(t.status()));
    token = *t;
    auto g = gateway::start(p);
    REQUIRE_MESSAGE(g.ok(), text(g.status()));
    gw = std::move(*g);
  }
  // What the owner's own connection runs; sessions must be between blocks.
  pq::result owner_exec(const std::string& sql) {
    auto l = p.checkout();
    REQUIRE_MESSAGE(l.ok(), text(l.status()));
    return must((*l)->exec(sql));
  }
  long owner_count(const std::string& where) {
    return std::stol(std::string(
        owner_exec("SELECT count(*) FROM " + ledger() + " WHERE " + where).get(0, 0)));
  }
  std::string conninfo() const { return gw->conninfo(token); }
  std::string token;
  std::unique_ptr<gateway> gw;
};

std::string insert_sql(const std::string& tag, int n = 0) {
  return "INSERT INTO " + ledger() + " (tag, n) VALUES ('" + tag + "', " + std::to_string(n) +
         ")";
}

// What a libpqxx user sees of a statement that fails inside a pqxx::work.
struct failure {
  std::string type, what, sqlstate, query;
  bool operator==(const failure&) const = default;
};
std::ostream& operator<<(std::ostream& os, const failure& f) {
  return os << f.type << " [" << f.sqlstate << "] " << f.what << " (query: " << f.query << ")";
}

failure fail_in_work(pqxx::connection& c, const std::string& setup, const std::string& sql) {
  pqxx::work w(c);
  if (!setup.empty()) w.exec0(setup);
  try {
    w.exec(sql);
  } catch (const pqxx::sql_error& e) {
    return {typeid(e).name(), e.what(), e.sqlstate(), e.query()};
  }
  FAIL("no error from: " << sql);
  return {};
}

TEST_CASE("a committed pqxx::work is seen by the owner; the owner's checkin commits nothing") {
  {
    gateway_env env;
    pqxx::connection c(env.conninfo());
    {
      pqxx::work w(c);
      w.exec0(insert_sql("gw-pqxx-commit", 1));
      CHECK(w.exec1("SELECT count(*) FROM " + ledger() + " WHERE tag = 'gw-pqxx-commit'")[0]
                .as<long>() == 1);
      w.commit();
    }
    CHECK(env.owner_count("tag = 'gw-pqxx-commit'") == 1);
    {
      pqxx::work w(c);
      w.exec0(insert_sql("gw-pqxx-abort", 1));
      w.abort();
    }
    {
      pqxx::work w(c);
      w.exec0(insert_sql("gw-pqxx-dropped", 1));
    }  // destroyed without commit: rolled back
    CHECK(env.owner_count("tag IN ('gw-pqxx-abort', 'gw-pqxx-dropped')") == 0);
    CHECK(env.owner_count("tag = 'gw-pqxx-commit'") == 1);
    env.gw->stop();
    REQUIRE(env.checkin().ok());
  }
  CHECK(count_committed("tag LIKE 'gw-pqxx-%'") == 0);
}

TEST_CASE("a failure inside a pqxx::work leaves the owner's transaction usable") {
  gateway_env env;
  env.owner_exec(insert_sql("gw-pqxx-owner", 1));
  pqxx::connection c(env.conninfo());
  {
    pqxx::work w(c);
    w.exec0(insert_sql("gw-pqxx-failed", 1));
    CHECK_THROWS_AS(w.exec("SELECT 1/0"), pqxx::data_exception);
  }  // aborted
  CHECK(env.owner_count("tag = 'gw-pqxx-failed'") == 0);
  CHECK(env.owner_count("tag = 'gw-pqxx-owner'") == 1);
  env.owner_exec(insert_sql("gw-pqxx-owner", 2));
  CHECK(env.owner_count("tag = 'gw-pqxx-owner'") == 2);
  pqxx::work again(c);
  CHECK(again.exec1("SELECT 7")[0].as<int>() == 7);
  again.commit();
}

TEST_CASE("errors inside a pqxx::work match a plain libpqxx connection") {
  gateway_env env;
  pqxx::connection gw(env.conninfo());
  pqxx::connection plain(dsn());
  const std::string t = ledger();
  const struct {
    std::string name, setup, sql;
  } cases[] = {
      {"division by zero", "", "SELECT 1/0"},
      {"undefined column", "", "SELECT nosuchcolumn FROM " + t},
      {"undefined table", "", "SELECT * FROM gw_pqxx_no_such_table"},
      {"syntax error", "", "SELEC 1"},
      {"syntax error at the end", "", "SELECT 1 +;"},
      {"not null violation", "", "INSERT INTO " + t + " (id, tag) VALUES (0, NULL)"},
      {"bad input", "", "SELECT 'x'::int"},
      {"raised", "", "DO $$BEGIN RAISE EXCEPTION 'custom' USING ERRCODE = 'SP042'; END$$"},
      {"second of a string", "", "SELECT 1; SELECT 1/0"},
      {"after a savepoint", "SAVEPOINT a", "ROLLBACK TO SAVEPOINT nowhere"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.name);
    const failure want = fail_in_work(plain, k.setup, k.sql);
    CHECK(fail_in_work(gw, k.setup, k.sql) == want);
  }
}

TEST_CASE("a subtransaction rolls back alone; the work goes on and commits") {
  gateway_env env;
  pqxx::connection c(env.conninfo());
  {
    pqxx::work w(c);
    w.exec0(insert_sql("gw-pqxx-outer"));
    {
      pqxx::subtransaction s(w, "inner");
      s.exec0(insert_sql("gw-pqxx-inner"));
      CHECK_THROWS_AS(s.exec("SELECT 1/0"), pqxx::data_exception);
    }  // rolled back to its savepoint
    {
      pqxx::subtransaction s(w, "kept");
      s.exec0(insert_sql("gw-pqxx-kept"));
      s.commit();
    }
    w.commit();
  }
  CHECK(env.owner_count("tag = 'gw-pqxx-outer'") == 1);
  CHECK(env.owner_count("tag = 'gw-pqxx-inner'") == 0);
  CHECK(env.owner_count("tag = 'gw-pqxx-kept'") == 1);
}

TEST_CASE("prepared statements: per connection, with parameters, in and out of a work") {
  gateway_env env;
  pqxx::connection a(env.conninfo());
  pqxx::connection b(env.conninfo());
  const std::string t = ledger();
  a.prepare("ins", "INSERT INTO " + t + " (tag, n) VALUES ($1, $2)");
  a.prepare("cnt", "SELECT count(*), sum(n) FROM " + t + " WHERE tag = $1");
  b.prepare("cnt", "SELECT -count(*) FROM " + t + " WHERE tag = $1");  // same name, other text
  {
    pqxx::work w(a);
    for (int i = 1; i <= 3; ++i) w.exec_prepared0("ins", "gw-pqxx-prep", i);
    const pqxx::row r = w.exec_prepared1("cnt", "gw-pqxx-prep");
    CHECK(r[0].as<long>() == 3);
    CHECK(r[1].as<long>() == 6);
    w.commit();
  }
  {
    pqxx::nontransaction n(b);
    CHECK(n.exec_prepared1("cnt", "gw-pqxx-prep")[0].as<long>() == -3);
  }
  CHECK(env.owner_count("tag = 'gw-pqxx-prep'") == 3);
  {
    pqxx::work w(a);  // still prepared after its first work ended
    CHECK(w.exec_prepared1("cnt", "gw-pqxx-prep")[0].as<long>() == 3);
  }
  // A statement prepared by a session is not the owner's.
  CHECK(env.owner_exec("SELECT count(*) FROM pg_prepared_statements WHERE name = 'cnt'")
            .get(0, 0) == "0");
}

// What a statement run in a pqxx::work of c gives: its first value or its error.
template <class Run>
std::string outcome(pqxx::connection& c, Run run) {
  pqxx::work w(c);
  try {
    const pqxx::result r = run(w);
    return "ok " + r[0][0].as<std::string>();
  } catch (const pqxx::failure& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  }
}

// The same runs on a gateway session and a plain connection, each in a
// pqxx::work, after both prepared "div".
void same_outcomes(std::initializer_list<std::function<pqxx::result(pqxx::work&)>> runs) {
  gateway_env env;
  pqxx::connection gw(env.conninfo());
  pqxx::connection plain(dsn());
  for (pqxx::connection* c : {&gw, &plain}) c->prepare("div", "SELECT 10 / $1::int");
  int i = 0;
  for (const auto& run : runs) {
    const int step = i++;
    CAPTURE(step);
    const std::string want = outcome(plain, run);
    CHECK(outcome(gw, run) == want);
  }
}

TEST_CASE("a prepared statement's results and errors match a plain libpqxx connection") {
  same_outcomes({
      [](pqxx::work& w) { return w.exec_prepared("div", 5); },
      [](pqxx::work& w) { return w.exec_prepared("div", 0); },
      [](pqxx::work& w) { return w.exec_prepared("div", 4); },
  });
}

// The server's message names the statement as the client named it, not by
// the gateway's per-session name on the backend.
TEST_CASE("an error about a prepared statement names it as the client did") {
  same_outcomes({
      [](pqxx::work& w) { return w.exec_prepared("div", 5); },
      [](pqxx::work& w) { return w.exec_prepared("div", 2, 3); },  // one parameter too many
  });
}

// A documented difference (gateway.hpp): SQL EXECUTE reaches only what SQL
// PREPAREd, since the session's protocol statements have other names there.
TEST_CASE("SQL EXECUTE runs statements PREPAREd in SQL, not those of the protocol") {
  gateway_env env;
  pqxx::connection c(env.conninfo());
  c.prepare("div", "SELECT 10 / $1::int");
  pqxx::nontransaction n(c);
  CHECK(n.exec_prepared1("div", 5)[0].as<int>() == 2);
  CHECK_THROWS_AS(n.exec("EXECUTE div(1)"), pqxx::invalid_sql_statement_name);
  n.exec0("PREPARE sql_div AS SELECT 10 / $1::int");
  CHECK(n.exec1("EXECUTE sql_div(5)")[0].as<int>() == 2);
  n.exec0("DEALLOCATE sql_div");
}

TEST_CASE("unprepare (SQL DEALLOCATE of a protocol-prepared statement) frees the name") {
  gateway_env env;
  pqxx::connection a(env.conninfo());
  a.prepare("gone", "SELECT 1");
  {
    pqxx::nontransaction n(a);
    CHECK(n.exec_prepared1("gone")[0].as<int>() == 1);
  }
  CHECK_NOTHROW(a.unprepare("gone"));
  a.prepare("gone", "SELECT 2");
  pqxx::nontransaction n(a);
  CHECK(n.exec_prepared1("gone")[0].as<int>() == 2);
}

TEST_CASE("exec_params: values, nulls, quotes and binary data round-trip") {
  gateway_env env;
  pqxx::connection c(env.conninfo());
  pqxx::work w(c);
  const std::string quoted = "it's \"q\" \\ ; --";
  const std::string raw("\x00\xff'\x01", 4);
  const pqxx::row r =
      w.exec_params1("SELECT $1::int + $2::int, $3::text, $4::text IS NULL, $5::bytea", 40, 2,
                     quoted, nullptr, pqxx::binarystring(raw));
  CHECK(r[0].as<int>() == 42);
  CHECK(r[1].as<std::string>() == quoted);
  CHECK(r[2].as<bool>());
  CHECK(pqxx::binarystring(r[3]).str() == raw);
  w.exec_params0("INSERT INTO " + ledger() + " (tag, n) VALUES ($1, $2)", "gw-pqxx-param", 9);
  CHECK(w.exec_params1("SELECT n FROM " + ledger() + " WHERE tag = $1", "gw-pqxx-param")[0]
            .as<int>() == 9);
  CHECK_THROWS_AS(w.exec_params("SELECT $1::int", "nine"), pqxx::data_exception);
}

TEST_CASE("nontransaction: each statement is seen at once; a failure ends nothing") {
  gateway_env env;
  pqxx::connection c(env.conninfo());
  pqxx::nontransaction n(c);
  n.exec0(insert_sql("gw-pqxx-nontx"));
  CHECK(env.owner_count("tag = 'gw-pqxx-nontx'") == 1);
  CHECK_THROWS_AS(n.exec("SELECT nosuchcolumn FROM " + ledger()), pqxx::undefined_column);
  CHECK(n.exec1("SELECT 8")[0].as<int>() == 8);
  CHECK(env.owner_count("tag = 'gw-pqxx-nontx'") == 1);
  n.commit();
}

TEST_CASE("a stateless cursor and a pipeline inside a work") {
  gateway_env env;
  pqxx::connection c(env.conninfo());
  pqxx::work w(c);
  pqxx::stateless_cursor<pqxx::cursor_base::read_only, pqxx::cursor_base::owned> cur(
      w, "SELECT g FROM generate_series(1, 10) g", "gw_pqxx_cur", false);
  CHECK(cur.size() == 10);
  const pqxx::result part = cur.retrieve(2, 5);
  REQUIRE(part.size() == 3);
  CHECK(part[0][0].as<int>() == 3);
  CHECK(part[2][0].as<int>() == 5);
  pqxx::pipeline p(w);
  const auto one = p.insert("SELECT 1");
  const auto two = p.insert("SELECT 'two'");
  p.complete();
  CHECK(p.retrieve(one)[0][0].as<int>() == 1);
  CHECK(p.retrieve(two)[0][0].as<std::string>() == "two");
  w.commit();
}

}  // namespace
}  // namespace sandpool::test
