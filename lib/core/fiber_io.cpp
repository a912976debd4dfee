// fiber_io_scheduler: Boost.Fiber's round robin with its idle wait done in
// epoll. A waiting fiber registers its socket (one-shot) with a waiter of
// its own and sleeps on the waiter's condition variable; the scheduler's
// idle wait wakes it when epoll reports the socket. An eventfd carries
// notify() from other threads.
#include "sandpool/core/fiber_io.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/mutex.hpp>
#include <cerrno>
#include <mutex>
#include <system_error>

namespace sandpool {

struct fiber_io_scheduler::state {
  int epoll = -1;
  int wake = -1;
  int armed = 0;  // fibers waiting on a descriptor
};

namespace {

thread_local fiber_io_scheduler::state* current = nullptr;

struct waiter {
  boost::fibers::mutex m;
  boost::fibers::condition_variable cv;
  bool fired = false;
};

}  // namespace

fiber_io_scheduler::fiber_io_scheduler() : state_(new state) {
  state_->epoll = ::epoll_create1(EPOLL_CLOEXEC);
  state_->wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up descriptor
  if (state_->epoll < 0 || state_->wake < 0 ||
      ::epoll_ctl(state_->epoll, EPOLL_CTL_ADD, state_->wake, &ev) != 0) {
    const int e = errno;
    if (state_->epoll >= 0) ::close(state_->epoll);
    if (state_->wake >= 0) ::close(state_->wake);
    delete state_;
    throw std::system_error(e, std::generic_category(),
                            "sandpool::fiber_io_scheduler: cannot make its epoll and eventfd");
  }
  current = state_;
}

fiber_io_scheduler::~fiber_io_scheduler() {
  if (current == state_) current = nullptr;
  ::close(state_->epoll);
  ::close(state_->wake);
  delete state_;
}

namespace {

// Waits up to timeout ms and wakes the fibers whose sockets are ready. Only
// on the scheduler's own (dispatcher) context, where no fiber is
// mid-switch: a waiter's condition variable cannot be notified while its
// own fiber is still suspending.
void poll_sockets(fiber_io_scheduler::state& s, int timeout) noexcept {
  epoll_event events[64];
  const int n = ::epoll_wait(s.epoll, events, 64, timeout);
  for (int i = 0; i < n; ++i) {
    auto* w = static_cast<waiter*>(events[i].data.ptr);
    if (w == nullptr) {
      std::uint64_t count = 0;
      (void)!::read(s.wake, &count, sizeof count);
      continue;
    }
    {
      std::unique_lock lk(w->m);
      w->fired = true;
    }
    w->cv.notify_one();
  }
}

}  // namespace

void fiber_io_scheduler::suspend_until(
    std::chrono::steady_clock::time_point const& until) noexcept {
  int timeout = -1;
  if (until != std::chrono::steady_clock::time_point::max()) {
    const auto left = until - std::chrono::steady_clock::now();
    // Rounded up: waking before the timer is due would only spin.
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    timeout = ms <= 0 ? 0 : ms > 1'000'000 ? 1'000'000 : static_cast<int>(ms);
  }
  poll_sockets(*state_, timeout);
}

boost::fibers::context* fiber_io_scheduler::pick_next() noexcept {
  // The dispatcher takes its turn in the ready queue once a round: while
  // fibers stay ready the thread never idles, so the sockets are looked at
  // here, without waiting, and a busy fiber does not starve the others.
  if (state_->armed > 0 && has_ready_fibers() &&
      boost::fibers::context::active()->is_context(boost::fibers::type::dispatcher_context)) {
    poll_sockets(*state_, 0);
  }
  return round_robin::pick_next();
}


void fiber_io_scheduler::notify() noexcept {
  const std::uint64_t one = 1;
  (void)!::write(state_->wake, &one, sizeof one);
}

namespace fiber_io {

bool active() noexcept { return current != nullptr; }

wait_result wait(int fd, bool write, std::chrono::steady_clock::time_point deadline) noexcept {
  fiber_io_scheduler::state* s = current;
  if (s == nullptr || fd < 0) return wait_result::not_suspended;
  waiter w;
  epoll_event ev{};
  ev.events = (write ? EPOLLOUT : EPOLLIN) | EPOLLONESHOT;
  ev.data.ptr = &w;
  // A socket stays registered, disarmed, after its one-shot fired: re-arm
  // it (one call per wait); a new socket is added. The kernel drops a
  // socket's registration when it closes.
  if (::epoll_ctl(s->epoll, EPOLL_CTL_MOD, fd, &ev) != 0 &&
      (errno != ENOENT || ::epoll_ctl(s->epoll, EPOLL_CTL_ADD, fd, &ev) != 0))
    return wait_result::not_suspended;
  bool fired = false;
  ++s->armed;
  {
    std::unique_lock lk(w.m);
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      w.cv.wait(lk, [&] { return w.fired; });
      fired = true;
    } else {
      fired = w.cv.wait_until(lk, deadline, [&] { return w.fired; });
    }
  }
  --s->armed;
  // Timed out: still armed, pointing at this waiter; disarm it.
  if (!fired) ::epoll_ctl(s->epoll, EPOLL_CTL_DEL, fd, nullptr);
  return fired ? wait_result::ready : wait_result::timed_out;
}

}  // namespace fiber_io
}  // namespace sandpool
