// The orders app in an unsandboxed "cluster" suite: one node places orders,
// another node (a second pool, as another process would have) processes
// them, which only works with committed rows, so the suite runs without the
// sandbox and a cleanup strategy deletes what each test wrote, children
// (orders) before parents (accounts).
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

sandpool::testing::suite_options cluster_options() {
  sandpool::testing::suite_options o = mode(suite_mode::unsandboxed);
  o.cleanup.kind = sandpool::cleanup_kind::delete_rows;
  o.cleanup.schemas = {schema()};
  o.cleanup.when = sandpool::cleanup_when::each_test;
  return o;
}

sandpool::testing::suite cluster{"orders (cluster)", pool, cluster_options()};
using test_case = db_case<cluster>;

// A second node: its own pool, in auto mode as in production.
sandpool::pool other_node() {
  auto driver = sandpool::pq::driver::create(test_dsn());
  ensure(driver.status(), "driver");
  auto p = sandpool::pool::create(*driver);
  ensure(p.status(), "pool");
  return *std::move(p);
}

}  // namespace

TEST_CASE_FIXTURE(test_case, "orders placed on one node are processed by another") {
  sandpool::pool node_b = other_node();
  order_worker worker(node_b, std::chrono::milliseconds(5));
  worker.start();

  const auto frank = must(create_account(pool(), "frank", 3'000));
  const auto order = must(place_order(pool(), frank, 1'200));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (worker.processed() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  worker.stop();
  CHECK(worker.last_error().ok());
  CHECK(must(order_status(pool(), order)) == "processed");
  CHECK(committed_rows("orders") == 1);  // really committed
  CHECK(must(balance(node_b, frank)) == 1'800);
}

TEST_CASE_FIXTURE(test_case, "the cleanup emptied the tables after the previous test") {
  CHECK(committed_rows("orders") == 0);
  CHECK(committed_rows("accounts") == 0);
  must(create_account(pool(), "grace", 1));  // left for the cleanup
}

TEST_CASE("the suite left no committed row behind") {
  CHECK(committed_rows("accounts") == 0);
  drop_schema();
}

}  // namespace orders::test
