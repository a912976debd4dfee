// Concurrent tests in one binary: 32 test bodies of the orders app at once,
// as fibers on 2 threads running sandpool::fiber_io_scheduler, each its own
// owner with its own sandbox. Each opens accounts and places orders with the
// app's unchanged code, sees only its own rows, and leaves nothing behind.
// A fiber that waits for the server lets the other fibers of its thread run,
// so 32 sandboxed tests need 2 threads, not 32.
#include <doctest/doctest.h>

#include <boost/fiber/all.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../app/orders.hpp"
#include "sandpool/core/fiber_io.hpp"
#include "test_pool.hpp"

namespace orders::test {
namespace {

constexpr int threads = 2, fibers_per_thread = 16, bodies = threads * fibers_per_thread;

// A pool as wide as the number of tests running at once, sandboxed.
sandpool::pool concurrent_pool() {
  (void)pool();  // the schema and tables, made once by the process's test pool
  auto driver = sandpool::pq::driver::create(test_dsn());
  ensure(driver.status(), "driver");
  sandpool::pool_options o;
  o.name = "orders-concurrent";
  o.max_size = bodies;
  o.checkout_timeout = std::chrono::seconds(20);
  auto p = sandpool::pool::create(*driver, o);
  ensure(p.status(), "pool");
  ensure(sandpool::install_sandbox(*p).status(), "install the sandbox");
  return *std::move(p);
}

// One test: what a TEST_CASE body would do, reporting instead of asserting
// (assertions stay on the main thread).
std::string one_test(sandpool::pool& p, int id) {
  if (auto s = p.ownership().checkout(); !s.ok()) return "checkout: " + text(s.status());
  auto account = create_account(p, "customer-" + std::to_string(id), 1'000 + id);
  if (!account.ok()) return "create_account: " + text(account.status());
  auto order = place_order(p, *account, 100);
  if (!order.ok()) return "place_order: " + text(order.status());
  auto left = balance(p, *account);
  if (!left.ok() || *left != 900 + id) return "balance is wrong";
  long visible = -1;
  {
    auto l = p.checkout();
    if (!l.ok()) return "checkout: " + text(l.status());
    auto r = (*l)->exec("SELECT count(*) FROM accounts");
    if (!r.ok()) return "count: " + text(r.status());
    visible = std::stol(std::string(r->get(0, 0)));
  }
  if (visible != 1) return "sees " + std::to_string(visible) + " accounts, not just its own";
  if (auto s = p.ownership().checkin(); !s.ok()) return "checkin: " + text(s);
  return "ok";
}

}  // namespace

TEST_CASE("32 sandboxed tests of the app at once, as fibers on 2 threads") {
  sandpool::pool p = concurrent_pool();
  std::vector<std::string> outcome(bodies);
  std::vector<std::thread> team;
  for (int t = 0; t < threads; ++t) {
    team.emplace_back([&, t] {
      boost::fibers::use_scheduling_algorithm<sandpool::fiber_io_scheduler>();
      std::vector<boost::fibers::fiber> crew;
      for (int f = 0; f < fibers_per_thread; ++f) {
        const int id = t * fibers_per_thread + f;
        crew.emplace_back([&, id] { outcome[static_cast<std::size_t>(id)] = one_test(p, id); });
      }
      for (auto& fb : crew) fb.join();
    });
  }
  for (auto& th : team) th.join();
  for (int i = 0; i < bodies; ++i) {
    CAPTURE(i);
    CHECK(outcome[static_cast<std::size_t>(i)] == "ok");
  }
  CHECK(committed_rows("accounts") == 0);
  CHECK(committed_rows("orders") == 0);
  (void)p.shutdown(std::chrono::seconds(5));
  drop_schema();
}

}  // namespace orders::test
