// An owner for step-by-step tests: a fiber on the test's thread that runs
// one operation at a time when the test hands it one, so a test can
// interleave several owners exactly. The test waits by yielding a bounded
// number of times rather than blocking, so an operation that blocks (it
// waits for a connection or a turn) is reported instead of hanging the
// whole test thread.
#pragma once

#include <cstdint>
#include <functional>

#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

namespace sandpool::test {

class step_actor {
 public:
  step_actor() : fiber_([this] { run(); }) {}
  step_actor(const step_actor&) = delete;
  step_actor& operator=(const step_actor&) = delete;
  ~step_actor() { stop(); }

  // Runs `op` in the actor's fiber. False if it has not finished after
  // `patience` yields of the calling fiber (it is blocked).
  bool perform(std::function<void()> op, int patience = 64) {
    ++issued_;
    inbox_.push(std::move(op));
    return finish(patience);
  }
  // Yields until the last operation has finished, at most `patience` times.
  bool finish(int patience = 64) {
    for (int i = 0; i < patience && completed_ != issued_; ++i) boost::this_fiber::yield();
    return completed_ == issued_;
  }
  // Ends the fiber (the owner ends) and waits for it. The last operation
  // must have finished, or this waits for it.
  void stop() {
    if (!fiber_.joinable()) return;
    inbox_.push(std::function<void()>{});
    fiber_.join();
  }

 private:
  void run() {
    std::function<void()> op;
    while (inbox_.pop(op) == boost::fibers::channel_op_status::success && op) {
      op();
      ++completed_;
    }
  }

  boost::fibers::buffered_channel<std::function<void()>> inbox_{2};
  std::uint64_t issued_ = 0, completed_ = 0;
  boost::fibers::fiber fiber_;  // last: starts once the channel exists
};

}  // namespace sandpool::test
