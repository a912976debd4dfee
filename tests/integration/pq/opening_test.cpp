// pq::connection's deferred opening against a real server: nothing is sent
// until the first request, whichever path it takes; exec_wrapped() and
// exec_pipeline() carry it in their own round trip and hand back only their
// own results; a failing opening fails its request, which does not run, and
// waits for the next one; a reset or close drops an opening never sent.
#include <doctest/doctest.h>

#include <string>

#include "sandbox_env.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

const std::vector<std::string> opening = {"BEGIN", "SELECT 42"};

}  // namespace

PG_TEST_CASE("a deferred opening costs nothing until the first request, then rides in it") {
  pq::connection c = connect();
  const auto before = c.round_trips();
  c.defer_opening(opening);
  CHECK(c.opening_deferred());
  CHECK(c.server_transaction_status() == tx_status::idle);
  CHECK(c.round_trips() == before);

  SUBCASE("exec_wrapped: one trip, only its own results, positions from its text") {
    auto out = c.exec_wrapped("SELECT 1;", "SELECT nosuch", "");
    REQUIRE_MESSAGE(out.ok(), text(out.status()));
    CHECK(c.round_trips() == before + 1);
    CHECK(out->results.size() == 1);
    CHECK(pq::sqlstate(out->error) == "42703");
    CHECK(pq::server_error_fields(out->error).size() > 0);
    bool position = false;
    for (const auto& [code, value] : pq::server_error_fields(out->error))
      if (code == 'P') position = value == "8";
    CHECK(position);
  }
  SUBCASE("exec_pipeline: one trip, one outcome per step") {
    const pq::pipeline_step steps[] = {{"SELECT 1"}, {"SELECT 2"}};
    auto out = c.exec_pipeline(steps);
    REQUIRE_MESSAGE(out.ok(), text(out.status()));
    CHECK(c.round_trips() == before + 1);
    REQUIRE(out->size() == 2);
    CHECK(std::string((*out)[1]->get(0, 0)) == "2");
  }
  SUBCASE("exec: the opening first, in a trip of its own") {
    REQUIRE(c.exec("SELECT 1").ok());
    CHECK(c.round_trips() == before + 2);
  }
  SUBCASE("native(): sent before the PGconn is handed out") {
    PGconn* raw = c.native();
    CHECK(PQtransactionStatus(raw) == PQTRANS_INTRANS);
  }
  CHECK_FALSE(c.opening_deferred());
  CHECK(c.server_transaction_status() != tx_status::idle);  // BEGIN ran (failed after, above)
  REQUIRE(c.exec("ROLLBACK").ok());
}

PG_TEST_CASE("a failing opening fails its request, which does not run, and is tried again") {
  ensure_ledger();
  pq::connection c = connect();
  const std::string insert = "INSERT INTO " + ledger() + " (tag) VALUES ('opening-failed')";
  const std::vector<std::string> bad = {"BEGIN", "SELECT sandpool_no_such_function()"};
  auto check_failed = [&](const absl::Status& s) {
    CAPTURE(s.message());
    CHECK(pq::sqlstate(s) == "42883");
    CHECK(contains(std::string(s.message()), "defers to its first use"));
    CHECK(contains(std::string(s.message()), "sandpool_no_such_function"));
    CHECK(c.opening_deferred());  // waits for the next request
    CHECK(c.server_transaction_status() == tx_status::idle);  // what it began was undone
  };
  c.defer_opening(bad);
  check_failed(c.exec(insert).status());
  check_failed(c.exec_wrapped("", insert, "").status());
  const pq::pipeline_step steps[] = {{insert}};
  check_failed(c.exec_pipeline(steps).status());
  CHECK(count_committed("tag = 'opening-failed'") == 0);
  // A good opening then lets the request through, inside its transaction.
  CHECK(c.opening_failed_before());
  CHECK_FALSE(c.drop_opening());  // it was sent: not "nothing reached the server"
  CHECK_FALSE(c.opening_deferred());
  c.defer_opening(opening);
  REQUIRE(c.exec(insert).ok());
  REQUIRE(c.exec("ROLLBACK").ok());
  CHECK(count_committed("tag = 'opening-failed'") == 0);
}

PG_TEST_CASE("a reset or close drops an opening never sent") {
  pq::connection c = connect();
  REQUIRE(c.exec("BEGIN").ok());
  c.defer_opening(opening);
  REQUIRE(c.send_rollback().ok());
  CHECK_FALSE(c.opening_deferred());
  REQUIRE(c.exec("SELECT 1").ok());
  CHECK(c.server_transaction_status() == tx_status::idle);
  c.defer_opening(opening);
  c.close();
  CHECK_FALSE(c.opening_deferred());
}

}  // namespace sandpool::test
