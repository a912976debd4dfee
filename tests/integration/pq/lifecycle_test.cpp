// Connections whose server side goes away or is interrupted: a backend killed
// by an administrator, a server restart, and cancelling a running query from
// another thread. What a user observes is an Unavailable status that says the
// connection was lost and will be replaced, or a Cancelled query (57014).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "pg_env.hpp"
#include "sandpool/pq/driver.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

using namespace std::chrono_literals;

// Polls `SELECT count(*) ...` on admin until it returns want (up to 10 s).
bool wait_for_count(pq::connection& admin, const std::string& sql, int pid,
                    std::string_view want) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<pq::result> r = admin.exec(sql, {std::to_string(pid)});
    if (r.ok() && r->get(0, 0) == want) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Terminates c's backend from admin and waits until it is gone.
void kill_backend(pq::connection& admin, const pq::connection& c) {
  absl::StatusOr<pq::result> r = admin.exec("SELECT pg_terminate_backend($1)",
                                            {std::to_string(c.backend_pid())});
  REQUIRE_MESSAGE(r.ok(), text(r));
  REQUIRE(r->get(0, 0) == "t");
  REQUIRE(wait_for_count(admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                         c.backend_pid(), "0"));
}

void check_lost(const absl::Status& s) {
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK_FALSE(pq::sqlstate(s).empty());
  CHECK(text(s).find("was lost") != std::string::npos);
  CHECK(text(s).find("the pool will replace it") != std::string::npos);
}

}  // namespace

PG_TEST_CASE("validate fails with Unavailable once the backend was killed") {
  const pq::driver d = make_driver(dsn());
  pq::connection admin = connect();
  absl::StatusOr<pq::connection> c = d.connect();
  REQUIRE(c.ok());
  CHECK(d.validate(*c).ok());
  kill_backend(admin, *c);

  const absl::Status s = d.validate(*c);
  INFO(text(s));
  CHECK(text(s).rfind("validation failed: ", 0) == 0);
  check_lost(s);
  CHECK(d.transaction_status(*c) == tx_status::broken);

  // Later queries are refused without a round trip, with the same advice.
  const std::uint64_t sent = c->round_trips();
  const absl::Status q = c->exec("SELECT 1").status();
  INFO(text(q));
  check_lost(q);
  CHECK(text(q).find("(while running: SELECT 1)") != std::string::npos);
  CHECK(c->round_trips() == sent);
  check_lost(d.reset(*c));
  d.close(*c);
}

PG_TEST_CASE("a query on a killed backend says the connection was lost") {
  const pq::driver d = make_driver(dsn());
  pq::connection admin = connect();
  absl::StatusOr<pq::connection> c = d.connect();
  REQUIRE(c.ok());
  kill_backend(admin, *c);

  const absl::Status s = c->exec("SELECT 1").status();
  INFO(text(s));
  check_lost(s);
  CHECK(text(s).find("query failed: the connection to host=") != std::string::npos);
  CHECK(text(s).find("terminating connection due to administrator command") !=
        std::string::npos);
  // The server's farewell if it carried a SQLSTATE, else connection_failure.
  const std::string state = pq::sqlstate(s);
  CHECK((state == "57P01" || state == "08006"));
  CHECK(c->transaction_status() == tx_status::broken);
}

PG_TEST_CASE("cancel stops a long query running in another thread") {
  const pq::driver d = make_driver(dsn());
  pq::connection admin = connect();
  absl::StatusOr<pq::connection> c = d.connect();
  REQUIRE(c.ok());
  const int pid = c->backend_pid();

  absl::Status outcome;
  std::chrono::steady_clock::time_point finished;
  std::thread runner([&] {
    outcome = c->exec("SELECT pg_sleep(10)").status();
    finished = std::chrono::steady_clock::now();
  });
  // Cancel only once the sleep runs, or the request would cancel nothing.
  const bool running = wait_for_count(
      admin,
      "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' "
      "AND query LIKE '%pg_sleep%'",
      pid, "1");
  const auto cancelled_at = std::chrono::steady_clock::now();
  const absl::Status sent = d.cancel(*c);
  runner.join();

  REQUIRE(running);
  CHECK_MESSAGE(sent.ok(), text(sent));
  CHECK(finished - cancelled_at < 3s);
  CHECK(outcome.code() == absl::StatusCode::kCancelled);
  CHECK(pq::sqlstate(outcome) == "57014");
  CHECK(text(outcome).find("canceling statement due to user request") !=
        std::string::npos);
  // The connection survives a cancelled query.
  CHECK(d.transaction_status(*c) == tx_status::idle);
  CHECK(d.validate(*c).ok());

  d.close(*c);
  CHECK(d.cancel(*c).code() == absl::StatusCode::kFailedPrecondition);
}

PG_TEST_CASE("after a server restart, old connections fail and new ones work") {
  const char* restart = std::getenv("SANDPOOL_TEST_RESTART");
  if (restart == nullptr || *restart == '\0') {
    MESSAGE("SANDPOOL_TEST_RESTART is not set (a server not started by "
            "scripts/with-postgres): the restart check is left out");
    return;
  }
  const pq::driver d = make_driver(dsn());
  absl::StatusOr<pq::connection> old = d.connect();
  REQUIRE(old.ok());
  REQUIRE(std::system(restart) == 0);

  check_lost(d.validate(*old));
  absl::StatusOr<pq::connection> fresh = d.connect();
  REQUIRE_MESSAGE(fresh.ok(), text(fresh));
  CHECK(d.validate(*fresh).ok());
}

}  // namespace sandpool::test
