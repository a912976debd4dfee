// More test threads than connections: every sandboxed test waits its turn
// (FIFO, up to checkout_timeout) and passes, only slower. Overload control
// is tuned to shed as early as it can here, and still sheds no test.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sandbox_env.hpp"

namespace sandpool::test {

PG_TEST_CASE("4 test threads on a pool of 2: 20 rounds of 20 sandboxed tests all pass") {
  ensure_ledger();
  auto driver = pq::driver::create(dsn() + " application_name=" + sandbox_app());
  REQUIRE(driver.ok());
  pool_options o;
  o.name = "oversubscribed";
  o.max_size = 2;
  o.checkout_timeout = std::chrono::seconds(30);
  // Each test holds its connection 20 ms and always finds it taken: every
  // checkout waits past this target, so the pool is overloaded all along.
  o.queue_target = std::chrono::milliseconds(2);
  o.queue_interval = std::chrono::milliseconds(20);
  auto p = pool::create(*driver, o);
  REQUIRE(p.ok());
  auto box = install_sandbox(*p);
  REQUIRE(box.ok());
  REQUIRE(p->ownership().set_mode(manual_mode{}).ok());
  std::atomic<int> passed{0}, failed{0};
  std::string first_error;
  std::mutex error_lock;
  for (int round = 0; round < 20; ++round) {
    std::vector<std::thread> suite;
    for (int t = 0; t < 4; ++t) {
      suite.emplace_back([&, t] {
        for (int test = 0; test < 5; ++test) {  // 4 threads x 5 = 20 tests a round
          auto fail = [&](const absl::Status& s) {
            ++failed;
            std::lock_guard lk(error_lock);
            if (first_error.empty()) first_error = text(s);
          };
          if (auto c = p->ownership().checkout(); !c.ok()) {
            fail(c.status());
            continue;
          }
          {
            auto l = p->checkout();
            if (!l.ok()) {
              fail(l.status());
              continue;
            }
            auto r = (*l)->exec("INSERT INTO " + ledger() + " (tag, n) VALUES ('oversubscribed', " +
                                std::to_string(t) + "); SELECT pg_sleep(0.02)");
            if (!r.ok()) fail(r.status());
          }
          if (absl::Status s = p->ownership().checkin(); !s.ok()) {
            fail(s);
            continue;
          }
          ++passed;
        }
      });
    }
    for (auto& th : suite) th.join();
  }
  INFO(first_error);
  CHECK(failed.load() == 0);
  CHECK(passed.load() == 400);
  CHECK(p->metrics().drops == 0);
  CHECK(count_committed("tag = 'oversubscribed'") == 0);
}

}  // namespace sandpool::test
