// Owner identity records. A fiber's record lives in fiber-specific storage,
// whose cleanup runs when the fiber ends; a thread's main context keeps its
// record in a thread_local, whose destructor runs at thread exit (Boost.Fiber
// does not clean up fiber-specific storage of main contexts). The record is
// created after the thread's fiber scheduler, so it is destroyed before it
// and listeners may still use fiber primitives.
#include "sandpool/ownership/owner.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <vector>

#include <boost/fiber/context.hpp>
#include <boost/fiber/fss.hpp>

#include "absl/container/flat_hash_map.h"
#include "sandpool/core/detail/fiber_notify.hpp"
#include "absl/strings/str_cat.h"

namespace sandpool::detail {

struct owner_record {
  owner_id id;
  std::string label;
  std::vector<std::weak_ptr<owner_exit_listener>> listeners;
  ~owner_record();
};

namespace {

std::atomic<owner_id> next_owner_id{1};

// Live records by id, so a pool can subscribe to the end of a context other
// than the caller's (allow(owner, other)). Touched only when a context is
// first seen, when it ends, and on subscription: never on the hot path.
std::mutex live_mutex;  // guards live()
absl::flat_hash_map<owner_id, owner_record*>& live() {
  static auto* records = new absl::flat_hash_map<owner_id, owner_record*>;
  return *records;
}

owner_record* make_record(std::string label_prefix, bool fiber) {
  const owner_id id = next_owner_id.fetch_add(1);
  auto* r = new owner_record{
      id, fiber ? absl::StrCat("fiber ", id, " on thread ", label_prefix)
                : absl::StrCat("thread ", label_prefix),
      {}};
  std::lock_guard lk(live_mutex);
  live()[id] = r;
  return r;
}

// Last context looked up on this thread and its record.
thread_local boost::fibers::context* cached_context = nullptr;
thread_local owner_record* cached_record = nullptr;

long thread_number() { return static_cast<long>(::syscall(SYS_gettid)); }

boost::fibers::fiber_specific_ptr<owner_record>& fiber_records() {
  static boost::fibers::fiber_specific_ptr<owner_record> records;
  return records;
}

}  // namespace

owner_record::~owner_record() {
  // A later fiber may reuse this context's address: forget the cache.
  if (cached_record == this) {
    cached_record = nullptr;
    cached_context = nullptr;
  }
  std::vector<std::weak_ptr<owner_exit_listener>> to_tell;
  {
    std::lock_guard lk(live_mutex);
    live().erase(id);
    to_tell.swap(listeners);
  }
  for (auto& weak : to_tell)
    if (auto listener = weak.lock()) listener->owner_ended(id);
}

owner_record& current_owner_record() {
  boost::fibers::context* ctx = boost::fibers::context::active();
  if (ctx == cached_context && cached_record != nullptr) return *cached_record;
  watch_fiber_scheduler();
  owner_record* record = nullptr;
  if (ctx->is_context(boost::fibers::type::main_context)) {
    thread_local std::unique_ptr<owner_record> main_record;
    if (!main_record) main_record.reset(make_record(absl::StrCat(thread_number()), false));
    record = main_record.get();
  } else {
    record = fiber_records().get();
    if (record == nullptr) {
      record = make_record(absl::StrCat(thread_number()), true);
      fiber_records().reset(record);
    }
  }
  cached_context = ctx;
  cached_record = record;
  return *record;
}

}  // namespace sandpool::detail

namespace sandpool {

owner_id current_owner() { return detail::current_owner_record().id; }


void name_current_owner(std::string_view name) {
  detail::owner_record& r = detail::current_owner_record();
  std::string label =
      absl::StrCat(absl::string_view(name.data(), name.size()), " (owner ", r.id, ")");
  std::lock_guard lk(detail::live_mutex);
  r.label = std::move(label);
}

bool on_owner_exit(owner_id owner, std::weak_ptr<owner_exit_listener> listener) {
  std::lock_guard lk(detail::live_mutex);
  auto it = detail::live().find(owner);
  if (it == detail::live().end()) return false;
  auto& listeners = it->second->listeners;
  for (auto& weak : listeners)
    if (!weak.owner_before(listener) && !listener.owner_before(weak)) return true;  // already
  listeners.push_back(std::move(listener));
  return true;
}

std::string owner_label(owner_id owner) {
  std::lock_guard lk(detail::live_mutex);
  auto it = detail::live().find(owner);
  if (it == detail::live().end()) return absl::StrCat("owner ", owner, " (ended)");
  return it->second->label;
}

}  // namespace sandpool
