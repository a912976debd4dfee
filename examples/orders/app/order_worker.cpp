// The worker's loop: process a batch, and sleep only when a batch found
// nothing, so a backlog drains at full speed.
#include "order_worker.hpp"

#include "orders.hpp"

namespace orders {

void order_worker::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lk(lock_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void order_worker::stop() {
  {
    std::lock_guard lk(lock_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void order_worker::wake() {
  {
    std::lock_guard lk(lock_);
    woken_ = true;
  }
  wake_.notify_all();
}

absl::Status order_worker::last_error() const {
  std::lock_guard lk(lock_);
  return last_error_;
}

void order_worker::run() {
  for (;;) {
    absl::StatusOr<int> done = process_pending(pool_);
    std::unique_lock lk(lock_);
    if (!done.ok()) last_error_ = done.status();
    if (done.ok()) processed_ += static_cast<std::uint64_t>(*done);
    if (stopping_) return;
    if (done.ok() && *done > 0) continue;
    wake_.wait_for(lk, idle_wait_, [this] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

}  // namespace orders
