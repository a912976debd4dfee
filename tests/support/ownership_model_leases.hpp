// The reference model's leases held across steps (ownership_model.hpp), and
// what becomes of them when the hold they are on ends. A held lease on an
// owner's connection holds that connection's turn. Once the hold ends, a
// statement through the lease fails with why (DeadlineExceeded after a
// timeout, FailedPrecondition otherwise) and the connection goes back to
// the pool at once, while the lease is still held; only a statement still
// running keeps it out. That statement is cancelled: checkin waits for it
// to end (the test ends it, as the server would on the cancel) and returns
// the connection; the reaper and the other endings leave it "stuck" until
// the statement has ended and a reaper round looks again, or the last lease
// on it ends, and then the pool closes it (its session state is unknown).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ownership_model_types.hpp"

namespace sandpool::test::model {

class lease_book {
 public:
  explicit lease_book(std::chrono::nanoseconds ownership_timeout) : timeout_(ownership_timeout) {}

  // `holder` took lease `key` on the connection of (owner, gen), or a fresh
  // connection (owner 0).
  void take(int key, owner_id owner, std::uint64_t gen, owner_id holder) {
    leases_[key] = held{owner, gen, holder, 0, false, std::nullopt};
  }
  // The connection a fresh held lease got, so no owner is seen on it.
  void bind(int key, int conn) {
    if (leases_.at(key).owner == 0) leases_.at(key).conn = conn;
  }
  bool fresh_on(int conn) const {
    for (const auto& [key, l] : leases_)
      if (l.owner == 0 && l.conn == conn) return true;
    return false;
  }

  // Who holds the turn on the connection of (owner, gen) through a held
  // lease; 0: nobody.
  owner_id turn_holder(owner_id owner, std::uint64_t gen) const {
    for (const auto& [key, l] : leases_)
      if (l.owner == owner && l.gen == gen && !l.revoked) return l.holder;
    return 0;
  }

  // The hold (owner, gen) ended. Returns the held lease whose statement a
  // checkin waits for, or -1.
  int hold_ended(owner_id owner, std::uint64_t gen, end_why why) {
    int running = -1;
    for (auto& [key, l] : leases_) {
      if (l.owner != owner || l.gen != gen) continue;
      l.revoked = why;
      if (l.running) running = key;
    }
    if (running < 0) return -1;  // nothing runs: the connection is back at once
    ++cancels_;
    if (why == end_why::checked_in) {
      leases_.at(running).running = false;  // checkin waited for it to end
      return running;
    }
    stuck_.insert({owner, gen});
    return -1;
  }

  // A statement through lease `key`, kept running if `keep`.
  expected statement(int key, bool keep, const std::string& verb) {
    held& l = leases_.at(key);
    if (l.revoked) {
      const std::string on = absl::StrCat("this lease is on the connection of fiber ", l.owner, " ");
      const std::string label = absl::StrCat(verb, ": refused, ", end_text(*l.revoked));
      if (*l.revoked == end_why::timed_out)
        return error(absl::StatusCode::kDeadlineExceeded,
                     {on, absl::StrCat("past ownership_timeout (",
                                       timeout_ / std::chrono::milliseconds(1), " ms)")},
                     label);
      return error(absl::StatusCode::kFailedPrecondition, {on, end_text(*l.revoked)}, label);
    }
    if (keep) l.running = true;
    return value("", absl::StrCat(verb, l.owner == 0 ? ": runs on a fresh connection"
                                                     : ": runs on an owned connection"));
  }
  void end_statement(int key) { leases_.at(key).running = false; }

  // Lease `key` ends; the last lease on a stuck connection returns it.
  void release(int key) {
    const held l = leases_.at(key);
    leases_.erase(key);
    if (l.owner == 0 || !stuck_.contains({l.owner, l.gen})) return;
    for (const auto& [k, other] : leases_)
      if (other.owner == l.owner && other.gen == l.gen) return;
    close_stuck(l.owner, l.gen);
  }

  // A reaper round: a stuck connection whose statement has ended goes back.
  void reap() {
    const auto stuck = stuck_;
    for (const auto& [owner, gen] : stuck) {
      bool running = false;
      for (const auto& [key, l] : leases_)
        running = running || (l.owner == owner && l.gen == gen && l.running);
      if (!running) close_stuck(owner, gen);
    }
  }
  // A housekeeping round: it closes the connections returned to be closed,
  // and opens replacements for those it closed the round before.
  void maintained() {
    replacing_ = closing_;
    closing_ = 0;
  }

  // Connections in use for held leases: fresh ones and stuck ones.
  std::size_t in_use() const {
    std::size_t n = stuck_.size();
    for (const auto& [key, l] : leases_) n += l.owner == 0 ? 1 : 0;
    return n;
  }
  std::uint64_t cancels() const { return cancels_; }
  std::uint64_t closing() const { return closing_; }      // returned, not yet closed
  std::uint64_t replacing() const { return replacing_; }  // closed, not yet replaced
  std::uint64_t discards() const { return discards_; }

 private:
  struct held {
    owner_id owner = 0;  // whose connection; 0: fresh
    std::uint64_t gen = 0;
    owner_id holder = 0;  // who took it (holds the turn)
    int conn = 0;         // a fresh lease's connection
    bool running = false;  // a statement runs through it
    std::optional<end_why> revoked;
  };

  void close_stuck(owner_id owner, std::uint64_t gen) {
    stuck_.erase({owner, gen});
    ++closing_;
    ++discards_;
  }

  std::chrono::nanoseconds timeout_;
  std::map<int, held> leases_;
  std::set<std::pair<owner_id, std::uint64_t>> stuck_;  // revoked while a statement ran
  std::uint64_t cancels_ = 0, closing_ = 0, replacing_ = 0, discards_ = 0;
};

}  // namespace sandpool::test::model
