// A caller queued for a connection. It lives on the caller's stack and sits
// in the pool's FIFO until a connection is handed to it (granted) or it is
// failed (timeout, overload drop, shutdown). Both are decided under the pool
// lock by whoever unlinks it, and the notify happens under that lock too, so
// the waiter cannot return and destroy itself while being notified.
//
// The condition variable is Boost.Fiber's: a fiber that waits lets the other
// fibers of its thread run, and a plain thread (whose main context is a fiber
// too) simply blocks.
#pragma once

#include <cstdint>

#include <boost/fiber/condition_variable.hpp>
#include <boost/intrusive/list_hook.hpp>

#include "absl/status/status.h"
#include "sandpool/core/source_location.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

// What overload control may do to a waiter.
enum class overload : std::uint8_t {
  shed,  // shed when the queue stands (auto mode: fail fast, retry elsewhere)
  wait,  // never shed: waits FIFO up to its timeout (ownership checkouts, tests)
};

template <class Slot, class TimePoint>
struct waiter : boost::intrusive::list_base_hook<> {
  boost::fibers::condition_variable_any cv;
  Slot* granted = nullptr;
  absl::Status failure;  // ok until the waiter is failed
  TimePoint enqueued{};
  TimePoint deadline{};
  source_location site{};
  overload on_overload = overload::shed;

  bool done() const noexcept { return granted != nullptr || !failure.ok(); }
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
