// The housekeeping thread runs fiber_io_scheduler: while its maintenance
// fiber waits on a socket for a connect that does not finish, the ownership
// reaper, hosted on the same thread, still takes an overdue owner's
// connection back. The fake driver's connect waits on a pipe that the test
// writes only once it has seen the reaper act (or given up on it); a connect
// that blocked the thread would keep the reaper from running until then.
// Real threads and a real clock: the test waits in bounded loops.
#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "sandpool/core/fiber_io.hpp"
#include "sandpool/fake/driver.hpp"
#include "sandpool/pool.hpp"

using namespace sandpool;
using namespace std::chrono_literals;

namespace {

// Until `done` holds, for at most 10 s.
bool eventually(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A pipe whose read end a connect waits on until open() writes it.
struct gate {
  gate() { REQUIRE(::pipe(fd) == 0); }
  ~gate() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void open() { (void)!::write(fd[1], "x", 1); }
  // Waits for open(): suspends the fiber on a fiber I/O thread (true),
  // else blocks the thread (false).
  bool pass() const {
    if (fiber_io::wait(fd[0], false) == fiber_io::wait_result::ready) return true;
    pollfd p{fd[0], POLLIN, 0};
    (void)::poll(&p, 1, -1);
    return false;
  }
  int fd[2] = {-1, -1};
};

}  // namespace

TEST_CASE("the reaper takes an overdue connection back while housekeeping waits for a connect") {
  gate g;  // outlives the pool, whose housekeeping may still connect
  std::atomic<bool> armed{false}, connecting{false}, suspended{false};
  auto server = std::make_shared<fake::server>();
  server->on_connect = [&] {
    if (!armed.load()) return;
    connecting = true;
    if (g.pass()) suspended = true;
  };
  pool_options o;
  o.name = "reaper-io";
  o.max_size = 2;
  o.min_idle = 1;
  ownership_options own;
  own.ownership_timeout = 50ms;
  auto pool = basic_pool<fake::driver>::create(fake::driver(server), o, {}, own);
  REQUIRE(pool.ok());
  REQUIRE(eventually([&] { return pool->metrics().idle == 1; }));
  armed = true;
  REQUIRE(pool->ownership().set_mode(manual_mode{}).ok());
  // The only idle connection: housekeeping opens another for min_idle.
  REQUIRE(pool->ownership().checkout().ok());
  REQUIRE(eventually([&] { return connecting.load(); }));
  const bool reaped = eventually([&] { return pool->ownership().metrics().timeouts == 1; });
  g.open();
  CHECK(reaped);
  CHECK(eventually([&] { return suspended.load(); }));
  armed = false;
  CHECK(pool->checkout().status().code() == absl::StatusCode::kDeadlineExceeded);
}
