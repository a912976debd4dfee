// fiber_io_scheduler without a server: pipes stand in for sockets. A fiber
// waiting on a descriptor is woken when it is ready, whether or not the
// thread's other fibers keep it busy, and a deadline ends the wait. Each
// test counts yields, not time: no sleeps.
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/fiber/all.hpp>
#include <thread>

#include "sandpool/core/fiber_io.hpp"

using namespace sandpool;
using namespace std::chrono_literals;

namespace {

struct pipe_pair {
  pipe_pair() { REQUIRE(::pipe(fd) == 0); }
  ~pipe_pair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void write_one() const {
    const char c = 'x';
    REQUIRE(::write(fd[1], &c, 1) == 1);
  }
  int fd[2] = {-1, -1};
};

// Runs body on a new thread that uses fiber_io_scheduler.
template <class F>
void on_io_thread(F body) {
  std::thread t([&] {
    boost::fibers::use_scheduling_algorithm<fiber_io_scheduler>();
    body();
  });
  t.join();
}

}  // namespace

TEST_CASE("a fiber that waits on a descriptor is woken while another fiber keeps yielding") {
  pipe_pair p;
  bool woken = false;
  fiber_io::wait_result got = fiber_io::wait_result::not_suspended;
  long yields = 0;
  on_io_thread([&] {
    CHECK(fiber_io::active());
    boost::fibers::fiber waiter([&] {
      got = fiber_io::wait(p.fd[0], false);
      woken = true;
    });
    boost::fibers::fiber busy([&] {
      p.write_one();
      // Always ready: the scheduler never idles, so the descriptor must be
      // looked at between rounds of ready fibers.
      while (!woken && yields < 1'000'000) {
        boost::this_fiber::yield();
        ++yields;
      }
    });
    waiter.join();
    busy.join();
  });
  CHECK(woken);
  CHECK(got == fiber_io::wait_result::ready);
  CHECK(yields < 100);
}

TEST_CASE("a wait whose deadline passes first times out and leaves the descriptor unwatched") {
  pipe_pair p, other;
  fiber_io::wait_result first = fiber_io::wait_result::not_suspended;
  fiber_io::wait_result second = fiber_io::wait_result::not_suspended;
  on_io_thread([&] {
    boost::fibers::fiber f([&] {
      first = fiber_io::wait(p.fd[0], false, std::chrono::steady_clock::now() + 5ms);
      // Readable now, with the timed-out waiter gone. While a second fiber
      // waits on another pipe and this one yields, the scheduler looks at
      // the sockets: a registration left armed would report to the dead
      // waiter (ASan: stack-use-after-return).
      p.write_one();
      boost::fibers::fiber g([&] { (void)fiber_io::wait(other.fd[0], false); });
      for (int i = 0; i < 10; ++i) boost::this_fiber::yield();
      other.write_one();
      g.join();
      second = fiber_io::wait(p.fd[0], false, std::chrono::steady_clock::now() + 10s);
    });
    f.join();
  });
  CHECK(first == fiber_io::wait_result::timed_out);
  CHECK(second == fiber_io::wait_result::ready);
}

TEST_CASE("on a thread without the scheduler a wait does not suspend") {
  pipe_pair p;
  CHECK_FALSE(fiber_io::active());
  CHECK(fiber_io::wait(p.fd[0], false) == fiber_io::wait_result::not_suspended);
}
