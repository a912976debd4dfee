// A pool in a static outlives main(): its destructor runs after the main
// thread's fiber scheduler is gone, while an owner's dirty connection and
// the housekeeping thread still need waking. The process must exit cleanly;
// meson checks the exit status after this file's test has passed.
#include <doctest/doctest.h>

#include <boost/fiber/fiber.hpp>

#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

using namespace sandpool;

namespace {

using pool_type = basic_pool<fake::driver>;

pool_type& static_pool() {
  static pool_type pool = [] {
    pool_options o;
    o.min_idle = 2;
    return std::move(*pool_type::create(fake::driver{}, o));
  }();
  return pool;
}

}  // namespace

TEST_CASE("a static pool with owners and dirty connections is torn down after main") {
  REQUIRE(static_pool().ownership().set_mode(manual_mode{}).ok());
  boost::fibers::fiber([] {
    REQUIRE(static_pool().ownership().checkout().ok());
    auto l = static_pool().checkout();
    REQUIRE(l.ok());
    (*l)->status = tx_status::in_transaction;
  }).join();
  REQUIRE(static_pool().ownership().checkout().ok());
  auto l = static_pool().checkout();
  REQUIRE(l.ok());
  (*l)->status = tx_status::in_transaction;  // still owned when main returns
}
