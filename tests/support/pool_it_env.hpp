// Helpers for the pool's integration tests: per-test application names (so
// a test can count its own backends on the shared server), pools made from
// them, and the check that a destroyed pool left no connection behind.
#pragma once

#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "pg_env.hpp"
#include "sandpool/sandpool.hpp"

namespace sandpool::test {

// An application_name unique to this process and this test.
inline std::string app_name(std::string_view tag) {
  return "sandpool-it-" + std::to_string(::getpid()) + "-" + std::string(tag);
}

// The test server's DSN naming the application, plus extra options.
inline std::string pool_dsn(const std::string& app, std::string_view extra = {}) {
  return dsn_with("application_name='" + app + "' " + std::string(extra));
}

inline pool_options options_for(const std::string& app) {
  pool_options o;
  o.name = app;
  return o;
}

inline sandpool::pool make_pool(const std::string& conninfo, pool_options o) {
  absl::StatusOr<sandpool::pool> p = sandpool::pool::create(make_driver(conninfo), std::move(o));
  REQUIRE_MESSAGE(p.ok(), text(p));
  return *std::move(p);
}

// Polls pred every 10 ms until it holds or `limit` has passed.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Backends the server currently has for application `app`.
inline int backends_of(pq::connection& admin, const std::string& app) {
  absl::StatusOr<pq::result> r =
      admin.exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", {app});
  REQUIRE_MESSAGE(r.ok(), text(r));
  return std::stoi(std::string(r->get(0, 0)));
}

// Waits (backend exit is asynchronous) until `app` has `want` backends.
inline void check_backends(const std::string& app, int want) {
  pq::connection admin = connect();
  int seen = -1;
  const bool reached = eventually([&] { return (seen = backends_of(admin, app)) == want; }, std::chrono::seconds(5));
  CHECK_MESSAGE(reached, "application " << app << " has " << seen << " backend(s), expected "
                                        << want);
}

// No connection of the (destroyed) pool named app is left on the server.
inline void check_no_leak(const std::string& app) { check_backends(app, 0); }

}  // namespace sandpool::test
