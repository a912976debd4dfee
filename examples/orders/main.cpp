// The orders app's production main: a pool in auto mode (the default), the
// schema created if missing, and a short demo: two accounts, a few orders
// (one refused for lack of funds), the background worker processing them.
//
// Usage: ORDERS_DSN='host=/run/postgresql dbname=shop' orders_demo
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "app/order_worker.hpp"
#include "app/orders.hpp"
#include "sandpool/sandpool.hpp"

namespace {

std::string text(const absl::Status& s) {
  const absl::string_view m = s.message();
  return std::string(m.data(), m.size());
}

template <class T>
T must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "orders_demo: %s: %s\n", what, text(v.status()).c_str());
    std::exit(1);
  }
  return *std::move(v);
}

void must(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "orders_demo: %s: %s\n", what, text(s).c_str());
    std::exit(1);
  }
}

}  // namespace

int main() {
  const char* dsn = std::getenv("ORDERS_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    std::fprintf(stderr,
                 "orders_demo: set ORDERS_DSN to the database to use, e.g. "
                 "ORDERS_DSN='host=/run/postgresql dbname=shop'\n");
    return 2;
  }
  auto driver = must(sandpool::pq::driver::create(dsn), "connection string");
  sandpool::pool_options options;
  options.name = "orders";
  options.max_size = 4;
  sandpool::pool pool = must(sandpool::pool::create(driver, options), "pool");
  must(orders::create_schema(pool), "create the schema");

  const auto alice = must(orders::create_account(pool, "alice", 10'000), "account");
  const auto bob = must(orders::create_account(pool, "bob", 500), "account");
  orders::order_worker worker(pool);
  worker.start();

  int placed = 0;
  for (auto [account, cents] : {std::pair{alice, 2'500}, {alice, 4'000}, {bob, 300}, {bob, 900}}) {
    auto order = orders::place_order(pool, account, cents);
    if (order.ok()) {
      ++placed;
      std::printf("order %lld: %d cents from account %lld\n", static_cast<long long>(*order), cents,
                  static_cast<long long>(account));
    } else {
      std::printf("refused: %s\n", text(order.status()).c_str());
    }
  }
  worker.wake();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (worker.processed() < static_cast<std::uint64_t>(placed) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  worker.stop();
  must(worker.last_error(), "worker");

  std::printf("processed %llu orders; alice has %lld cents, bob has %lld\n",
              static_cast<unsigned long long>(worker.processed()),
              static_cast<long long>(must(orders::balance(pool, alice), "balance")),
              static_cast<long long>(must(orders::balance(pool, bob), "balance")));
  must(pool.shutdown(), "shutdown");
  return worker.processed() >= static_cast<std::uint64_t>(placed) ? 0 : 1;
}
