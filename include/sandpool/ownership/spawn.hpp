// Start a thread or fiber that already uses the caller's connection: the
// context is captured before the child exists and adopted as the child's
// first act, so no work the child does can run unallowed. This closes the
// commonest failure of allowance-based sandboxes: a worker started by the
// test that touches the database before anyone allowed it.
#pragma once

#include <thread>
#include <utility>

#include <boost/fiber/fiber.hpp>

#include "absl/status/statusor.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// Starts `f` on a new thread allowed on the caller's connection in `pool`.
// Errors (before anything starts): the caller owns nothing and is allowed
// nothing. If the owner ends before the child adopts, the child's first
// database use reports that.
template <class Pool, class F>
[[nodiscard]] absl::StatusOr<std::thread> spawn_thread(Pool& pool, F f) {
  auto ctx = pool.ownership().capture();
  if (!ctx.ok()) return ctx.status();
  return std::thread([&pool, c = *ctx, f = std::move(f)]() mutable {
    (void)pool.ownership().adopt(c);
    f();
  });
}

// The same for a Boost.Fiber fiber on the calling thread.
template <class Pool, class F>
[[nodiscard]] absl::StatusOr<boost::fibers::fiber> spawn_fiber(Pool& pool, F f) {
  auto ctx = pool.ownership().capture();
  if (!ctx.ok()) return ctx.status();
  return boost::fibers::fiber([&pool, c = *ctx, f = std::move(f)]() mutable {
    (void)pool.ownership().adopt(c);
    f();
  });
}

}  // namespace sandpool

#pragma GCC visibility pop
