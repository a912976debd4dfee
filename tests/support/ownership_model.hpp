// A reference model of the ownership semantics in PRODUCT.md ("Ownership
// semantics"), for model-based tests: plain maps of who holds a connection,
// who is allowed on whose, the mode, and which owners lost their connection
// to the reaper. For each operation it predicts what a user observes (a
// value, or an error code and the words its message must contain); it knows
// nothing of the pool's internals.
//
// An allowance is tied to one hold of its owner: when the owner checks in,
// ends, times out or is checked in by set_mode, the allowance stays behind
// only to say why ("owner gone"), and a later checkout by the same owner
// does not revive it. Connection ids are learned from the first lease that
// shows an owner's connection; after that every lease on it must match.
//
// Leases held across steps (ownership_model_leases.hpp) hold their
// connection's turn: another caller's lease on it waits, and with a zero
// timeout fails once the reaper looks. They are named by keys the test
// picks.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ownership_model_leases.hpp"
#include "ownership_model_types.hpp"
#include "sandpool/ownership/owner.hpp"

namespace sandpool::test::model {

class reference {
 public:
  explicit reference(std::chrono::nanoseconds ownership_timeout)
      : timeout_(ownership_timeout), leases_(ownership_timeout) {}

  void actor_started(owner_id id) { alive_.insert(id); }

  expected checkout(owner_id caller) {
    if (holds_.contains(caller)) return value("already_owner", "checkout: already owner");
    if (live_grant(caller)) return value("already_allowed", "checkout: already allowed");
    // An allowance on an owner that is gone is dropped, in shared mode too:
    // otherwise its lease keeps failing with "owner gone" although checkout
    // answered that the caller shares a connection.
    grants_.erase(caller);
    if (mode_ == mode_kind::shared) return value("already_allowed", "checkout: shares");
    holds_[caller] = hold{next_gen_++, now_};
    timed_out_.erase(caller);
    return value("checked_out", "checkout: checked out");
  }

  expected checkin(owner_id caller) {
    if (!holds_.contains(caller)) {
      // A checkin after the reaper took the connection reports the timeout
      // (once, shared with lease()).
      if (timed_out_.erase(caller) > 0)
        return error(absl::StatusCode::kDeadlineExceeded,
                     {end_text(end_why::timed_out),
                      absl::StrCat("ownership_timeout (", timeout_ / std::chrono::milliseconds(1),
                                   " ms)")},
                     "checkin: own timeout reported");
      if (grants_.contains(caller))
        return error(absl::StatusCode::kFailedPrecondition,
                     {"does not own a connection: it is allowed on"}, "checkin: allowed only");
      return error(absl::StatusCode::kFailedPrecondition, {"which owns no connection"},
                   "checkin: owns nothing");
    }
    const int unblocks = end_hold(caller, end_why::checked_in);
    expected e = value("", unblocks < 0 ? "checkin: checked in"
                                        : "checkin: waits for the cancelled statement");
    e.unblocks = unblocks;
    return e;
  }

  expected allow(owner_id giver, owner_id other, bool unallow_existing) {
    if (!alive_.contains(other))
      return error(absl::StatusCode::kNotFound, {"no such live thread or fiber"}, "allow: dead");
    const owner_id root = root_of(giver);
    if (root == 0)
      return error(absl::StatusCode::kFailedPrecondition, {"has nothing to share"},
                   "allow: from nobody");
    if (other == root) return value("already_owner", "allow: already owner");
    if (holds_.contains(other))
      return error(absl::StatusCode::kFailedPrecondition, {"owns one itself"}, "allow: onto owner");
    if (auto it = grants_.find(other); it != grants_.end()) {
      if (live(it->second)) {
        if (it->second.root == root) return value("already_allowed", "allow: already allowed");
        if (!unallow_existing)
          return error(absl::StatusCode::kFailedPrecondition,
                       {"is already allowed on the connection of", "unallow_existing"},
                       "allow: elsewhere");
      }
      grants_.erase(it);
    }
    grants_[other] = grant{root, holds_.at(root).gen};
    return value("allowed", unallow_existing ? "allow: allowed, moving" : "allow: allowed");
  }

  expected unallow(owner_id other) {
    const bool had = grants_.erase(other) > 0;
    return value("", had ? "unallow: dropped" : "unallow: nothing");
  }

  expected set_mode(mode_kind m, owner_id shared_owner = 0) {
    if (m == mode_kind::shared && !holds_.contains(shared_owner))
      return error(absl::StatusCode::kFailedPrecondition,
                   {"shared mode needs an owner with a checked-out connection"},
                   "set_mode: shared refused");
    std::vector<owner_id> others;
    for (const auto& [id, h] : holds_)
      if (m != mode_kind::shared || id != shared_owner) others.push_back(id);
    for (owner_id id : others) end_hold(id, end_why::mode_switch);
    mode_ = m;
    shared_ = m == mode_kind::shared ? shared_owner : 0;
    return value("", m == mode_kind::shared ? "set_mode: shared"
                     : m == mode_kind::manual ? "set_mode: manual"
                                              : "set_mode: auto");
  }

  expected lease(owner_id caller) {
    // An owner hears of its timeout once, before anything else it asks;
    // checking out again clears it.
    if (timed_out_.erase(caller) > 0)
      return error(absl::StatusCode::kDeadlineExceeded,
                   {end_text(end_why::timed_out),
                    absl::StrCat("ownership_timeout (", timeout_ / std::chrono::milliseconds(1),
                                 " ms)")},
                   "lease: own timeout reported");
    if (holds_.contains(caller)) return lease_on(caller, caller, "lease: own");
    if (auto it = grants_.find(caller); it != grants_.end()) {
      if (live(it->second)) return lease_on(caller, it->second.root, "lease: allowed");
      // Names the owner by its label (actors are unnamed fibers) and says
      // what ended the hold this caller was allowed on.
      const end_why why = ended_.at({it->second.root, it->second.gen});
      return error(absl::StatusCode::kFailedPrecondition,
                   {absl::StrCat("is allowed on the connection of fiber ", it->second.root, " "),
                    end_text(why)},
                   absl::StrCat("lease: owner gone, ", end_text(why)));
    }
    switch (mode_) {
      case mode_kind::automatic:
        return lease_on(caller, 0, "lease: fresh");
      case mode_kind::manual:
        return error(absl::StatusCode::kFailedPrecondition, {"is in manual mode and", "checkout()"},
                     "lease: unowned");
      case mode_kind::shared:
        return lease_on(caller, shared_, "lease: shared");
    }
    return {};
  }

  // lease() kept across steps as held lease `key`.
  expected hold_lease(owner_id caller, int key) {
    expected e = lease(caller);
    e.label.replace(0, 5, "hold");  // "lease: own" -> "hold: own"
    if (e.lease) leases_.take(key, e.conn_of, e.conn_of == 0 ? 0 : holds_.at(e.conn_of).gen, caller);
    return e;
  }
  // A held lease's connection, once the lease showed it.
  void bind(int key, int conn) { leases_.bind(key, conn); }
  // A statement through held lease `key`, ended at once (query) or kept
  // running (begin) until end_statement() or release().
  expected query(int key) { return leases_.statement(key, false, "query"); }
  expected begin(int key) { return leases_.statement(key, true, "begin"); }
  void end_statement(int key) { leases_.end_statement(key); }
  void release(int key) { leases_.release(key); }
  // A reaper round at the current time (nothing is due: advance() ran it).
  void reap() { leases_.reap(); }

  // The actor's thread or fiber ended.
  void exit(owner_id actor) {
    if (holds_.contains(actor)) {
      end_hold(actor, end_why::ended);
      ++reclaims_;
    }
    grants_.erase(actor);
    timed_out_.erase(actor);
    alive_.erase(actor);
  }

  // Time passes and the reaper runs.
  void advance(std::chrono::nanoseconds by) {
    now_ += by;
    leases_.maintained();  // housekeeping first, then the reaper
    leases_.reap();
    std::vector<owner_id> due;
    for (const auto& [id, h] : holds_)
      if (h.since + timeout_ <= now_) due.push_back(id);
    for (owner_id id : due) {
      end_hold(id, end_why::timed_out);
      timed_out_.insert(id);
      ++timeouts_;
    }
  }

  // Checks a lease's connection id against the prediction, learning an
  // owner's connection the first time a lease shows it. Returns what is
  // wrong, or an empty string.
  std::string check_lease(const expected& e, int conn) {
    if (e.conn_of == 0) {
      for (const auto& [id, h] : holds_)
        if (h.conn == conn)
          return absl::StrCat("a fresh lease got connection ", conn, ", which owner ", id,
                              " holds");
      if (leases_.fresh_on(conn))
        return absl::StrCat("a fresh lease got connection ", conn,
                            ", which a held fresh lease uses");
      return {};
    }
    hold& h = holds_.at(e.conn_of);
    if (h.conn == 0) {
      if (leases_.fresh_on(conn))
        return absl::StrCat("owner ", e.conn_of, " got connection ", conn,
                            ", which a held fresh lease uses");
      for (const auto& [id, other] : holds_)
        if (id != e.conn_of && other.conn == conn)
          return absl::StrCat("owners ", e.conn_of, " and ", id, " both hold connection ", conn);
      h.conn = conn;
      return {};
    }
    if (h.conn != conn)
      return absl::StrCat("owner ", e.conn_of, " holds connection ", h.conn, ", the lease got ",
                          conn);
    return {};
  }

  std::size_t owners() const { return holds_.size(); }
  bool owns(owner_id id) const { return holds_.contains(id); }
  // Connections in use: the owners', and those held leases keep out.
  std::size_t in_use() const { return holds_.size() + leases_.in_use(); }
  std::uint64_t turn_waits() const { return turn_waits_; }
  std::uint64_t cancels() const { return leases_.cancels(); }
  std::uint64_t closing() const { return leases_.closing(); }
  std::uint64_t replacing() const { return leases_.replacing(); }
  std::uint64_t discards() const { return leases_.discards(); }
  std::size_t allowances() const { return grants_.size(); }
  mode_kind mode() const { return mode_; }
  owner_id shared_owner() const { return shared_; }
  std::uint64_t timeouts() const { return timeouts_; }
  std::uint64_t reclaims() const { return reclaims_; }
  // The connection id an owner was seen holding (0: not seen yet).
  int connection_of(owner_id id) const {
    auto it = holds_.find(id);
    return it == holds_.end() ? 0 : it->second.conn;
  }

 private:
  struct hold {
    std::uint64_t gen = 0;  // which checkout this is: allowances name it
    std::chrono::nanoseconds since{};
    int conn = 0;  // 0 until a lease shows it
  };
  struct grant {
    owner_id root = 0;
    std::uint64_t gen = 0;
  };

  bool live(const grant& g) const {
    auto it = holds_.find(g.root);
    return it != holds_.end() && it->second.gen == g.gen;
  }
  bool live_grant(owner_id caller) const {
    auto it = grants_.find(caller);
    return it != grants_.end() && live(it->second);
  }
  // Whose connection `caller` may hand on: its own, its live owner's, or
  // (shared mode) the shared owner's; 0 if none.
  owner_id root_of(owner_id caller) const {
    if (holds_.contains(caller)) return caller;
    if (auto it = grants_.find(caller); it != grants_.end() && live(it->second))
      return it->second.root;
    if (mode_ == mode_kind::shared) return shared_;
    return 0;
  }
  // Returns the held lease whose statement a checkin waits for, or -1.
  int end_hold(owner_id owner, end_why why) {
    const std::uint64_t gen = holds_.at(owner).gen;
    ended_[{owner, gen}] = why;
    holds_.erase(owner);
    const int unblocks = leases_.hold_ended(owner, gen, why);
    if (mode_ == mode_kind::shared && shared_ == owner) {
      mode_ = mode_kind::manual;  // the shared owner is gone
      shared_ = 0;
    }
    return unblocks;
  }
  // A lease by `caller` on `owner`'s connection (0: a fresh one). It waits
  // if a held lease of another caller holds the turn; with the zero timeout
  // the test gives it, it fails when the reaper looks.
  expected lease_on(owner_id caller, owner_id owner, std::string label) {
    if (owner != 0) {
      const owner_id holder = leases_.turn_holder(owner, holds_.at(owner).gen);
      if (holder != 0 && holder != caller) {
        ++turn_waits_;
        expected e = error(absl::StatusCode::kDeadlineExceeded,
                           {"waited 0 ms for its turn on the connection of",
                            alive_.contains(holder)
                                ? absl::StrCat("which fiber ", holder, " on thread")
                                : absl::StrCat("which owner ", holder, " (ended)")},
                           absl::StrCat(label, ", waits for a held turn"));
        e.waits = true;
        return e;
      }
    }
    expected e;
    e.lease = true;
    e.conn_of = owner;
    e.label = std::move(label);
    return e;
  }
  std::chrono::nanoseconds timeout_;
  std::chrono::nanoseconds now_{};
  mode_kind mode_ = mode_kind::automatic;
  owner_id shared_ = 0;
  std::uint64_t next_gen_ = 1;
  std::map<owner_id, hold> holds_;
  std::map<owner_id, grant> grants_;  // caller -> the hold it is allowed on
  std::map<std::pair<owner_id, std::uint64_t>, end_why> ended_;
  std::set<owner_id> timed_out_;  // next lease reports the timeout, once
  std::set<owner_id> alive_;      // actors whose fiber is running
  std::uint64_t timeouts_ = 0, reclaims_ = 0, turn_waits_ = 0;
  lease_book leases_;
};

}  // namespace sandpool::test::model
