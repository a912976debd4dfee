// pq::connection's pipeline and statement hook against a real server:
// several statements (with parameters, NULL included) in one round trip,
// per-step errors with their SQLSTATE, skipped steps, segments that survive
// an earlier failure, whole-call errors, and a hook that sees exec() but not
// exec_direct() or the pipeline.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sandbox_env.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

using param = pq::connection::param;

struct recording_hook final : pq::statement_hook {
  absl::StatusOr<pq::result> run(pq::connection& c, const pq::statement& s) override {
    seen.emplace_back(s.sql);
    extended.push_back(s.extended);
    return s.extended ? c.exec_direct(s.sql, s.params) : c.exec_direct(s.sql);
  }
  std::vector<std::string> seen;
  std::vector<bool> extended;
};

}  // namespace

PG_TEST_CASE("a pipeline runs every step in one round trip") {
  pq::connection c = connect();
  const param p[] = {"41", std::nullopt};
  const pq::pipeline_step steps[] = {
      {"SELECT 1 AS one"}, {"SELECT $1::int + 1, $2::text IS NULL", p}, {"SELECT 'three'"}};
  const auto before = c.round_trips();
  auto out = c.exec_pipeline(steps);
  REQUIRE_MESSAGE(out.ok(), text(out.status()));
  CHECK(c.round_trips() == before + 1);
  REQUIRE(out->size() == 3);
  CHECK((*out)[0]->get(0, 0) == "1");
  CHECK((*out)[1]->get(0, 0) == "42");
  CHECK((*out)[1]->get(0, 1) == "t");
  CHECK((*out)[2]->get(0, 0) == "three");
  CHECK(c.transaction_status() == tx_status::idle);
  // The connection left pipeline mode: ordinary queries work.
  CHECK(c.exec("SELECT 1; SELECT 2").ok());
}

PG_TEST_CASE("a failed step carries its SQLSTATE; the rest of its segment is skipped") {
  pq::connection c = connect();
  const pq::pipeline_step steps[] = {
      {"SELECT 1"}, {"SELECT 1/0"}, {"SELECT 3"}, {"SELECT * FROM no_such_table_pl"}};
  auto out = c.exec_pipeline(steps);
  REQUIRE(out.ok());
  CHECK((*out)[0].ok());
  CHECK((*out)[1].status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(pq::sqlstate((*out)[1].status()) == "22012");
  CHECK(contains(text((*out)[1].status()), "SELECT 1/0"));
  CHECK((*out)[2].status().code() == absl::StatusCode::kAborted);
  CHECK(contains(text((*out)[2].status()), "earlier statement of the same pipeline failed"));
  CHECK((*out)[3].status().code() == absl::StatusCode::kAborted);
  CHECK(c.transaction_status() == tx_status::idle);
  CHECK(c.exec("SELECT 1").ok());
}

PG_TEST_CASE("a sync point lets the next segment run after a failure") {
  pq::connection c = connect();
  REQUIRE(c.exec("BEGIN").ok());
  const pq::pipeline_step steps[] = {{"SELECT 1/0", {}, true}, {"ROLLBACK"}};
  const auto before = c.round_trips();
  auto out = c.exec_pipeline(steps);
  REQUIRE(out.ok());
  CHECK(c.round_trips() == before + 1);
  CHECK(pq::sqlstate((*out)[0].status()) == "22012");
  CHECK((*out)[1].ok());  // ran in the failed transaction and ended it
  CHECK(c.transaction_status() == tx_status::idle);
}

PG_TEST_CASE("whole-call errors send nothing") {
  pq::connection c = connect();
  const auto before = c.round_trips();
  auto none = c.exec_pipeline({});
  CHECK(none.status().code() == absl::StatusCode::kInvalidArgument);
  std::vector<param> many(70000, param("1"));
  const pq::pipeline_step big[] = {{"SELECT 1", many}};
  CHECK(c.exec_pipeline(big).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(c.round_trips() == before);
  c.close();
  const pq::pipeline_step one[] = {{"SELECT 1"}};
  CHECK(c.exec_pipeline(one).status().code() == absl::StatusCode::kFailedPrecondition);
}

PG_TEST_CASE("the statement hook sees exec(), not exec_direct() or pipelines") {
  pq::connection c = connect();
  recording_hook hook;
  c.set_hook(&hook);
  CHECK(c.hook() == &hook);
  CHECK(must(c.exec("SELECT 7")).get(0, 0) == "7");
  CHECK(must(c.exec("SELECT $1::int", {"8"})).get(0, 0) == "8");
  CHECK(c.exec_direct("SELECT 9").ok());
  const pq::pipeline_step steps[] = {{"SELECT 10"}};
  CHECK(c.exec_pipeline(steps).ok());
  REQUIRE(hook.seen.size() == 2);
  CHECK(hook.seen[0] == "SELECT 7");
  CHECK_FALSE(hook.extended[0]);
  CHECK(hook.seen[1] == "SELECT $1::int");
  CHECK(hook.extended[1]);
  CHECK(c.round_trips() == 4);  // every path counts
  pq::connection moved = std::move(c);
  CHECK(moved.hook() == &hook);  // the hook moves with the connection
  moved.set_hook(nullptr);
  CHECK(moved.exec("SELECT 11").ok());
  CHECK(hook.seen.size() == 2);
}

PG_TEST_CASE("send_rollback does not wait; the next use reads its answer first") {
  pq::connection c = connect();
  must(c.exec("BEGIN"));
  must(c.exec("CREATE TEMP TABLE deferred_rb (n int)"));
  const auto before = c.round_trips();
  REQUIRE(c.send_rollback().ok());
  CHECK(c.round_trips() == before + 1);
  CHECK(c.transaction_status() == tx_status::idle);  // where ROLLBACK leaves it
  // Plain exec: the table is gone, so the ROLLBACK ran before it.
  CHECK(must(c.exec("SELECT to_regclass('pg_temp.deferred_rb') IS NULL")).get(0, 0) == "t");
  CHECK(c.round_trips() == before + 2);

  // A pipeline queued behind a pending ROLLBACK rides in its round trip.
  must(c.exec("BEGIN"));
  REQUIRE(c.send_rollback().ok());
  const pq::pipeline_step steps[] = {{"BEGIN"}, {"SELECT txid_current_if_assigned() IS NULL"}};
  auto out = c.exec_pipeline(steps);
  REQUIRE_MESSAGE(out.ok(), text(out.status()));
  CHECK((*out)[1]->get(0, 0) == "t");
  CHECK(c.transaction_status() == tx_status::in_transaction);
  must(c.exec("ROLLBACK"));

  // native() hands out a PGconn ready for a synchronous query.
  must(c.exec("BEGIN"));
  REQUIRE(c.send_rollback().ok());
  PGresult* r = PQexec(c.native(), "SELECT 1");
  CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
  PQclear(r);
  CHECK(c.transaction_status() == tx_status::idle);
}

PG_TEST_CASE("a connection lost after send_rollback is reported by its next use") {
  pq::connection c = connect();
  pq::connection admin = connect();
  must(c.exec("BEGIN"));
  REQUIRE(c.send_rollback().ok());
  must(admin.exec("SELECT pg_terminate_backend($1)", {std::to_string(c.backend_pid())}));
  for (int i = 0; i < 100 && must(admin.exec("SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                                             {std::to_string(c.backend_pid())}))
                                     .get(0, 0) != "0";
       ++i) {
    must(admin.exec("SELECT pg_sleep(0.01)"));
  }
  auto next = c.exec("SELECT 1");
  CHECK(next.status().code() == absl::StatusCode::kUnavailable);
  CHECK(c.transaction_status() == tx_status::broken);
  CHECK(c.send_rollback().code() == absl::StatusCode::kUnavailable);
}

}  // namespace sandpool::test
