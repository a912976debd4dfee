// The orders app's test pool: the same sandpool::pool the app takes in
// production, with the sandbox installed. This is the whole production/test
// swap; the suites then pick their mode (sandboxed, shared, unsandboxed) with
// sandpool::testing::suite, and the app's code does not change.
//
// Each test process gets a schema of its own (through the connection's
// search_path), so several test processes run at once against one database,
// and the suites' final test drops it.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "../app/orders.hpp"
#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandbox/unboxed.hpp"
#include "sandpool/sandpool.hpp"
#include "sandpool/testing/suite.hpp"

namespace orders::test {

inline std::string text(const absl::Status& s) {
  const absl::string_view m = s.message();
  return std::string(m.data(), m.size());
}

inline void ensure(const absl::Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error(what + ": " + text(s));
}

inline const std::string& schema() {
  static const std::string s = "orders_test_" + std::to_string(::getpid());
  return s;
}

// SANDPOOL_TEST_DSN with this process's schema first on the search_path.
inline std::string test_dsn() {
  const char* dsn = std::getenv("SANDPOOL_TEST_DSN");
  if (dsn == nullptr || *dsn == '\0')
    throw std::runtime_error(
        "SANDPOOL_TEST_DSN is not set: run the example's tests under scripts/with-postgres "
        "(scripts/with-postgres meson test -C build --suite examples)");
  char* error = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn, &error);
  if (opts == nullptr) {
    if (error != nullptr) PQfreemem(error);
    throw std::runtime_error("SANDPOOL_TEST_DSN does not parse");
  }
  std::string out;
  for (const PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string(o->keyword) == "options") continue;
    out += std::string(o->keyword) + "='";
    for (const char* c = o->val; *c != '\0'; ++c) {
      if (*c == '\'' || *c == '\\') out += '\\';
      out += *c;
    }
    out += "' ";
  }
  PQconninfoFree(opts);
  return out + "options='-c search_path=" + schema() + "'";
}

// The process's test pool. Made on first use: schema and tables created and
// committed (auto mode), then the sandbox installed. Never destroyed: a pool
// destroyed by a static destructor at exit would stop its housekeeping after
// the main thread's Boost.Fiber scheduler is gone.
inline sandpool::pool& pool() {
  static sandpool::pool& p = *new sandpool::pool([] {
    auto driver = sandpool::pq::driver::create(test_dsn());
    ensure(driver.status(), "driver");
    sandpool::pool_options o;
    o.name = "orders-test";
    o.max_size = 4;
    o.checkout_timeout = std::chrono::seconds(10);
    auto made = sandpool::pool::create(*driver, o);
    ensure(made.status(), "pool");
    ensure(
        sandpool::run_unboxed(*made,
                              [](sandpool::pq::connection& c) {
                                return c.exec("CREATE SCHEMA IF NOT EXISTS " + schema()).status();
                              }),
        "create the schema");
    ensure(orders::create_schema(*made), "create the tables");  // the app's own code
    ensure(sandpool::install_sandbox(*made).status(), "install the sandbox");
    return std::move(*made);
  }());
  return p;
}

// Committed rows of a table, read on a fresh connection outside every
// sandbox: what another process would see.
inline long committed_rows(const std::string& table) {
  auto c = pool().driver().connect();
  ensure(c.status(), "connect");
  auto r = c->exec("SELECT count(*) FROM " + table);
  ensure(r.status(), "count");
  return std::stol(std::string(r->get(0, 0)));
}

inline void drop_schema() {
  ensure(sandpool::run_unboxed(pool(),
                               [](sandpool::pq::connection& c) {
                                 return c
                                     .exec("SET client_min_messages = warning; DROP SCHEMA " +
                                           schema() + " CASCADE")
                                     .status();
                               }),
         "drop the schema");
}

inline sandpool::testing::suite_options mode(sandpool::testing::suite_mode m) {
  sandpool::testing::suite_options o;
  o.mode = m;
  return o;
}

}  // namespace orders::test
