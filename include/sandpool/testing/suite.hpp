// A test suite's database mode, independent of the test framework (doctest.hpp
// and gtest.hpp adapt it). A suite names a pool and how its tests use it:
//   sandboxed   manual mode; each test owns a sandboxed connection, rolled
//               back after it; its workers must be allowed (spawn_thread)
//   shared      the same, and every thread shares the test's connection, so
//               background workers need nothing
//   unsandboxed auto mode, as in production: every caller has a connection
//               of its own and every write commits; a cleanup strategy
//               empties the tables after each test or after the suite
// It owns two rules: a sandboxed test never runs on a connection that is not
// in a sandbox transaction (a pool without a sandbox is refused, not
// committed to), and an each_suite cleanup that is due runs before any other
// suite's test starts, so no suite sees another's committed rows.
//
// Tests of one process run one at a time (as doctest and GoogleTest run
// them); begin_test and end_test are called on the test's thread.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "sandpool/pool.hpp"
#include "sandpool/testing/cleanup.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::testing {

enum class suite_mode {
  sandboxed,    // each test owns a sandboxed connection (manual mode)
  shared,       // each test's sandboxed connection is shared by every thread
  unsandboxed,  // auto mode, real commits, cleanup afterwards
};

struct suite_options {
  suite_mode mode = suite_mode::sandboxed;
  // What unsandboxed tests leave behind is removed with this (ignored by the
  // other modes). Its `when` says after each test or after the suite. The
  // plan (which tables, in which order) is made at the suite's first cleanup
  // and reused: a table created by a test after that is not cleaned.
  cleanup_strategy cleanup{};
};

class suite {
 public:
  // The pool the tests use, made on first use (a function, so that a suite
  // can be declared at namespace scope before any pool exists).
  using pool_source = std::function<sandpool::pool&()>;

  suite(std::string name, pool_source pool, suite_options options = {})
      : name_(std::move(name)), source_(std::move(pool)), options_(std::move(options)) {}
  suite(const suite&) = delete;
  suite& operator=(const suite&) = delete;

  const std::string& name() const noexcept { return name_; }
  const suite_options& options() const noexcept { return options_; }
  sandpool::pool& pool() { return source_(); }

  // Prepares the calling thread for one test: runs another suite's due
  // cleanup, switches the pool's mode, and (sandboxed, shared) checks out a
  // sandboxed connection. Errors, each naming the suite: the other suite's
  // cleanup; the checkout's (e.g. the safeguard refusing the database); the
  // pool has no sandbox installed; the mode switch's. On error nothing is
  // left checked out.
  [[nodiscard]] absl::Status begin_test() {
    if (absl::Status s = run_due_cleanup(this); !s.ok()) return s;
    auto& own = pool().ownership();
    if (options_.mode == suite_mode::unsandboxed) {
      if (absl::Status s = switch_mode(auto_mode{}); !s.ok()) return s;
      in_test_ = true;
      return absl::OkStatus();
    }
    if (absl::Status s = switch_mode(manual_mode{}); !s.ok()) return s;
    auto r = own.checkout(checkout_options{.sandbox = true});
    if (!r.ok()) return context(r.status(), "could not check out the test's connection");
    if (absl::Status s = require_sandboxed(); !s.ok()) {
      (void)own.checkin();
      return s;
    }
    if (options_.mode == suite_mode::shared) {
      if (absl::Status s = own.set_mode(shared_mode{current_owner()}); !s.ok()) {
        (void)own.checkin();
        return context(s, "could not share the test's connection");
      }
    }
    in_test_ = true;
    return absl::OkStatus();
  }

  // Ends the test begun on this thread: checks in (the sandbox rolls back;
  // shared mode reverts to manual), or for unsandboxed suites runs the
  // cleanup now (each_test) or marks it due (each_suite). A no-op if
  // begin_test failed. Errors, naming the suite: checkin's (e.g. the test
  // ended the sandbox's transaction itself), the cleanup's.
  [[nodiscard]] absl::Status end_test() {
    if (!std::exchange(in_test_, false)) return absl::OkStatus();
    if (options_.mode != suite_mode::unsandboxed) {
      if (absl::Status s = pool().ownership().checkin(); !s.ok())
        return context(s, "checkin after the test failed");
      return absl::OkStatus();
    }
    if (options_.cleanup.when == cleanup_when::each_test) return clean();
    std::lock_guard lk(due_lock());
    due() = this;
    return absl::OkStatus();
  }

  // Runs this suite's each_suite cleanup if it is due. Idempotent. Errors:
  // the cleanup's.
  [[nodiscard]] absl::Status finish() {
    {
      std::lock_guard lk(due_lock());
      if (due() != this) return absl::OkStatus();
    }
    return run_due_cleanup(nullptr);
  }

  // Runs whichever each_suite cleanup is due, of any suite (at the end of a
  // test run). Errors: the cleanup's.
  [[nodiscard]] static absl::Status finish_all() { return run_due_cleanup(nullptr); }

 private:
  // Runs the due cleanup unless it belongs to `keep` (a suite that goes on).
  static absl::Status run_due_cleanup(suite* keep) {
    suite* s = nullptr;
    {
      std::lock_guard lk(due_lock());
      if (due() == nullptr || due() == keep) return absl::OkStatus();
      s = std::exchange(due(), nullptr);
    }
    return s->clean();
  }

  // The cleanup, on a connection of the pool's own (auto mode), with the
  // plan made once per suite; a plan gone stale (a table dropped) is made
  // again once.
  absl::Status clean() {
    if (absl::Status s = switch_mode(auto_mode{}); !s.ok()) return s;
    auto lease = pool().checkout();
    if (!lease.ok()) return context(lease.status(), "could not get a connection to clean up");
    absl::Status s = absl::OkStatus();
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!plan_) {
        auto p = plan_cleanup(**lease, options_.cleanup);
        if (!p.ok()) return context(p.status(), "cleanup failed");
        plan_ = *std::move(p);
      }
      s = run_cleanup(**lease, *plan_);
      if (s.ok() || s.code() != absl::StatusCode::kInvalidArgument) break;
      plan_.reset();  // e.g. a table of the plan was dropped: plan again
    }
    return s.ok() ? s : context(s, "cleanup failed");
  }

  absl::Status switch_mode(const mode& m) {
    auto& own = pool().ownership();
    if (own.current_mode() == m) return absl::OkStatus();
    if (absl::Status s = own.set_mode(m); !s.ok())
      return context(s, "could not switch the pool's mode");
    return absl::OkStatus();
  }

  // The connection the test owns must be in a transaction, the sandbox's,
  // or about to open it with the test's first statement.
  absl::Status require_sandboxed() {
    auto lease = pool().checkout();
    if (!lease.ok()) return context(lease.status(), "could not use the test's connection");
    if ((*lease)->server_transaction_status() == tx_status::in_transaction ||
        (*lease)->opening_deferred())
      return absl::OkStatus();
    return absl::FailedPreconditionError(
        "test suite '" + name_ + "' (" + mode_text() + ") on pool '" + pool().options().name +
        "': the test's connection is not in a sandbox transaction, so its writes would "
        "commit; install the sandbox where the test pool is made "
        "(sandpool::install_sandbox(pool)), or declare the suite unsandboxed with a cleanup "
        "strategy");
  }

  std::string mode_text() const {
    switch (options_.mode) {
      case suite_mode::sandboxed:
        return "sandboxed";
      case suite_mode::shared:
        return "shared";
      case suite_mode::unsandboxed:
        return "unsandboxed";
    }
    return "?";
  }

  // The error with the suite named first; code and payloads (the
  // SQLSTATE) kept.
  absl::Status context(const absl::Status& s, const std::string& what) const {
    const absl::string_view msg = s.message();
    absl::Status out(s.code(), "test suite '" + name_ + "' (" + mode_text() + "): " + what + ": " +
                                   std::string(msg.data(), msg.size()));
    s.ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
    return out;
  }

  static std::mutex& due_lock() {
    static std::mutex m;  // guards due()
    return m;
  }
  // The unsandboxed each_suite suite whose cleanup has not run yet.
  static suite*& due() {
    static suite* s = nullptr;
    return s;
  }

  const std::string name_;
  const pool_source source_;
  const suite_options options_;
  std::optional<cleanup_plan> plan_;
  bool in_test_ = false;
};

}  // namespace sandpool::testing

#pragma GCC visibility pop
