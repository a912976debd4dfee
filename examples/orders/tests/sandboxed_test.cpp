// The orders app in sandboxed tests: each test owns a connection inside a
// transaction that is rolled back after it. The app's own transactions
// (place_order's BEGIN / COMMIT / ROLLBACK) become savepoints, worker threads
// started with spawn_thread use the test's connection, and nothing a test
// writes is ever committed.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "../app/orders.hpp"
#include "sandpool/ownership/spawn.hpp"
#include "sandpool/testing/doctest.hpp"
#include "test_pool.hpp"

namespace orders::test {
namespace {

using sandpool::testing::db_case;
using sandpool::testing::suite_mode;

sandpool::testing::suite sandboxed{"orders (sandboxed)", pool, mode(suite_mode::sandboxed)};
using test_case = db_case<sandboxed>;

}  // namespace

TEST_CASE_FIXTURE(test_case, "placing an order debits the account and records it pending") {
  const auto alice = must(create_account(pool(), "alice", 1'000));
  const auto order = must(place_order(pool(), alice, 300));
  CHECK(must(balance(pool(), alice)) == 700);
  CHECK(must(order_status(pool(), order)) == "pending");
  CHECK(committed_rows("accounts") == 0);  // the sandbox commits nothing
}

TEST_CASE_FIXTURE(test_case, "an order the balance cannot pay changes nothing") {
  const auto bob = must(create_account(pool(), "bob", 100));
  const auto refused = place_order(pool(), bob, 250);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(text(refused.status()).find("holds 100 cents") != std::string::npos);
  // The app rolled its transaction back (a ROLLBACK TO SAVEPOINT here); the
  // test's own transaction goes on.
  CHECK(must(balance(pool(), bob)) == 100);
  CHECK(must(place_order(pool(), bob, 60)) > 0);
  CHECK(must(balance(pool(), bob)) == 40);
}

TEST_CASE_FIXTURE(test_case, "each test starts from an empty database") {
  auto lease = checkout();
  auto r = lease->exec("SELECT count(*) FROM accounts");
  REQUIRE(r.ok());
  CHECK(r->get(0, 0) == "0");
}

TEST_CASE_FIXTURE(test_case, "worker threads inherit the test's connection") {
  const auto carol = must(create_account(pool(), "carol", 10'000));
  std::vector<std::thread> shoppers;
  for (int i = 0; i < 4; ++i) {
    // spawn_thread allows the thread before it starts: the app's code in it
    // finds the test's connection (and takes turns on it).
    shoppers.push_back(must(sandpool::spawn_thread(pool(), [&] {
      for (int k = 0; k < 5; ++k) CHECK(place_order(pool(), carol, 100).ok());
    })));
  }
  for (std::thread& t : shoppers) t.join();
  int processed = -1;
  std::thread worker = must(sandpool::spawn_thread(pool(), [&] {
    auto n = process_pending(pool());
    processed = n.ok() ? *n : -1;
  }));
  worker.join();
  CHECK(processed == 20);
  CHECK(must(balance(pool(), carol)) == 8'000);
  CHECK(committed_rows("orders") == 0);
}

TEST_CASE_FIXTURE(test_case,
                  "another pool cannot see the test's rows (why clusters run unsandboxed)") {
  const auto dave = must(create_account(pool(), "dave", 1));
  // A second pool is what another process or cluster node would have.
  auto driver = must(sandpool::pq::driver::create(test_dsn()));
  auto node = must(sandpool::pool::create(driver));
  CHECK(balance(node, dave).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("the suite left no committed row behind") {
  CHECK(committed_rows("accounts") == 0);
  CHECK(committed_rows("orders") == 0);
  drop_schema();
}

}  // namespace orders::test
