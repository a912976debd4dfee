// Owner identity. An owner is an execution context: a Boost.Fiber fiber,
// where every thread's main context counts as a fiber, so plain threads and
// fibers are owners alike. Each gets an id that is never reused and a label
// for messages, and can tell interested pools when it ends (fiber exit or
// thread exit), so a pool reclaims what the owner held.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

using owner_id = std::uint64_t;  // 0 is "nobody"

// Told when an owner it subscribed to ends. Held weakly: a listener that is
// gone by then is skipped.
class owner_exit_listener {
 public:
  virtual ~owner_exit_listener() = default;
  // Runs on the ending owner's thread, during its teardown. Must not block.
  virtual void owner_ended(owner_id owner) noexcept = 0;
};

namespace detail {
struct owner_record;
owner_record& current_owner_record();
}  // namespace detail

// The calling thread's or fiber's owner id. Cheap after the first call in a
// context (a cached lookup). Thread-safe.
owner_id current_owner();

// The label messages use for an owner: "thread 4242", "fiber 7 on thread
// 4242", or the name given by name_current_owner(). Thread-safe.
std::string owner_label(owner_id owner);

// Names the calling context in every message that mentions it, e.g. the
// test's name. Thread-safe.
void name_current_owner(std::string_view name);

// Subscribes `listener` to the end of a live owner. Returns false if that
// owner has already ended (or never existed). Thread-safe.
bool on_owner_exit(owner_id owner, std::weak_ptr<owner_exit_listener> listener);

}  // namespace sandpool

#pragma GCC visibility pop
