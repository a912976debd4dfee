// Queries through pq::connection against a real server: results and their
// accessors, parameters (NULL included), server errors with their SQLSTATE
// and code, transaction states and reset, and exact round-trip counts.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "pg_env.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

pq::result must(absl::StatusOr<pq::result> r) {
  REQUIRE_MESSAGE(r.ok(), text(r));
  return *std::move(r);
}

}  // namespace

PG_TEST_CASE("result accessors") {
  pq::connection c = connect();
  const pq::result r = must(c.exec(
      "SELECT 1 AS one, NULL::text AS nothing, 'x y'::text AS xy, '' AS empty "
      "FROM generate_series(1, 3)"));
  CHECK(r.status() == PGRES_TUPLES_OK);
  CHECK(r.rows() == 3);
  CHECK(r.columns() == 4);
  CHECK(r.column_name(0) == "one");
  CHECK(r.column_name(2) == "xy");
  CHECK(r.column_name(9).empty());
  CHECK(r.column_index("empty") == 3);
  CHECK(r.column_index("nope") == -1);
  CHECK(r.get(2, 0) == "1");
  CHECK(r.get(0, 2) == "x y");
  CHECK(r.is_null(0, 1));
  CHECK(r.get(0, 1).empty());
  CHECK_FALSE(r.is_null(0, 3));  // an empty string is not NULL
  CHECK(r.get(0, 3).empty());
  CHECK(r.is_null(3, 0));  // out of range
  CHECK(r.get(-1, 0).empty());
  CHECK(r.affected_rows() == 3);
  CHECK(r.command_tag() == "SELECT 3");

  const pq::result last = must(c.exec("SELECT 1; SELECT 2 AS two"));
  CHECK(last.column_name(0) == "two");
  CHECK(last.get(0, 0) == "2");
  const pq::result empty = must(c.exec(""));
  CHECK(empty.status() == PGRES_EMPTY_QUERY);
  CHECK(empty.rows() == 0);
}

PG_TEST_CASE("parameters, including NULL") {
  pq::connection c = connect();
  const std::string owned = "héllo wörld";
  const pq::result r = must(c.exec(
      "SELECT $1::int + 1, $2::text IS NULL, $3::text, length($4::text)",
      {"41", std::nullopt, owned, std::string_view("abcdef").substr(0, 3)}));
  CHECK(r.get(0, 0) == "42");
  CHECK(r.get(0, 1) == "t");
  CHECK(r.get(0, 2) == owned);
  CHECK(r.get(0, 3) == "3");  // a string_view that is not NUL-terminated

  std::vector<pq::connection::param> many;
  for (int i = 0; i < 100; ++i) many.emplace_back(i % 2 == 0 ? "1" : "2");
  std::string sql = "SELECT 0";
  for (int i = 1; i <= 100; ++i) sql += " + $" + std::to_string(i) + "::int";
  const pq::result sum = must(c.exec(sql, many));
  CHECK(sum.get(0, 0) == "150");

  // Parameters go through the extended protocol: one statement only.
  absl::StatusOr<pq::result> two = c.exec("SELECT $1::int; SELECT 2", {"1"});
  CHECK(two.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(pq::sqlstate(two.status()) == "42601");
}

PG_TEST_CASE("affected rows and command tags") {
  pq::connection c = connect();
  must(c.exec("CREATE TEMP TABLE t (id int PRIMARY KEY, v text)"));
  pq::result ins = must(c.exec("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)"));
  CHECK(ins.affected_rows() == 3);
  CHECK(ins.command_tag() == "INSERT 0 3");
  pq::result upd = must(c.exec("UPDATE t SET v = $1 WHERE id > 1", {"z"}));
  CHECK(upd.affected_rows() == 2);
  CHECK(must(c.exec("DELETE FROM t WHERE false")).affected_rows() == 0);
  CHECK(must(c.exec("SET search_path = public")).affected_rows() == 0);
}

PG_TEST_CASE("a failing query carries SQLSTATE, code and the statement") {
  pq::connection c = connect();
  absl::StatusOr<pq::result> r = c.exec("SELECT * FROM nope");
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(pq::sqlstate(r.status()) == "42P01");
  CHECK(text(r) ==
        "query failed [SQLSTATE 42P01]: relation \"nope\" does not exist "
        "(while running: SELECT * FROM nope)");

  must(c.exec("CREATE TEMP TABLE u (id int PRIMARY KEY)"));
  must(c.exec("INSERT INTO u VALUES (1)"));
  r = c.exec("INSERT INTO u VALUES ($1)", {"1"});
  CHECK(r.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(pq::sqlstate(r.status()) == "23505");
  CHECK(text(r).find("duplicate key value violates unique constraint") !=
        std::string::npos);
  CHECK(text(r).find("detail: Key (id)=(1) already exists.") != std::string::npos);

  r = c.exec("SELECT 1/0");
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(pq::sqlstate(r.status()) == "22012");
  r = c.exec("SELEC 1");
  CHECK(pq::sqlstate(r.status()) == "42601");

  CHECK(pq::sqlstate(absl::OkStatus()).empty());
  CHECK(pq::sqlstate(absl::UnknownError("no payload")).empty());
}

PG_TEST_CASE("echoed SQL is one line, truncated, and has passwords masked") {
  pq::connection c = connect();
  const std::string filler(500, 'a');
  absl::StatusOr<pq::result> r =
      c.exec("SELECT *\n  FROM nope\n WHERE x = '" + filler + "'");
  INFO(text(r));
  CHECK(pq::sqlstate(r.status()) == "42P01");
  CHECK(text(r).find("(while running: SELECT * FROM nope WHERE x = 'aaa") !=
        std::string::npos);
  CHECK(text(r).find("...)") != std::string::npos);
  CHECK(text(r).size() < 320);

  const std::string secret(test_password);
  r = c.exec("ALTER ROLE sandpool_nobody PASSWORD '" + secret + "'");
  CHECK(pq::sqlstate(r.status()) == "42704");
  CHECK(text(r).find(secret) == std::string::npos);
  CHECK(text(r).find("PASSWORD ***") != std::string::npos);
}

PG_TEST_CASE("COPY through exec is refused and leaves the connection usable") {
  pq::connection c = connect();
  absl::StatusOr<pq::result> r = c.exec("COPY (SELECT 1) TO STDOUT");
  CHECK(r.status().code() == absl::StatusCode::kUnimplemented);
  CHECK(c.transaction_status() == tx_status::idle);
  must(c.exec("CREATE TEMP TABLE cp (x int)"));
  r = c.exec("COPY cp FROM STDIN");
  CHECK(r.status().code() == absl::StatusCode::kUnimplemented);
  CHECK(c.transaction_status() == tx_status::idle);
  CHECK(must(c.exec("SELECT count(*) FROM cp")).get(0, 0) == "0");
}

PG_TEST_CASE("transaction status transitions and reset") {
  const pq::driver d = make_driver(dsn(), {pq::session_reset::none()});
  absl::StatusOr<pq::connection> made = d.connect();
  REQUIRE(made.ok());
  pq::connection& c = *made;
  CHECK(d.transaction_status(c) == tx_status::idle);
  CHECK(d.reset(c).ok());  // idle: nothing to do
  CHECK(c.round_trips() == 0);

  must(c.exec("BEGIN"));
  CHECK(d.transaction_status(c) == tx_status::in_transaction);
  must(c.exec("CREATE TEMP TABLE gone (x int)"));
  CHECK(d.reset(c).ok());
  CHECK(d.transaction_status(c) == tx_status::idle);
  CHECK(pq::sqlstate(c.exec("SELECT * FROM gone").status()) == "42P01");

  must(c.exec("BEGIN"));
  CHECK_FALSE(c.exec("SELECT 1/0").ok());
  CHECK(d.transaction_status(c) == tx_status::in_error);
  absl::StatusOr<pq::result> r = c.exec("SELECT 1");
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(pq::sqlstate(r.status()) == "25P02");
  CHECK(d.reset(c).ok());
  CHECK(d.transaction_status(c) == tx_status::idle);
  CHECK(must(c.exec("SELECT 1")).get(0, 0) == "1");
}

PG_TEST_CASE("round trips count every request sent, and only those") {
  const pq::driver d = make_driver(dsn(), {pq::session_reset::none()});
  absl::StatusOr<pq::connection> made = d.connect();
  REQUIRE(made.ok());
  pq::connection& c = *made;
  CHECK(c.round_trips() == 0);  // connecting does not count
  must(c.exec("SELECT 1"));
  must(c.exec("SELECT 1; SELECT 2"));  // one request, two statements
  must(c.exec("SELECT $1::int", {"1"}));
  CHECK(c.round_trips() == 3);
  CHECK_FALSE(c.exec("SELECT * FROM nope").ok());  // failed, but sent
  CHECK(c.round_trips() == 4);
  CHECK(d.validate(c).ok());
  CHECK(c.round_trips() == 5);
  CHECK(d.reset(c).ok());  // idle: no request
  CHECK(c.round_trips() == 5);
  must(c.exec("BEGIN"));
  CHECK(d.reset(c).ok());  // one ROLLBACK
  CHECK(c.round_trips() == 7);

  std::vector<pq::connection::param> too_many(70000, "1");
  absl::StatusOr<pq::result> r = c.exec("SELECT 1", too_many);
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(c.round_trips() == 7);  // refused before sending

  pq::connection moved = std::move(c);
  CHECK(moved.round_trips() == 7);
  CHECK(c.exec("SELECT 1").status().code() ==  // NOLINT(bugprone-use-after-move)
        absl::StatusCode::kFailedPrecondition);
  CHECK(c.transaction_status() == tx_status::broken);
  d.close(moved);
  d.close(moved);  // idempotent
  CHECK(moved.transaction_status() == tx_status::broken);
  CHECK(moved.backend_pid() == 0);
}

}  // namespace sandpool::test
