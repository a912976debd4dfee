// The gate a connection's statements pass through, so the pool can take a
// connection back from a caller that still holds it. Once revoked, every
// statement the caller starts fails with the revocation's status, and the
// pool can tell when the last statement already running has finished: only
// then does it roll the connection back and return it.
//
// A driver's connection offers it as `statement_gate& gate() noexcept`; the
// ownership layer uses it when it is there and otherwise waits for the
// caller's lease to end. Thread-safe: the caller's thread enters and
// leaves, another thread revokes and watches.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>

#include "absl/status/status.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

class statement_gate {
 public:
  statement_gate() = default;
  // Moves happen only while nobody uses the connection.
  statement_gate(statement_gate&& other) noexcept
      : state_(other.state_.exchange(0, std::memory_order_relaxed)),
        why_(std::exchange(other.why_, absl::OkStatus())) {}
  statement_gate& operator=(statement_gate&& other) noexcept {
    state_.store(other.state_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    why_ = std::exchange(other.why_, absl::OkStatus());
    return *this;
  }

  // Before a statement: ok, or why the connection was revoked (nothing may
  // be sent then). Each ok enter() is paired with one leave().
  [[nodiscard]] absl::Status enter() noexcept {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    while ((s & revoked_bit) == 0) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire)) return absl::OkStatus();
    }
    std::lock_guard lk(why_lock_);
    return why_;
  }
  void leave() noexcept { state_.fetch_sub(1, std::memory_order_release); }

  // Refuses every later statement with `why`. Returns true when no statement
  // is running, so the revoker may use the connection at once.
  bool revoke(absl::Status why) noexcept {
    {
      std::lock_guard lk(why_lock_);
      why_ = std::move(why);
    }
    return (state_.fetch_or(revoked_bit, std::memory_order_acq_rel) & ~revoked_bit) == 0;
  }
  // Whether a statement is running now.
  [[nodiscard]] bool busy() const noexcept {
    return (state_.load(std::memory_order_acquire) & ~revoked_bit) != 0;
  }
  [[nodiscard]] bool revoked() const noexcept {
    return (state_.load(std::memory_order_acquire) & revoked_bit) != 0;
  }
  // Lets statements through again; the pool calls it before it reuses the
  // connection for someone else.
  void restore() noexcept { state_.fetch_and(~revoked_bit, std::memory_order_release); }

 private:
  static constexpr std::uint32_t revoked_bit = 1u << 31;
  std::atomic<std::uint32_t> state_{0};  // revoked_bit | statements running
  std::mutex why_lock_;                  // guards why_ (read only once revoked)
  absl::Status why_;
};

// Passes a statement through a gate: ok() says whether it may run.
class gate_pass {
 public:
  explicit gate_pass(statement_gate& g) noexcept : gate_(g), status_(g.enter()) {}
  ~gate_pass() {
    if (status_.ok()) gate_.leave();
  }
  gate_pass(const gate_pass&) = delete;
  gate_pass& operator=(const gate_pass&) = delete;
  [[nodiscard]] bool ok() const noexcept { return status_.ok(); }
  [[nodiscard]] const absl::Status& status() const noexcept { return status_; }

 private:
  statement_gate& gate_;
  absl::Status status_;
};

}  // namespace sandpool

#pragma GCC visibility pop
