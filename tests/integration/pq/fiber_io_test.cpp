// Fiber-aware queries against a real server: on a thread that runs
// fiber_io_scheduler, a fiber waiting for the server suspends itself, so
// the thread's other fibers run their own queries and timers meanwhile;
// connects, pipelines and pool checkouts work there; a cancel from another
// thread ends a suspended query, and a fiber that cancels waits for the
// request without stopping its thread; other threads block as before.
#include <doctest/doctest.h>

#include <boost/fiber/all.hpp>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "pool_it_env.hpp"
#include "sandpool/core/fiber_io.hpp"

namespace sandpool::test {
namespace {

using namespace std::chrono_literals;

// Runs body on a new thread that runs fiber_io_scheduler, and joins it.
template <class F>
void on_fiber_thread(F body) {
  std::thread t([&] {
    boost::fibers::use_scheduling_algorithm<fiber_io_scheduler>();
    body();
  });
  t.join();
}

// Runs `n` fibers of body on a new fiber I/O thread and joins them all.
template <class F>
void fibers_on_thread(int n, F body) {
  on_fiber_thread([&] {
    std::vector<boost::fibers::fiber> fibers;
    for (int i = 0; i < n; ++i) fibers.emplace_back(body);
    for (auto& f : fibers) f.join();
  });
}

// The most statements of application `app` seen running at once, polled
// from a plain thread while `running` holds.
struct concurrency_watch {
  explicit concurrency_watch(std::string app) : app_(std::move(app)), t_([this] { run(); }) {}
  ~concurrency_watch() { stop(); }
  int stop() {
    done_ = true;
    if (t_.joinable()) t_.join();
    return max_;
  }

 private:
  void run() {
    pq::connection admin = connect();
    while (!done_) {
      auto r = admin.exec(
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = "
          "'active'",
          {app_});
      if (r.ok()) max_ = std::max(max_, std::stoi(std::string(r->get(0, 0))));
      std::this_thread::sleep_for(5ms);
    }
  }
  std::string app_;
  std::atomic<bool> done_{false};
  int max_ = 0;
  std::thread t_;
};

TEST_CASE("plain threads are not fiber I/O threads") {
  CHECK_FALSE(fiber_io::active());
  bool inside = false;
  on_fiber_thread([&] { inside = fiber_io::active(); });
  CHECK(inside);
}

TEST_CASE("eight fibers of one thread connect and run eight queries at once") {
  const std::string app = app_name("fiber-io-8");
  pq::driver d = make_driver(pool_dsn(app));
  concurrency_watch watch(app);
  std::atomic<int> ok{0};
  fibers_on_thread(8, [&] {
    auto c = d.connect();
    if (c.ok() && c->exec("SELECT pg_sleep(0.6)").ok()) ++ok;
  });
  CHECK(ok == 8);
  CHECK(watch.stop() == 8);
}

TEST_CASE("a timer fiber runs while another fiber waits for the server") {
  pq::driver d = make_driver(dsn());
  int ticks = 0;
  bool ran = false;
  on_fiber_thread([&] {
    std::atomic<bool> done{false};
    boost::fibers::fiber query([&] {
      auto c = d.connect();
      const std::vector<pq::pipeline_step> steps = {{"SELECT 1"}, {"SELECT pg_sleep(0.1)"}};
      ran = c.ok() && c->exec("SELECT pg_sleep(0.4)").ok() && c->exec_pipeline(steps).ok();
      done = true;
    });
    boost::fibers::fiber timer([&] {
      while (!done) {
        boost::this_fiber::sleep_for(10ms);
        ++ticks;
      }
    });
    query.join();
    timer.join();
  });
  CHECK(ran);
  CHECK(ticks >= 10);  // about 50 if the thread never blocked
}

TEST_CASE("a cancel from another thread ends a suspended query") {
  const std::string app = app_name("fiber-io-cancel");
  pq::driver d = make_driver(pool_dsn(app));
  std::string state;
  std::string message;
  on_fiber_thread([&] {
    auto c = d.connect();
    REQUIRE(c.ok());
    std::thread canceller([&] {
      pq::connection admin = connect();
      if (eventually([&] { return backends_of(admin, app) == 1; }, 5s)) {
        std::this_thread::sleep_for(200ms);
        (void)c->cancel("the test cancelled it");
      }
    });
    auto r = c->exec("SELECT pg_sleep(30)");
    canceller.join();
    state = pq::sqlstate(r.status());
    message = text(r.status());
  });
  CHECK(state == "57014");
  CAPTURE(message);
  CHECK(message.find("the test cancelled it") != std::string::npos);
}

TEST_CASE("a fiber that cancels a query waits for the request, not its thread") {
  const std::string app = app_name("fiber-io-cancel-fiber");
  pq::driver d = make_driver(pool_dsn(app));
  std::string state;
  std::string message;
  bool delivered = false;
  int ticks_while_cancelling = 0;
  on_fiber_thread([&] {
    auto c = d.connect();
    REQUIRE(c.ok());
    enum { before, cancelling, after } phase = before;
    boost::fibers::fiber query([&] {
      auto r = c->exec("SELECT pg_sleep(30)");
      state = pq::sqlstate(r.status());
      message = text(r.status());
    });
    // Passes through the scheduler each time (a zero sleep), so it runs
    // whenever the canceller is suspended, and only then.
    boost::fibers::fiber ticker([&] {
      while (phase != after) {
        if (phase == cancelling) ++ticks_while_cancelling;
        boost::this_fiber::sleep_for(0ns);
      }
    });
    boost::this_fiber::sleep_for(200ms);  // the query is running by then
    phase = cancelling;
    delivered = c->cancel("the fiber cancelled it").ok();
    phase = after;
    ticker.join();
    query.join();
  });
  CHECK(delivered);
  CHECK(state == "57014");
  CAPTURE(message);
  CHECK(message.find("the fiber cancelled it") != std::string::npos);
  CHECK(ticks_while_cancelling > 0);  // a cancel that blocked the thread would leave 0
}

TEST_CASE("a pool's fibers on one thread use all its connections at once") {
  const std::string app = app_name("fiber-io-pool");
  pool_options o = options_for(app);
  o.max_size = 4;
  o.min_idle = 0;
  sandpool::pool p = make_pool(pool_dsn(app), o);
  concurrency_watch watch(app);
  std::atomic<int> ok{0};
  fibers_on_thread(8, [&] {
    auto l = p.checkout(10s);
    if (l.ok() && (*l)->exec("SELECT pg_sleep(0.3)").ok()) ++ok;
  });
  CHECK(ok == 8);
  CHECK(watch.stop() == 4);
}

}  // namespace
}  // namespace sandpool::test
