// Every bad option is rejected at creation with a message naming the option,
// the value and the fix.
#include <doctest/doctest.h>

#include <string>

#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

using namespace sandpool;
using namespace std::chrono_literals;

namespace {

std::string rejection(pool_options o) {
  auto p = basic_pool<fake::driver>::create(fake::driver{}, o);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(p.status().message());
}

}  // namespace

TEST_CASE("the defaults are valid") { CHECK(pool_options{}.validate().ok()); }

TEST_CASE("every bad option names itself, its value and the fix") {
  struct row {
    void (*set)(pool_options&);
    const char* option;
    const char* value;
    const char* fix;
  };
  const row rows[] = {
      {[](pool_options& o) { o.max_size = 0; }, "max_size", "is 0", "set max_size to 1"},
      {[](pool_options& o) { o.max_size = std::size_t{1} << 40; }, "max_size", "is 1099511627776",
       "cannot exceed 262143"},
      {[](pool_options& o) { o.initial_connect_timeout = -1s; }, "initial_connect_timeout",
       "is -1000 ms", "set it to zero"},
      {[](pool_options& o) {
         o.initial_connect_timeout = 1s;
         o.housekeeper = housekeeping::manual;
       },
       "initial_connect_timeout", "is 1000 ms", "needs housekeeping::thread"},
      {[](pool_options& o) { o.min_idle = 11; }, "min_idle", "is 11", "cannot exceed max_size"},
      {[](pool_options& o) { o.checkout_timeout = 0s; }, "checkout_timeout", "is 0 ms",
       "above zero"},
      {[](pool_options& o) { o.checkout_timeout = -5s; }, "checkout_timeout", "is -5000 ms",
       "above zero"},
      {[](pool_options& o) { o.queue_target = 0ms; }, "queue_target", "is 0 ms", "above zero"},
      {[](pool_options& o) { o.queue_interval = -1ms; }, "queue_interval", "is -1 ms",
       "above zero"},
      {[](pool_options& o) { o.queue_interval = 10ms; }, "queue_interval", "is 10 ms",
       "at least queue_target"},
      {[](pool_options& o) { o.idle_timeout = 0s; }, "idle_timeout", "is 0 ms", "infinite"},
      {[](pool_options& o) { o.max_lifetime = -1s; }, "max_lifetime", "is -1000 ms",
       "infinite"},
      {[](pool_options& o) { o.validation_bypass = -1ms; }, "validation_bypass", "is -1 ms",
       "zero"},
      {[](pool_options& o) { o.reconnect_backoff_min = 0ms; }, "reconnect_backoff_min",
       "is 0 ms", "above zero"},
      {[](pool_options& o) { o.reconnect_backoff_max = 1ms; }, "reconnect_backoff_max",
       "is 1 ms", "at least reconnect_backoff_min"},
      {[](pool_options& o) { o.shutdown_timeout = -1s; }, "shutdown_timeout", "is -1000 ms",
       "zero"},
  };
  for (const row& r : rows) {
    pool_options o;
    o.name = "orders";
    o.housekeeper = housekeeping::manual;
    r.set(o);
    const std::string msg = rejection(o);
    INFO(msg);
    CHECK(msg.find("pool 'orders'") != std::string::npos);
    CHECK(msg.find(std::string("option ") + r.option + " " + r.value) != std::string::npos);
    CHECK(msg.find(r.fix) != std::string::npos);
  }
}

TEST_CASE("infinite timeouts are accepted where they make sense") {
  pool_options o;
  o.checkout_timeout = infinite;
  o.idle_timeout = infinite;
  o.max_lifetime = infinite;
  o.validation_bypass = 0s;
  CHECK(o.validate().ok());
}

TEST_CASE("a manual clock refuses the housekeeping thread") {
  pool_options o;
  auto p = basic_pool<fake::driver, manual_clock>::create(fake::driver{}, o);
  REQUIRE_FALSE(p.ok());
  CHECK(std::string(p.status().message()).find("housekeeping::manual") != std::string::npos);
}
