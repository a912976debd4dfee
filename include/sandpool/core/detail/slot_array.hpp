// The pool's slots, with the one flag a checkin reads without the lock. The
// core and every thread that keeps one of its connections (affinity.hpp)
// share this block, so a thread finishing a lock-free checkin can still
// touch it after another thread has shut the pool down and freed the core.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

namespace sandpool::detail {

template <class Slot>
struct slot_array {
  explicit slot_array(std::size_t n) : at(std::make_unique<Slot[]>(n)) {}

  std::unique_ptr<Slot[]> at;
  // A caller is queued or the pool is closed: a returned connection must go
  // through the lock. Written under the pool lock whenever either changes;
  // read by the lock-free checkin after it has marked its slot kept.
  alignas(64) std::atomic<bool> contended{false};
};

}  // namespace sandpool::detail
