// A start/stop owner: a dedicated thread that checks out a connection (the
// sandbox on, by default) and holds it until stop(), for suites whose worker
// threads, fibers or server handlers outlive any one test function. It owns
// the rule that the connection's ownership is tied to that thread, not to
// whoever called start(): the caller may end, and others keep using the
// connection through context(), adopt() or token(), until stop() checks in
// (the sandbox's ROLLBACK) on the owner thread.
//
// The owner holds its connection like any owner: mind ownership_timeout
// (default 120 s; sandpool::infinite for suite-long owners).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/ownership/decorator.hpp"
#include "sandpool/ownership/options.hpp"
#include "sandpool/pool.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

template <class Pool>
class basic_owner_thread {
 public:
  // Starts the owner thread and waits until it has checked out. Errors: the
  // checkout's (e.g. the safeguard refusing the database), or the owner
  // already owning (impossible for a fresh thread).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<basic_owner_thread>> start(
      Pool& pool, checkout_options opts = {}) {
    std::unique_ptr<basic_owner_thread> self(new basic_owner_thread(pool));
    self->thread_ = std::thread([p = self.get(), opts] { p->hold(opts); });
    std::unique_lock lk(self->lock_);
    self->cv_.wait(lk, [&] { return self->state_ != state::starting; });
    if (self->state_ == state::stopped) {
      lk.unlock();
      self->thread_.join();
      return self->result_;
    }
    return self;
  }

  basic_owner_thread(const basic_owner_thread&) = delete;
  basic_owner_thread& operator=(const basic_owner_thread&) = delete;
  // Stops the owner if stop() was not called; its error is dropped.
  ~basic_owner_thread() { (void)stop(); }

  // For adopt() in a thread or fiber (e.g. one that starts later).
  const ownership_context& context() const noexcept { return context_; }
  // An opaque token for the owner's connection (pool.ownership().adopt_token).
  const std::string& token() const noexcept { return token_; }
  // Allows the calling thread or fiber on the owner's connection.
  [[nodiscard]] absl::Status adopt() { return pool_.ownership().adopt(context_); }

  // Checks in on the owner thread (the sandbox rolls back; its error, e.g.
  // a transaction ended behind its back, is returned) and joins it. Callers
  // allowed on the connection lose it. Idempotent: later calls return ok.
  // Thread-safe, but not from a fiber or thread that holds a lease on the
  // owner's connection (checkin waits for nobody; the rollback would wait).
  [[nodiscard]] absl::Status stop() {
    {
      std::unique_lock lk(lock_);
      if (state_ != state::holding) return absl::OkStatus();
      state_ = state::stopping;
      cv_.notify_all();
      cv_.wait(lk, [&] { return state_ == state::stopped; });
    }
    if (thread_.joinable()) thread_.join();
    return std::exchange(result_, absl::OkStatus());
  }

 private:
  enum class state { starting, holding, stopping, stopped };

  explicit basic_owner_thread(Pool& pool) : pool_(pool) {}

  // The owner thread's whole life.
  void hold(checkout_options opts) {
    auto& own = pool_.ownership();
    auto r = own.checkout(opts);
    absl::Status failed = r.status();
    if (r.ok()) {
      auto ctx = own.capture();
      auto tok = own.token();
      failed = !ctx.ok() ? ctx.status() : tok.status();
      if (failed.ok()) {
        context_ = *ctx;
        token_ = *tok;
      } else {
        (void)own.checkin();
      }
    }
    std::unique_lock lk(lock_);
    if (!failed.ok()) {
      result_ = failed;
      state_ = state::stopped;
      cv_.notify_all();
      return;
    }
    state_ = state::holding;
    cv_.notify_all();
    cv_.wait(lk, [&] { return state_ == state::stopping; });
    lk.unlock();
    absl::Status s = own.checkin();
    lk.lock();
    result_ = std::move(s);
    state_ = state::stopped;
    cv_.notify_all();
  }

  Pool& pool_;
  std::thread thread_;
  std::mutex lock_;  // guards state_ and result_
  std::condition_variable cv_;
  state state_ = state::starting;
  absl::Status result_;  // the checkout's error, or checkin's
  ownership_context context_;
  std::string token_;
};

using owner_thread = basic_owner_thread<pool>;

}  // namespace sandpool

#pragma GCC visibility pop
