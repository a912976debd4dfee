// Fiber-aware I/O: a Boost.Fiber scheduling algorithm whose idle wait is
// epoll over the sockets its fibers wait on, so a fiber that waits for a
// socket suspends itself, not its thread. Install it on a thread before
// starting fibers there:
//
//   boost::fibers::use_scheduling_algorithm<sandpool::fiber_io_scheduler>();
//
// On such a thread sandpool's queries, pipelines, connects and the reads
// of deferred rollbacks suspend the calling fiber while the server works,
// and the thread's other fibers run. On any other thread they block the
// thread as libpq does. Fibers are scheduled round robin, as Boost.Fiber's
// default algorithm does; timers (sleep_for, wait_until, the pool's
// timeouts) and wake-ups from other threads work while fibers are
// suspended on sockets. Sockets are looked at when no fiber of the thread
// is ready to run (waiting for them) and once per round of the ready
// fibers (without waiting), so fibers that keep yielding do not starve a
// socket's wake-up; a fiber that computes without yielding delays it.
#pragma once

#include <boost/fiber/algo/round_robin.hpp>

#include <chrono>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

class fiber_io_scheduler : public boost::fibers::algo::round_robin {
 public:
  // Fails with std::system_error if the kernel refuses an epoll or eventfd
  // descriptor.
  fiber_io_scheduler();
  ~fiber_io_scheduler() override;
  fiber_io_scheduler(const fiber_io_scheduler&) = delete;
  fiber_io_scheduler& operator=(const fiber_io_scheduler&) = delete;

  // Waits in epoll until a socket a fiber waits on is ready, a timer is
  // due or another thread wakes the thread (notify()).
  void suspend_until(std::chrono::steady_clock::time_point const& until) noexcept override;
  void notify() noexcept override;
  // Round robin's choice, after a look at the sockets without waiting when
  // the scheduler takes its turn among ready fibers.
  boost::fibers::context* pick_next() noexcept override;


  struct state;  // the epoll and eventfd descriptors
 private:
  state* state_;
};

namespace fiber_io {

enum class wait_result {
  ready,           // the socket is ready (or in error: the next read says which)
  timed_out,       // the deadline passed first
  not_suspended,   // this thread does not run fiber_io_scheduler (or the
                   // socket cannot be watched): the caller blocks instead
};

// Whether the calling thread runs fiber_io_scheduler.
[[nodiscard]] bool active() noexcept;

// Suspends the calling fiber until fd is readable (`write` false) or
// writable (`write` true), or until `deadline`. One fiber at a time per fd.
wait_result wait(int fd, bool write,
                 std::chrono::steady_clock::time_point deadline =
                     std::chrono::steady_clock::time_point::max()) noexcept;

}  // namespace fiber_io
}  // namespace sandpool

#pragma GCC visibility pop
