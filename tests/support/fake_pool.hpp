// Unit-test fixture: a pool over the fake driver with a manual clock and
// manual housekeeping, so every test decides exactly when time passes and
// when housekeeping runs. Helpers run fibers on the test's thread.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>

#include <boost/fiber/operations.hpp>

#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

namespace sandpool::test {

using fake_pool = basic_pool<fake::driver, manual_clock>;

inline pool_options manual_options(std::size_t max_size = 2) {
  pool_options o;
  o.name = "test";
  o.max_size = max_size;
  o.housekeeper = housekeeping::manual;
  return o;
}

// max_size n, all opened by the first maintain().
inline pool_options warm_options(std::size_t n = 1) {
  pool_options o = manual_options(n);
  o.min_idle = n;
  return o;
}

struct fixture {
  explicit fixture(pool_options o = manual_options())
      : pool(make(o)) {}

  fake_pool make(pool_options o) {
    auto p = fake_pool::create(fake::driver(server), o, clock);
    REQUIRE(p.ok());
    return std::move(*p);
  }
  // Lets every ready fiber of this thread run until it blocks or ends.
  static void settle() {
    for (int i = 0; i < 8; ++i) boost::this_fiber::yield();
  }
  // Blocks until `n` callers wait on the pool (other threads enqueueing).
  void await_waiting(std::size_t n) {
    while (pool.metrics().waiting != n) std::this_thread::yield();
  }

  manual_clock clock;
  std::shared_ptr<fake::server> server = std::make_shared<fake::server>();
  fake_pool pool;
};

inline bool contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

}  // namespace sandpool::test
