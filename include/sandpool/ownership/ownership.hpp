// The ownership layer: who may use which connection. It keeps the registry
// (owners and their connections, allowances, ended owners, tokens) and the
// run-time mode, and answers every checkout with decide(), a pure function.
// Owners are threads and fibers; when one ends, its connection is rolled
// back and returned. A reaper hosted on the pool's housekeeping thread
// enforces ownership_timeout. All public functions are thread-safe.
//
// In auto mode with nobody owning or allowed, a checkout skips all of this
// after one relaxed load (trivial()): production pays nothing for it.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/intrusive/set.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "sandpool/core/clock.hpp"
#include "sandpool/core/detail/deadline.hpp"
#include "sandpool/core/detail/fiber_notify.hpp"
#include "sandpool/core/driver.hpp"
#include "sandpool/core/detail/spinlock.hpp"
#include "sandpool/core/lease.hpp"
#include "sandpool/core/source_location.hpp"
#include "sandpool/ownership/decorator.hpp"
#include "sandpool/ownership/detail/messages.hpp"
#include "sandpool/ownership/detail/own_entry.hpp"
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
  using entry = detail::own_entry<lease_type, time_point>;
  using lock_type = std::unique_lock<detail::spinlock>;
  using connection = typename Core::connection;
  using decorator_type = checkout_decorator<connection>;

  basic_ownership(Core& core, ownership_options options)
      : core_(core), options_(std::move(options)) {}
  ~basic_ownership() override = default;

  // True when checkouts can bypass ownership entirely (auto mode, nobody
  // owns or is allowed anything). One relaxed load.
  bool trivial() const noexcept { return trivial_.load(std::memory_order_relaxed); }

  // The connection this caller should use, for one lease: a fresh one in
  // auto mode, else a turn on its own, its owner's or the shared owner's
  // connection. Errors: the unowned-access error (manual mode), owner gone,
  // ownership timed out, turn wait timed out (naming the holder).
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

  // Returns the caller's connection (rolled back by the pool). Allowed
  // callers lose access. Errors: FailedPrecondition if the caller owns
  // nothing (naming the owner it is allowed on, if any).
  [[nodiscard]] absl::Status checkin();

  // Lets `other` use the connection of `owner_or_allowed` (resolved to its
  // owner, so allowances are transitive). Errors: the giver has nothing;
  // `other` owns a connection; `other` is allowed elsewhere (unless
  // unallow_existing); `other` is not a live thread or fiber.
  [[nodiscard]] absl::StatusOr<allow_result> allow(owner_id owner_or_allowed, owner_id other,
                                                   allow_options opts = {});
  // Removes `other`'s allowance, if any.
  [[nodiscard]] absl::Status unallow(owner_id other);

  // Switches the mode. auto/manual check in every owner; shared_mode{o}
  // needs o to have checked out and checks in every other owner. Shared
  // mode reverts to manual when its owner ends or checks in.
  [[nodiscard]] absl::Status set_mode(mode m);
  mode current_mode() const;

  // Captures the caller's ownership (own, allowed or shared) so that a
  // thread or fiber started later can adopt it. Errors: the caller has none.
  [[nodiscard]] absl::StatusOr<ownership_context> capture() const;
  // Allows the calling context on a captured owner's connection (moving it
  // off any other). Errors: as allow(); if that owner has ended, later use
  // reports when and why.
  [[nodiscard]] absl::Status adopt(const ownership_context& ctx);

  // An opaque token naming the caller's owner's connection; see token.hpp.
  [[nodiscard]] absl::StatusOr<std::string> token();
  // Allows the calling context via a token. Errors: PermissionDenied for a
  // malformed, unknown, revoked or expired token (the token is never echoed).
  [[nodiscard]] absl::Status adopt_token(std::string_view token);
  // Invalidates a token; callers already allowed through it stay allowed.
  [[nodiscard]] absl::Status revoke(std::string_view token);

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
    auto it = entries_.find(root_of(caller));
    if (it == entries_.end()) return false;
    std::forward<F>(f)(static_cast<const connection&>(*it->second->conn));
    return true;
  }

  // One reaper round: takes back connections past their deadline and
  // expires turn waits (manual clocks). Returns when the next is due.
  time_point reap(time_point now);

  ownership_metrics metrics() const;

  // Checks every owner in; the layer stays alive until active turns end.
  void close() noexcept;

  void owner_ended(owner_id owner) noexcept override;

 private:
  // Why an owner lost its last checkout; kept until it checks out again or
  // its context ends.
  struct ended_record {
    detail::ended_owner info;
    time_point when{};
    bool timeout_reported = false;  // the owner was told of its timeout once
  };
  // A caller allowed on one checkout of an owner. When that checkout ends,
  // `gone` records why, so the caller is told even if the owner checks out
  // again later.
  struct allowance {
    owner_id owner = 0;
    std::shared_ptr<const ended_record> gone;
  };
  struct token_record {
    owner_id owner = 0;
    std::array<std::uint8_t, 16> secret{};
  };
  struct view {
    const basic_ownership* self;
    bool owns(owner_id id) const { return self->entries_.contains(id); }
    owner_id allowed_on(owner_id id) const {
      auto it = self->allowances_.find(id);
      return it == self->allowances_.end() ? 0 : it->second.owner;
    }
    bool allowance_live(owner_id id) const {
      auto it = self->allowances_.find(id);
      return it != self->allowances_.end() && it->second.gone == nullptr;
    }
  };
  static_assert(registry_view<view>);

  absl::StatusOr<lease_type> take_turn(entry& e, owner_id caller,
                                       std::chrono::nanoseconds timeout,
                                       source_location site, lock_type& lk);
  static void end_turn_thunk(void* self, entry& e) noexcept {
    static_cast<basic_ownership*>(self)->end_turn(e);
  }
  void end_turn(entry& e) noexcept;
  void end_entry(entry& e, detail::end_reason why, time_point now) noexcept;
  void finalize(entry& e) noexcept;
  void drop_allowance(owner_id caller) noexcept;
  owner_id root_of(owner_id caller) const;
  absl::StatusOr<allow_result> allow_locked(owner_id root, owner_id other, allow_options opts);
  absl::Status gone_error(owner_id caller, owner_id owner, time_point now) const;
  // Reports an event to on_event; `text` (a callable returning the line)
  // runs only when a callback is set.
  template <class Text>
  void emit(ownership_event::kind k, owner_id owner, Text&& text) const {
    if (options_.on_event) options_.on_event(ownership_event{k, owner, std::string(text())});
  }
  void refresh_trivial() noexcept {
    trivial_.store(std::holds_alternative<auto_mode>(mode_) && entries_.empty() &&
                       allowances_.empty() && ended_.empty(),
                   std::memory_order_relaxed);
  }
  lease_type turn_lease(entry& e, source_location site) {
    return lease_type(&core_, e.conn.slot_, site, &e);
  }
  std::string_view pool_name() const { return core_.options().name; }

  Core& core_;
  const ownership_options options_;
  mutable detail::spinlock lock_;
  std::atomic<bool> trivial_{true};
  mode mode_ = auto_mode{};
  absl::flat_hash_map<owner_id, std::unique_ptr<entry>> entries_;
  absl::flat_hash_map<owner_id, allowance> allowances_;  // caller -> root owner
  absl::flat_hash_map<owner_id, ended_record> ended_;   // owners that lost their connection
  absl::flat_hash_map<std::uint64_t, token_record> tokens_;
  std::uint64_t next_token_ = 1;
  std::vector<std::unique_ptr<entry>> draining_;  // ended, a turn still active
  boost::intrusive::multiset<entry> deadlines_;   // the reaper's queue, earliest first
  std::shared_ptr<decorator_type> decorator_;  // null: explicit checkouts are plain
  bool reaper_hosted_ = false;
  bool closed_ = false;
  std::shared_ptr<basic_ownership> keep_alive_;  // set while closed with turns out
  ownership_metrics counters_;
};

}  // namespace sandpool

#include "sandpool/ownership/detail/ownership_access.hpp"
#include "sandpool/ownership/detail/ownership_admin.hpp"

#pragma GCC visibility pop
