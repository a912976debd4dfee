// One node of the orders app, as a cluster runs it: its own process and its
// own pool (auto mode), on the database ORDERS_DSN names. It checks that an
// account it is given exists, opens an account of its own, places an order
// on it and processes the pending orders, printing what it did. Tests run
// it as a child process whose ORDERS_DSN points at the sandbox gateway, so
// all of this happens inside the test's sandbox.
//
// Usage: ORDERS_DSN=... orders_node NAME ACCOUNT
// Exit status: 0 done, 1 a database error (printed), 2 bad usage.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/orders.hpp"
#include "sandpool/sandpool.hpp"

namespace {

std::string text(const absl::Status& s) {
  const absl::string_view m = s.message();
  return std::string(m.data(), m.size());
}

bool failed(const absl::Status& s, const char* name, const char* what) {
  if (s.ok()) return false;
  std::fprintf(stderr, "orders_node %s: %s: %s\n", name, what, text(s).c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const char* dsn = std::getenv("ORDERS_DSN");
  if (argc != 3 || dsn == nullptr || *dsn == '\0') {
    std::fprintf(stderr, "usage: ORDERS_DSN=... orders_node NAME ACCOUNT\n");
    return 2;
  }
  const char* name = argv[1];
  char* end = nullptr;
  const long long account = std::strtoll(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0') {
    std::fprintf(stderr, "orders_node: ACCOUNT must be a number, not '%s'\n", argv[2]);
    return 2;
  }
  auto driver = sandpool::pq::driver::create(dsn);
  if (failed(driver.status(), name, "connection string")) return 1;
  sandpool::pool_options options;
  options.name = std::string("orders-node-") + name;
  options.max_size = 2;
  auto pool = sandpool::pool::create(*driver, options);
  if (failed(pool.status(), name, "pool")) return 1;

  const auto seen = orders::balance(*pool, account);
  if (failed(seen.status(), name, "read the given account")) return 1;
  const auto own = orders::create_account(*pool, name, 1'000);
  if (failed(own.status(), name, "open an account")) return 1;
  const auto order = orders::place_order(*pool, *own, 250);
  if (failed(order.status(), name, "place an order")) return 1;
  const auto processed = orders::process_pending(*pool);
  if (failed(processed.status(), name, "process pending orders")) return 1;
  std::printf("%s: account %lld holds %lld; opened %lld; placed order %lld; processed %d\n", name,
              account, static_cast<long long>(*seen), static_cast<long long>(*own),
              static_cast<long long>(*order), *processed);
  return failed(pool->shutdown(), name, "shutdown") ? 1 : 0;
}
