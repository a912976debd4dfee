// Fixture for ownership tests: a fake-driver pool with a manual clock and
// manual housekeeping, warm connections, and helpers to run a function in a
// fresh fiber (a fresh owner) and collect what it saw.
#pragma once

#include <functional>

#include <boost/fiber/fiber.hpp>

#include "fake_pool.hpp"

namespace sandpool::test {

struct owned_fixture {
  explicit owned_fixture(ownership_options own = {}, pool_options o = warm_options(3))
      : pool(make(o, std::move(own))) {
    pool.maintain();
  }
  fake_pool make(pool_options o, ownership_options own) {
    auto p = fake_pool::create(fake::driver(server), o, clock, std::move(own));
    REQUIRE(p.ok());
    return std::move(*p);
  }
  auto& own() { return pool.ownership(); }
  // The id of the connection the calling context gets, or -1 on error.
  int conn_id() {
    auto l = pool.checkout();
    return l.ok() ? (*l)->id : -1;
  }
  // Runs f in a new fiber (a new owner) to completion.
  static void in_fiber(const std::function<void()>& f) { boost::fibers::fiber(f).join(); }

  manual_clock clock;
  std::shared_ptr<fake::server> server = std::make_shared<fake::server>();
  fake_pool pool;
};

}  // namespace sandpool::test
