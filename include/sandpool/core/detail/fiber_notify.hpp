// Notifying Boost.Fiber condition variables from any thread, at any time.
// A notify schedules the woken fiber through the notifying thread's fiber
// scheduler, which is a thread_local: once a thread's thread_locals are gone
// (a pool in a static, destroyed after main returns), a direct notify would
// touch a destroyed scheduler. watch_fiber_scheduler() notes, per thread,
// when that happens; notify_all() then hands the notify to a short-lived
// thread with a scheduler of its own.
#pragma once

#include <thread>

#include <boost/fiber/condition_variable.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

// Starts watching the calling thread's scheduler. Cheap after the first
// call on a thread; call it where a thread first meets the pool.
void watch_fiber_scheduler();

// False once the calling thread's fiber scheduler has been destroyed.
bool fiber_scheduler_alive() noexcept;

inline void notify_all(boost::fibers::condition_variable_any& cv) noexcept {
  if (fiber_scheduler_alive()) {
    cv.notify_all();
  } else {
    std::thread([&cv] { cv.notify_all(); }).join();
  }
}

}  // namespace sandpool::detail

#pragma GCC visibility pop
