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
#include "sandpool/ownership/owner.hpp"

namespace sandpool::test::model {

enum class mode_kind {
  automatic,  // auto_mode
  manual,     // manual_mode
  shared,     // shared_mode{shared owner}
};

// Why an owner's hold on its connection ended; allowed callers are told.
enum class end_why { checked_in, ended, timed_out, mode_switch };

// The words the owner-gone error uses for each reason.
inline const char* end_text(end_why w) {
  switch (w) {
    case end_why::checked_in: return "checked its connection in";
    case end_why::ended: return "ended (its thread or fiber exited)";
    case end_why::timed_out: return "lost its connection to the reaper";
    case end_why::mode_switch: return "had its connection checked in by set_mode()";
  }
  return "";
}

// What an operation must produce.
struct expected {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string value;                   // ok: the value it returns, if any
  std::vector<std::string> fragments;  // error: words the message must contain
  bool lease = false;                  // a lease: on conn_of's connection, or fresh if 0
  owner_id conn_of = 0;
  std::string label;                   // the case, for coverage counts
};

class reference {
 public:
  explicit reference(std::chrono::nanoseconds ownership_timeout) : timeout_(ownership_timeout) {}

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
    end_hold(caller, end_why::checked_in);
    return value("", "checkin: checked in");
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
    if (holds_.contains(caller)) return lease_on(caller, "lease: own");
    if (auto it = grants_.find(caller); it != grants_.end()) {
      if (live(it->second)) return lease_on(it->second.root, "lease: allowed");
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
        return lease_on(0, "lease: fresh");
      case mode_kind::manual:
        return error(absl::StatusCode::kFailedPrecondition, {"is in manual mode and", "checkout()"},
                     "lease: unowned");
      case mode_kind::shared:
        return lease_on(shared_, "lease: shared");
    }
    return {};
  }

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
      return {};
    }
    hold& h = holds_.at(e.conn_of);
    if (h.conn == 0) {
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
  void end_hold(owner_id owner, end_why why) {
    ended_[{owner, holds_.at(owner).gen}] = why;
    holds_.erase(owner);
    if (mode_ == mode_kind::shared && shared_ == owner) {
      mode_ = mode_kind::manual;  // the shared owner is gone
      shared_ = 0;
    }
  }
  // A lease on `owner`'s connection (0: a fresh one).
  static expected lease_on(owner_id owner, std::string label) {
    expected e;
    e.lease = true;
    e.conn_of = owner;
    e.label = std::move(label);
    return e;
  }
  static expected value(std::string v, std::string label) {
    expected e;
    e.value = std::move(v);
    e.label = std::move(label);
    return e;
  }
  static expected error(absl::StatusCode code, std::vector<std::string> fragments,
                        std::string label) {
    expected e;
    e.code = code;
    e.fragments = std::move(fragments);
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
  std::uint64_t timeouts_ = 0, reclaims_ = 0;
};

}  // namespace sandpool::test::model
