// The orders app in a shared-mode suite: the app's background worker starts
// a plain std::thread that nobody allows, and in shared mode it simply uses
// the test's sandboxed connection, so the worker processes orders the test
// placed without anything being committed.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "../app/order_worker.hpp"
#include "../app/orders.hpp"
#include "sandpool/testing/doctest.hpp"
#include "test_pool.hpp"

namespace orders::test {
namespace {

using sandpool::testing::db_case;
using sandpool::testing::suite_mode;

sandpool::testing::suite shared{"orders (shared)", pool, mode(suite_mode::shared)};
using test_case = db_case<shared>;

// Waits up to 10 s for the worker to have processed n orders.
bool processed(const order_worker& w, std::uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (w.processed() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace

TEST_CASE_FIXTURE(test_case, "the app's background worker processes the test's orders") {
  order_worker worker(pool(), std::chrono::milliseconds(5));
  worker.start();
  const auto erin = must(create_account(pool(), "erin", 5'000));
  const auto first = must(place_order(pool(), erin, 1'000));
  const auto second = must(place_order(pool(), erin, 2'000));
  worker.wake();
  CHECK(processed(worker, 2));
  worker.stop();  // before the test ends: its connection goes with it
  CHECK(worker.last_error().ok());
  CHECK(must(order_status(pool(), first)) == "processed");
  CHECK(must(order_status(pool(), second)) == "processed");
  CHECK(must(balance(pool(), erin)) == 2'000);
  CHECK(committed_rows("orders") == 0);
}

TEST_CASE_FIXTURE(test_case, "the next test sees none of it") {
  auto lease = checkout();
  auto r = lease->exec("SELECT count(*) FROM orders");
  REQUIRE(r.ok());
  CHECK(r->get(0, 0) == "0");
}

TEST_CASE("the suite left no committed row behind") {
  CHECK(committed_rows("accounts") == 0);
  CHECK(committed_rows("orders") == 0);
  drop_schema();
}

}  // namespace orders::test
