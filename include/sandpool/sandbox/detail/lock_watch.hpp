// The watch run_unboxed keeps over its connection: the function's statement
// may wait for a lock held by the caller's own sandboxed transaction, which
// cannot end while the caller waits for the function, so the wait would last
// forever. It owns that rule: every 200 ms of a statement's run it asks the
// server (on a connection of its own, opened at the first check) whether the
// connection waits on the caller's backend; if it does, it cancels the
// statement and keeps an error that names the lock, the statement and the
// fix, and goes on watching until the function returns. A wait on anyone
// else's lock (another test) is left alone. The function must not close or
// move its connection while the watch runs (run_unboxed closes it after).
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/driver.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

class lock_watch {
 public:
  // Watches `watched` (run_unboxed's connection) for waits on a lock of the
  // backend `holder` (the caller's sandboxed connection). Does nothing if
  // holder is 0.
  lock_watch(const pq::driver& driver, pq::connection& watched, int holder);
  ~lock_watch();
  lock_watch(const lock_watch&) = delete;
  lock_watch& operator=(const lock_watch&) = delete;

  // Stops watching. If the watch cancelled a statement, its error (with
  // fn_status's text appended); else fn_status.
  [[nodiscard]] absl::Status finish(absl::Status fn_status);

 private:
  void run();
  // One check; true if the statement was cancelled.
  bool check(std::optional<pq::connection>& own);

  const pq::driver& driver_;
  pq::connection& watched_;
  const int watched_pid_;
  const int holder_;
  std::mutex lock_;  // guards stop_ and why_
  std::condition_variable wake_;
  bool stop_ = false;                 // guarded by lock_
  std::optional<absl::Status> why_;   // guarded by lock_: set when it cancelled
  std::thread thread_;
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
