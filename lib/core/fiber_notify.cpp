// The per-thread watch behind detail::notify_all(). The flag is a trivial
// thread_local (never destroyed, so it can be read during static
// destruction); the watcher that sets it is constructed after the thread's
// fiber scheduler, so it is destroyed before it.
#include "sandpool/core/detail/fiber_notify.hpp"

#include <boost/fiber/context.hpp>

namespace sandpool::detail {
namespace {

thread_local bool scheduler_gone = false;

struct scheduler_watch {
  ~scheduler_watch() { scheduler_gone = true; }
};

}  // namespace

void watch_fiber_scheduler() {
  boost::fibers::context::active();  // the scheduler exists before the watch
  static thread_local scheduler_watch watch;
  (void)watch;
}

bool fiber_scheduler_alive() noexcept { return !scheduler_gone; }

}  // namespace sandpool::detail
