// The ownership layer: who may use which connection. The decisions live in
// detail::registry, plain state with no I/O; this class is its shell: it
// takes the lock, calls the registry, releases the lock, and runs what the
// registry decided (grant a turn, return a connection, cancel a statement,
// report an event). Owners are threads and fibers; when one ends, or
// exceeds ownership_timeout, or checks in, its connection is taken back at
// once: leases still held on it are refused, a statement still running is
// cancelled, and the connection is rolled back and returned as soon as no
// statement runs. A reaper on the pool's housekeeping thread enforces the
// timeout. All public functions are thread-safe.
//
// Locks: lock_ guards the registry, the handles, the decorator pointer and
// the flags below. Nothing outward runs under it (no decorator, no core, no
// user callback), so it never nests with another lock.
//
// In auto mode with nobody owning or allowed, a checkout skips all of this
// after one relaxed load (trivial()): production pays nothing for it.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/operations.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "sandpool/core/clock.hpp"
#include "sandpool/core/detail/deadline.hpp"
#include "sandpool/core/detail/fiber_notify.hpp"
#include "sandpool/core/detail/spinlock.hpp"
#include "sandpool/core/driver.hpp"
#include "sandpool/core/lease.hpp"
#include "sandpool/core/source_location.hpp"
#include "sandpool/core/statement_gate.hpp"
#include "sandpool/ownership/decorator.hpp"
#include "sandpool/ownership/detail/registry.hpp"
#include "sandpool/ownership/mode.hpp"
#include "sandpool/ownership/options.hpp"
#include "sandpool/ownership/owner.hpp"
#include "sandpool/ownership/token.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

template <class Core>
class basic_ownership : public owner_exit_listener,
                        public std::enable_shared_from_this<basic_ownership<Core>> {
 public:
  using lease_type = basic_lease<Core>;
  using time_point = typename Core::time_point;
  using lock_type = std::unique_lock<detail::spinlock>;
  using connection = typename Core::connection;
  using decorator_type = checkout_decorator<connection>;

  basic_ownership(Core& core, ownership_options options)
      : core_(core),
        options_(std::move(options)),
        registry_({.pool = std::string(core.options().name),
                   .ownership_timeout = options_.ownership_timeout,
                   .warn_before = options_.warn_before,
                   .events = static_cast<bool>(options_.on_event),
                   .expire_waits = manual_time<typename Core::clock_type>}) {}
  ~basic_ownership() override = default;

  // True when checkouts can bypass ownership entirely (auto mode, nobody
  // owns or is allowed anything). One relaxed load.
  bool trivial() const noexcept { return trivial_.load(std::memory_order_relaxed); }

  // The connection this caller should use, for one lease: a fresh one in
  // auto mode, else a turn on its own, its owner's or the shared owner's
  // connection. Errors: the unowned-access error (manual mode), owner gone,
  // ownership timed out, turn wait timed out (naming the holder). Once the
  // owner loses the connection, every statement through a lease still held
  // on it fails with why (e.g. DeadlineExceeded naming ownership_timeout).
  [[nodiscard]] absl::StatusOr<lease_type> lease(std::chrono::nanoseconds timeout,
                                                 source_location site);

  // Makes the calling thread or fiber the owner of one connection until it
  // checks in, ends, or exceeds ownership_timeout. Waits for a connection
  // like any checkout. Repeats are values: already_owner / already_allowed.
  [[nodiscard]] absl::StatusOr<checkout_result> checkout(
      source_location site = source_location::current()) {
    return checkout(checkout_options{}, site);
  }
  // The same, with options (sandbox on or off). Errors also include the
  // decorator's (e.g. the sandbox's safeguard refusing a database).
  [[nodiscard]] absl::StatusOr<checkout_result> checkout(
      checkout_options opts, source_location site = source_location::current());

  // Installs the decorator run around explicit checkouts (the sandbox).
  // Set it before anyone checks out. Thread-safe.
  void set_decorator(std::shared_ptr<decorator_type> d) {
    lock_type lk(lock_);
    decorator_ = std::move(d);
  }

  // Returns the caller's connection, rolled back. Allowed callers lose
  // access. If an allowed caller is running a statement on it, that
  // statement is cancelled and checkin waits (up to checkout_timeout, at
  // most 10 s) for it to end before rolling back; the on_event log says so.
  // Errors: FailedPrecondition if the caller owns nothing (naming the owner
  // it is allowed on, if any); the decorator's checkin error.
  [[nodiscard]] absl::Status checkin();

  // Lets `other` use the connection of `owner_or_allowed` (resolved to its
  // owner, so allowances are transitive). Errors: the giver has nothing;
  // `other` owns a connection; `other` is allowed elsewhere (unless
  // unallow_existing); `other` is not a live thread or fiber.
  [[nodiscard]] absl::StatusOr<allow_result> allow(owner_id owner_or_allowed, owner_id other,
                                                   allow_options opts = {});
  // Removes `other`'s allowance, if any.
  [[nodiscard]] absl::Status unallow(owner_id other) {
    return locked([&](detail::effects& fx) {
      registry_.unallow(other, fx);
      return absl::OkStatus();
    });
  }

  // Switches the mode. auto/manual check in every owner; shared_mode{o}
  // needs o to have checked out and checks in every other owner. Shared
  // mode reverts to manual when its owner ends or checks in.
  [[nodiscard]] absl::Status set_mode(mode m) {
    return locked([&](detail::effects& fx) { return registry_.set_mode(std::move(m), now(), fx); });
  }
  mode current_mode() const {
    lock_type lk(lock_);
    return registry_.current_mode();
  }

  // Captures the caller's ownership (own, allowed or shared) so that a
  // thread or fiber started later can adopt it. Errors: the caller has none.
  [[nodiscard]] absl::StatusOr<ownership_context> capture() const {
    const owner_id caller = current_owner();
    lock_type lk(lock_);
    return registry_.capture(caller);
  }
  // Allows the calling context on a captured owner's connection (moving it
  // off any other). Errors: as allow(); if that owner has ended, later use
  // reports when and why.
  [[nodiscard]] absl::Status adopt(const ownership_context& ctx) {
    const owner_id caller = current_owner();
    (void)on_owner_exit(caller, this->weak_from_this());
    return locked([&](detail::effects& fx) { return registry_.adopt(caller, ctx.owner, now(), fx); });
  }

  // An opaque token naming the caller's owner's connection; see token.hpp.
  [[nodiscard]] absl::StatusOr<std::string> token() {
    const owner_id caller = current_owner();
    const auto secret = random_secret();  // a syscall: before the lock
    lock_type lk(lock_);
    auto t = registry_.issue_token(caller, secret);
    lk.unlock();
    if (!t.ok()) return t.status();
    return encode_token(*t);
  }
  // Allows the calling context via a token. Errors: PermissionDenied for a
  // malformed, unknown, revoked or expired token (the token is never echoed).
  [[nodiscard]] absl::Status adopt_token(std::string_view text) {
    const auto t = parse_token(text);
    if (!t) return detail::token_error(pool_name(), "the sandbox token is malformed");
    const owner_id caller = current_owner();
    (void)on_owner_exit(caller, this->weak_from_this());
    return locked([&](detail::effects& fx) { return registry_.adopt_token(caller, *t, fx); });
  }
  // Invalidates a token; callers already allowed through it stay allowed.
  [[nodiscard]] absl::Status revoke(std::string_view text) {
    const auto t = parse_token(text);
    if (!t) return detail::token_error(pool_name(), "the sandbox token is malformed");
    lock_type lk(lock_);
    registry_.revoke_token(*t);
    return absl::OkStatus();
  }

  // Calls f(const connection&) on the connection the caller's leases use
  // (its own, its owner's or the shared owner's) and returns whether there
  // is one. f runs under the ownership lock, possibly while another caller
  // runs a statement on that connection: it may only read what is fixed for
  // the connection's life (pq::connection::backend_pid()), never send
  // anything. Thread-safe.
  template <class F>
  bool inspect_caller_connection(F&& f) const {
    const owner_id caller = current_owner();
    lock_type lk(lock_);
    const detail::conn_id id = registry_.root_conn(caller);
    if (id == 0) return false;
    std::forward<F>(f)(static_cast<const connection&>(*handles_.at(id)->conn));
    return true;
  }

  // One reaper round: takes back connections past their deadline, looks
  // again at revoked ones whose statement still ran, and expires turn waits
  // (manual clocks). Returns when the next is due.
  time_point reap(time_point t) {
    detail::reg_time next{};
    (void)locked([&](detail::effects& fx) {
      next = registry_.expire(
          std::chrono::duration_cast<detail::reg_time>(t.time_since_epoch()), fx);
      return absl::OkStatus();
    });
    if (next == detail::reg_time::max()) return time_point::max();
    return time_point(std::chrono::duration_cast<typename time_point::duration>(next));
  }

  ownership_metrics metrics() const {
    lock_type lk(lock_);
    return registry_.metrics();
  }

  // Checks every owner in; the layer stays alive until every connection is
  // back and every lease on one has ended.
  void close() noexcept;

  void owner_ended(owner_id owner) noexcept override {
    (void)locked([&](detail::effects& fx) {
      registry_.owner_ended(owner, now(), fx);
      return absl::OkStatus();
    });
  }

 private:
  // Whether leases can be refused while held: the connection has a
  // statement gate, and a stand-in can be made for leases still held after
  // the connection went back to the pool.
  static constexpr bool gated =
      requires(connection& c) { { c.gate() } -> std::same_as<statement_gate&>; } &&
      (std::is_constructible_v<connection, std::nullptr_t> ||
       std::is_default_constructible_v<connection>);

  // One owned connection as the shell sees it: the pool lease and the turn
  // that leases on it end. Created on checkout, freed on the registry's drop.
  struct handle final : detail::turn {
    handle(basic_ownership* s, lease_type l) : self(s), conn(std::move(l)) {
      current.store(&*conn, std::memory_order_release);
    }
    void end_turn() noexcept override { self->end_turn(*this); }
    void* connection() const noexcept override {
      return current.load(std::memory_order_acquire);
    }
    basic_ownership* self;
    detail::conn_id id = 0;
    lease_type conn;                          // the owner's lease on a pool connection
    // conn's slot, fixed for the handle's life: a waiter granted a turn may
    // make its lease after the connection went back (conn.slot_ is null then,
    // and written outside the lock).
    typename Core::slot_type* slot = nullptr;
    std::atomic<typename Core::connection*> current{nullptr};  // what turn leases reach
    std::optional<typename Core::connection> stand_in;  // refuses every statement
  };
  // A caller queued for a turn; granted or failed under the lock.
  struct turn_waiter {
    boost::fibers::condition_variable_any cv;
    bool granted = false;
    absl::Status failure;
    bool done() const noexcept { return granted || !failure.ok(); }
  };
  struct outside_job {
    detail::effect e;
    handle* h = nullptr;
  };

  detail::reg_time now() const {
    return std::chrono::duration_cast<detail::reg_time>(core_.clock().now().time_since_epoch());
  }
  std::string_view pool_name() const { return core_.options().name; }
  lease_type turn_lease(handle& h, source_location site) {
    return lease_type(&core_, h.slot, site, &h);
  }
  // Locks, runs op(effects) on the registry, and settles what it decided.
  template <class Op>
  auto locked(Op&& op) {
    lock_type lk(lock_);
    detail::effects fx;
    auto result = std::forward<Op>(op)(fx);
    settle(fx, lk);
    return result;
  }
  void end_turn(handle& h) noexcept {
    (void)locked([&](detail::effects& fx) {
      registry_.end_turn(h.id, [this] { return now(); }, fx);  // may drop h
      return absl::OkStatus();
    });
  }
  // Runs the registry's effects: those on waiters and handles under the
  // lock, the rest after releasing it. Returns with the lock released.
  // `hook` receives the decorator's checkin status, for checkin().
  void settle(detail::effects& fx, lock_type& lk, absl::Status* hook = nullptr) noexcept;
  detail::revoke_report run_revoke(const detail::effect& e, handle& h) noexcept;
  void run_give_back(const detail::effect& e, handle& h, decorator_type* d,
                     absl::Status* hook) noexcept;

  Core& core_;
  const ownership_options options_;
  mutable detail::spinlock lock_;  // guards everything below but trivial_
  std::atomic<bool> trivial_{true};
  detail::registry registry_;
  absl::flat_hash_map<detail::conn_id, std::unique_ptr<handle>> handles_;
  std::shared_ptr<decorator_type> decorator_;  // null: explicit checkouts are plain
  bool reaper_hosted_ = false;
  bool closed_ = false;
  std::shared_ptr<basic_ownership> keep_alive_;  // set while closed with connections out
};

}  // namespace sandpool

#include "sandpool/ownership/detail/ownership_shell.hpp"

#pragma GCC visibility pop
