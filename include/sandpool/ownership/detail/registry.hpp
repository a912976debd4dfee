// The ownership registry: who owns which connection, who is allowed on it,
// who is taking turns on it, what is known about owners that lost theirs,
// the tokens, the mode and the ownership deadlines. It is plain state with
// no I/O, no locks, no clock and no callbacks: every operation takes the
// time, updates the state, decides, and returns its answer plus the effects
// its caller must run (see effects.hpp). Connections are named by id; the
// caller maps ids to its own handles. Not thread-safe: the ownership shell
// calls it under its lock.
//
// A connection's life in the registry: owned (by one owner, with turns) ->
// revoking (its owner lost it: its leases are refused, a statement still
// running is cancelled or waited for) -> returning (going back to the
// pool) -> returned (kept only while a lease or an effect refers to it)
// -> dropped. end() is the one transition out of owned.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "sandpool/core/source_location.hpp"
#include "sandpool/ownership/detail/effects.hpp"
#include "sandpool/ownership/detail/messages.hpp"
#include "sandpool/ownership/mode.hpp"
#include "sandpool/ownership/options.hpp"
#include "sandpool/ownership/token.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::detail {

using reg_time = std::chrono::nanoseconds;  // the pool clock's time since its epoch

struct registry_options {
  std::string pool;                        // the pool's name, for messages
  std::chrono::nanoseconds ownership_timeout = std::chrono::nanoseconds::max();
  std::chrono::nanoseconds warn_before = std::chrono::nanoseconds::zero();
  bool events = false;     // build event texts (on_event is set)
  bool expire_waits = false;  // expire() fails turn waits (manual clocks)
  // How soon expire() looks again at a revoked connection whose statement
  // still runs.
  std::chrono::nanoseconds recheck = std::chrono::milliseconds(2);
};

// The answer to a lease request.
struct lease_answer {
  enum class kind : std::uint8_t {
    fresh,    // check a connection of its own out of the pool (auto mode)
    turn,     // the caller holds the turn on `conn`
    wait,     // queue for the turn on `conn` (enqueue(), then wait)
    refused,  // `error` says why
  };
  kind how = kind::fresh;
  conn_id conn = 0;
  void* tag = nullptr;  // the caller's tag for `conn` (see add())
  absl::Status error;
};

class registry {
 public:
  explicit registry(registry_options o);

  // Auto mode and nobody registered: a lease may skip the registry.
  [[nodiscard]] bool trivial() const noexcept;

  // --- Leases and turns.
  [[nodiscard]] lease_answer lease(owner_id caller, const source_location& site, reg_time now);
  void enqueue(conn_id c, waiter_id w, owner_id caller, const source_location& site,
               reg_time now, reg_time deadline);
  // The waiter gave up at its deadline: the turn timeout error, or ok if it
  // was granted or failed meanwhile (its own record says which).
  [[nodiscard]] absl::Status leave(conn_id c, waiter_id w, reg_time now, effects& fx);
  // `now` is read only if the turn passes to a waiter.
  void end_turn(conn_id c, absl::FunctionRef<reg_time()> now, effects& fx);
  void end_turn(conn_id c, reg_time now, effects& fx) {
    end_turn(c, [now] { return now; }, fx);
  }

  // --- Explicit checkout and checkin.
  // A repeat checkout's answer (already owner/allowed), or nullopt: proceed.
  [[nodiscard]] std::optional<checkout_result> repeat_checkout(owner_id caller);
  // Registers the connection the pool gave `caller`; lease answers for it
  // carry `tag` (the caller's handle), so the caller needs no lookup.
  conn_id add(owner_id caller, std::string label, const source_location& site, reg_time now,
              void* tag, effects& fx);
  conn_id add(owner_id caller, std::string label, const source_location& site, reg_time now,
              effects& fx) {
    return add(caller, std::move(label), site, now, nullptr, fx);
  }
  // Ends the caller's ownership. Errors: it owns nothing (naming why).
  [[nodiscard]] absl::Status checkin(owner_id caller, reg_time now, effects& fx);

  // --- Allowances, contexts and tokens.
  [[nodiscard]] absl::StatusOr<allow_result> allow(owner_id owner_or_allowed, owner_id other,
                                                   allow_options o, effects& fx);
  void unallow(owner_id other, effects& fx);
  [[nodiscard]] absl::StatusOr<ownership_context> capture(owner_id caller) const;
  [[nodiscard]] absl::Status adopt(owner_id caller, owner_id owner, reg_time now, effects& fx);
  [[nodiscard]] absl::StatusOr<token_parts> issue_token(owner_id caller,
                                                        const std::array<std::uint8_t, 16>& secret);
  [[nodiscard]] absl::Status adopt_token(owner_id caller, const token_parts& t, effects& fx);
  void revoke_token(const token_parts& t);

  // --- Mode, owner exit, shutdown, the reaper.
  [[nodiscard]] absl::Status set_mode(mode m, reg_time now, effects& fx);
  [[nodiscard]] const mode& current_mode() const noexcept { return mode_; }
  void owner_ended(owner_id owner, reg_time now, effects& fx);
  void close(reg_time now, effects& fx);
  // Takes back connections past their deadline, warns, rechecks revoked
  // connections, expires turn waits if asked. Returns when it is next due.
  [[nodiscard]] reg_time expire(reg_time now, effects& fx);

  // --- Reports of effects run outside the lock.
  void revoked(conn_id c, revoke_report r, effects& fx);
  void returned(conn_id c, effects& fx);

  // The connection `caller`'s leases use (own, allowed or shared); 0: none.
  [[nodiscard]] conn_id root_conn(owner_id caller) const;
  [[nodiscard]] bool empty() const noexcept { return conns_.empty(); }
  [[nodiscard]] ownership_metrics metrics() const;

 private:
  struct turn_wait {
    waiter_id id = 0;
    owner_id caller = 0;
    source_location site{};
    reg_time enqueued{}, deadline{};
  };
  enum class phase : std::uint8_t { owned, revoking, returning, returned };
  struct conn_rec {
    owner_id owner = 0;
    void* tag = nullptr;
    std::string label;
    source_location site{};          // where the owner checked out
    reg_time since{}, deadline{};    // deadline is max without a timeout
    std::chrono::nanoseconds limit{};
    bool warned = false;
    owner_id holder = 0;             // who holds the turn (0: nobody)
    unsigned depth = 0;              // the holder's re-entrant turns
    source_location holder_site{};
    reg_time holder_since{};
    std::deque<turn_wait> waiters;   // FIFO
    std::vector<owner_id> allowed;   // callers allowed on it
    phase at = phase::owned;
    unsigned outside = 0;            // its effects running outside the lock
    bool checkin_hook = false;       // run the decorator's checkin on return
    bool cancelled = false;          // a statement was cancelled: close it
    absl::Status refusal;            // why its leases are refused, once ended
  };
  struct ended_record {
    ended_owner info;
    reg_time when{};
    bool timeout_reported = false;  // the owner was told of its timeout once
  };
  // A caller allowed on one checkout of an owner; when that checkout ends,
  // `gone` says why, even if the owner checks out again later.
  struct allowance {
    owner_id owner = 0;
    std::shared_ptr<const ended_record> gone;
  };
  struct token_record {
    owner_id owner = 0;
    std::array<std::uint8_t, 16> secret{};
  };
  // What decide() reads.
  struct view {
    const registry* self;
    bool owns(owner_id id) const { return self->owners_.contains(id); }
    owner_id allowed_on(owner_id id) const {
      auto it = self->allowances_.find(id);
      return it == self->allowances_.end() ? 0 : it->second.owner;
    }
    bool allowance_live(owner_id id) const {
      auto it = self->allowances_.find(id);
      return it != self->allowances_.end() && it->second.gone == nullptr;
    }
  };

  void end(conn_id id, conn_rec& r, end_reason why, reg_time now, effects& fx);
  void start_return(conn_id id, conn_rec& r, effects& fx);
  void maybe_drop(conn_id id, conn_rec& r, effects& fx);
  void grant_next(conn_id id, conn_rec& r, reg_time now, effects& fx);
  lease_answer take_turn(conn_id id, conn_rec& r, owner_id caller, const source_location& site,
                         reg_time now);
  owner_id root_of(owner_id caller) const;
  absl::StatusOr<allow_result> allow_root(owner_id root, owner_id other, allow_options o,
                                          effects& fx);
  void drop_allowance(owner_id caller);
  absl::Status gone_error(owner_id caller, owner_id owner, reg_time now) const;
  absl::Status reported_timeout(owner_id caller, reg_time now);
  absl::Status turn_timeout(const conn_rec& r, const turn_wait& w, reg_time now) const;
  void emit(effects& fx, ownership_event::kind k, owner_id owner, std::string text) const;
  conn_rec* find(conn_id id);

  const registry_options options_;
  mode mode_ = auto_mode{};
  conn_id next_conn_ = 1;
  absl::node_hash_map<conn_id, conn_rec> conns_;  // every connection not yet dropped
  struct owned {
    conn_id id = 0;
    conn_rec* rec = nullptr;  // node_hash_map: stable until the record is erased
  };
  absl::flat_hash_map<owner_id, owned> owners_;  // owner -> its owned connection
  absl::flat_hash_map<owner_id, allowance> allowances_;  // caller -> root owner
  absl::flat_hash_map<owner_id, ended_record> ended_;   // owners that lost their connection
  absl::flat_hash_map<std::uint64_t, token_record> tokens_;
  std::uint64_t next_token_ = 1;
  std::set<std::pair<reg_time, conn_id>> deadlines_;  // the reaper's queue, earliest first
  ownership_metrics counters_;
};

}  // namespace sandpool::detail

#pragma GCC visibility pop
