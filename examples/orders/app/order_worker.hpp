// The background worker of the orders app: a thread of its own that
// processes pending orders until stopped. It starts a plain std::thread and
// uses the pool like any other code, so which connection it gets is the
// pool's business: its own in production (auto mode), the test's in a
// shared-mode test suite.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "sandpool/sandpool.hpp"

namespace orders {

class order_worker {
 public:
  // `idle_wait`: how long to sleep when there is nothing to process (wake()
  // cuts it short).
  explicit order_worker(sandpool::pool& pool,
                        std::chrono::milliseconds idle_wait = std::chrono::milliseconds(50))
      : pool_(pool), idle_wait_(idle_wait) {}
  ~order_worker() { stop(); }
  order_worker(const order_worker&) = delete;
  order_worker& operator=(const order_worker&) = delete;

  // Starts the thread (once). Not thread-safe against stop().
  void start();
  // Stops the thread and waits for it; idempotent.
  void stop();
  // Asks the worker to look for work now.
  void wake();

  // Orders processed so far. Thread-safe.
  std::uint64_t processed() const noexcept { return processed_.load(); }
  // The last error the worker met (it keeps going after one), ok if none.
  absl::Status last_error() const;

 private:
  void run();

  sandpool::pool& pool_;
  const std::chrono::milliseconds idle_wait_;
  std::thread thread_;
  mutable std::mutex lock_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  absl::Status last_error_;
  std::atomic<std::uint64_t> processed_{0};
};

}  // namespace orders
