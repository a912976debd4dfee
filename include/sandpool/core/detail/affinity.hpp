// Per-thread affinity: the connection a thread returned last is the one it
// gets back first, if it is still idle (HikariCP's ConcurrentBag keeps a
// thread-local list the same way). A connection then stays with the thread
// that used it, and its backend with that thread's CPU, instead of moving
// between threads at every checkout. Queued waiters are not affected: a
// returned connection goes to the first waiter before it is ever idle. The
// memory is one thread-local entry (pool id, slot index, and a reference
// that keeps the pool's slots alive while the thread may still touch them,
// core_keep.hpp): no shared write.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace sandpool::detail {

struct affinity {
  // A process-wide id for a new pool core (never reused, unlike addresses).
  static std::uint64_t next_pool_id() noexcept {
    static std::atomic<std::uint64_t> next{0};
    return next.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  // The calling thread returned slot `index` of pool `pool`, whose slots
  // `slots` keeps alive while this thread may touch them. False once the
  // thread is exiting and its reference is gone (a lease returned by a
  // thread_local's destructor): it must not keep the connection then.
  // (A template, so that the common call converts no shared_ptr.)
  template <class Slots>
  static bool remember(std::uint64_t pool, std::size_t index,
                       const std::shared_ptr<Slots>& slots) noexcept {
    if (exiting()) return false;
    entry& e = last();
    if (e.pool != pool) {
      keepalive().slots = slots;
      e.pool = pool;
    }
    e.index = index;
    return true;
  }
  // The slot index the calling thread returned last to `pool`, or -1.
  static std::ptrdiff_t recall(std::uint64_t pool) noexcept {
    const entry& e = last();
    return e.pool == pool ? static_cast<std::ptrdiff_t>(e.index) : -1;
  }

 private:
  // Trivially destructible, so usable at any point of the thread's exit.
  struct entry {
    std::uint64_t pool = 0;
    std::size_t index = 0;
  };
  static entry& last() noexcept {
    thread_local entry e;
    return e;
  }
  // The reference, destroyed with the thread's other thread_locals; after
  // that, exiting() says so and nothing touches it again.
  struct holder {
    std::shared_ptr<void> slots;
    ~holder() { exiting() = true; }
  };
  static holder& keepalive() noexcept {
    thread_local holder h;
    return h;
  }
  static bool& exiting() noexcept {
    thread_local bool gone = false;
    return gone;
  }
};

}  // namespace sandpool::detail
