// A stand-in for the ownership shell, for tests that drive
// detail::registry directly: it applies the effects the registry returns
// the way basic_ownership::settle() does (grants and failures at once, the
// connection work later), runs that later work in whatever order and after
// whatever delay the test picks, reports back with the revoke report the
// test picks, and checks every effect against what the shell may rely on:
//  - an effect names a connection the registry added and has not dropped;
//  - a turn is granted to a queued waiter only (not one that left or
//    failed), on a connection nobody else holds and its owner still has;
//  - a connection is revoked only before it goes back, goes back at most
//    once, and only when no lease is held on it or the last revoke found no
//    statement running;
//  - it is dropped once, after its return was reported, with no lease,
//    waiter or unreported effect left on it;
//  - a statement it cancels is told why, naming the owner that lost it.
// A broken rule is recorded in violations(), with the effect that broke it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sandpool/ownership/detail/registry.hpp"

namespace sandpool::test {

class registry_shell_double {
 public:
  using conn_id = detail::conn_id;
  using waiter_id = detail::waiter_id;

  explicit registry_shell_double(detail::registry& r) : reg_(r) {}

  // A connection the registry just added for `owner`, labelled `label`.
  void added(conn_id c, owner_id owner, std::string label) {
    if (c == 0 || conns_.contains(c)) violate(absl::StrCat("add() returned connection ", c, " again"));
    conns_[c].owner = owner;
    conns_[c].label = std::move(label);
  }
  // A lease the registry answered `turn` on `c` for `caller`.
  void turn_taken(conn_id c, owner_id caller) {
    if (conn_state* s = live(c, "a turn"); s != nullptr) take_turn(*s, c, caller, "a turn");
  }
  // A lease the registry answered `wait`: queued as waiter `w`.
  void queued(waiter_id w, conn_id c, owner_id caller, detail::reg_time deadline) {
    waiters_[w] = {c, caller, deadline, waiter::queued};
  }
  void left(waiter_id w) { waiters_.at(w).at = waiter::left; }

  // Ends one held turn (the pick-th, modulo); false if none is held. The
  // registry's effects are left in `fx` for apply().
  bool end_turn(std::uint64_t pick, detail::reg_time now, detail::effects& fx) {
    if (turns_.empty()) return false;
    const auto at = turns_.begin() + static_cast<std::ptrdiff_t>(pick % turns_.size());
    const conn_id c = *at;
    turns_.erase(at);
    conn_state& s = conns_.at(c);
    if (--s.depth == 0) s.holder = 0;
    reg_.end_turn(c, now, fx);
    return true;
  }

  // Runs one queued job (the pick-th, modulo) and reports it, with
  // `report` if it is a revoke. Returns the job, or nullopt if none is
  // queued; the registry's effects are left in `fx` for apply().
  std::optional<detail::effect> run_job(std::uint64_t pick, detail::revoke_report report,
                                        detail::effects& fx) {
    if (jobs_.empty()) return std::nullopt;
    const auto at = jobs_.begin() + static_cast<std::ptrdiff_t>(pick % jobs_.size());
    const detail::effect e = *at;
    jobs_.erase(at);
    conn_state& s = conns_.at(e.conn);
    --s.jobs;
    if (e.what == detail::effect::kind::revoke) {
      s.last_report = report;
      reg_.revoked(e.conn, report, fx);
    } else {
      s.returned = true;
      reg_.returned(e.conn, fx);
    }
    return e;
  }

  // Carries out what the registry decided.
  void apply(detail::effects& fx) {
    for (const detail::effect& e : fx) apply(e);
    fx.clear();
  }

  // What the test needs to pick its next operation.
  std::size_t turns() const { return turns_.size(); }
  std::size_t jobs() const { return jobs_.size(); }
  // Queued waiters, in id order; the ones past `now` if `due_only`.
  std::vector<waiter_id> queued_waiters(bool due_only = false,
                                        detail::reg_time now = {}) const {
    std::vector<waiter_id> out;
    for (const auto& [id, w] : waiters_)
      if (w.at == waiter::queued && (!due_only || w.deadline <= now)) out.push_back(id);
    return out;
  }
  // Queued waiters no one will grant or fail: nobody holds the turn they
  // wait for, or their connection's owner lost it.
  std::vector<waiter_id> stranded_waiters() const {
    std::vector<waiter_id> out;
    for (const auto& [id, w] : waiters_) {
      if (w.at != waiter::queued) continue;
      const conn_state& s = conns_.at(w.conn);
      if (s.depth == 0 || s.lost || s.dropped) out.push_back(id);
    }
    return out;
  }
  conn_id waiter_conn(waiter_id w) const { return waiters_.at(w).conn; }
  owner_id waiter_caller(waiter_id w) const { return waiters_.at(w).caller; }
  bool waiter_failed(waiter_id w) const { return waiters_.at(w).at == waiter::failed; }
  bool waiter_granted(waiter_id w) const { return waiters_.at(w).at == waiter::granted; }
  // Who holds the turn on `c` and how often (re-entrant); 0: nobody.
  owner_id holder(conn_id c) const {
    auto it = conns_.find(c);
    return it == conns_.end() ? 0 : it->second.holder;
  }
  // Connections added and not dropped.
  std::size_t live_conns() const {
    std::size_t n = 0;
    for (const auto& [c, s] : conns_) n += s.dropped ? 0 : 1;
    return n;
  }
  std::uint64_t fails_with(absl::StatusCode code) const {
    auto it = fails_.find(code);
    return it == fails_.end() ? 0 : it->second;
  }
  const std::vector<std::string>& violations() const { return violations_; }
  void violate(std::string what) { violations_.push_back(std::move(what)); }

 private:
  struct waiter {
    enum state { queued, granted, failed, left };
    conn_id conn = 0;
    owner_id caller = 0;
    detail::reg_time deadline{};
    state at = queued;
  };
  struct conn_state {
    owner_id owner = 0;
    std::string label;
    bool lost = false;       // revoked or given back: its owner no longer has it
    bool given_back = false;
    bool returned = false;   // the give_back was reported
    bool dropped = false;
    unsigned depth = 0;      // turns held on it
    owner_id holder = 0;
    int jobs = 0;            // its effects queued, not yet reported
    std::optional<detail::revoke_report> last_report;
  };

  conn_state* live(conn_id c, const char* what) {
    auto it = conns_.find(c);
    if (it == conns_.end() || it->second.dropped) {
      violate(absl::StrCat(what, " names connection ", c, ", which ",
                           it == conns_.end() ? "was never added" : "was dropped"));
      return nullptr;
    }
    return &it->second;
  }
  void take_turn(conn_state& s, conn_id c, owner_id caller, const char* what) {
    if (s.lost) violate(absl::StrCat(what, " on connection ", c, " after its owner lost it"));
    if (s.depth > 0 && s.holder != caller)
      violate(absl::StrCat(what, " on connection ", c, " for owner ", caller, " while owner ",
                           s.holder, " holds the turn"));
    s.holder = caller;
    ++s.depth;
    turns_.push_back(c);
  }

  void apply(const detail::effect& e) {
    using kind = detail::effect::kind;
    switch (e.what) {
      case kind::grant:
      case kind::fail: {
        auto it = waiters_.find(e.waiter);
        const char* name = e.what == kind::grant ? "a grant" : "a failure";
        if (it == waiters_.end() || it->second.at != waiter::queued) {
          violate(absl::StrCat(name, " to waiter ", e.waiter, ", which ",
                               it == waiters_.end() ? "never queued" : "is no longer queued"));
          return;
        }
        if (it->second.conn != e.conn)
          violate(absl::StrCat(name, " names connection ", e.conn, " for a waiter on ",
                               it->second.conn));
        conn_state* s = live(e.conn, name);
        if (s == nullptr) return;
        if (e.what == kind::grant) {
          it->second.at = waiter::granted;
          take_turn(*s, e.conn, it->second.caller, "a grant");
        } else {
          it->second.at = waiter::failed;
          if (e.status.ok()) violate(absl::StrCat("a failure to waiter ", e.waiter, " says ok"));
          ++fails_[e.status.code()];
        }
        return;
      }
      case kind::revoke:
      case kind::give_back: {
        conn_state* s = live(e.conn, e.what == kind::revoke ? "a revoke" : "a give_back");
        if (s == nullptr) return;
        if (e.status.ok()) violate(absl::StrCat("connection ", e.conn, " is taken back saying ok"));
        if (e.what == kind::revoke && e.cancel && e.text.find(s->label) == std::string::npos)
          violate(absl::StrCat("the cancel reason for connection ", e.conn, " does not name ",
                               s->label, ": ", e.text));
        if (s->given_back)
          violate(absl::StrCat(e.what == kind::revoke ? "a revoke" : "a second give_back",
                               " of connection ", e.conn, " after it went back to the pool"));
        if (e.what == kind::give_back) {
          if (s->depth > 0 && s->last_report != detail::revoke_report::idle)
            violate(absl::StrCat("connection ", e.conn, " goes back to the pool while ", s->depth,
                                 " turns are held and no revoke found it idle"));
          s->given_back = true;
        }
        s->lost = true;
        ++s->jobs;
        jobs_.push_back(e);
        return;
      }
      case kind::drop: {
        conn_state* s = live(e.conn, "a drop");
        if (s == nullptr) return;
        if (!s->returned)
          violate(absl::StrCat("connection ", e.conn, " is dropped before its return was reported"));
        if (s->jobs > 0)
          violate(absl::StrCat("connection ", e.conn, " is dropped with ", s->jobs,
                               " effects unreported"));
        if (s->depth > 0)
          violate(absl::StrCat("connection ", e.conn, " is dropped while ", s->depth,
                               " turns are held on it"));
        for (const auto& [id, w] : waiters_)
          if (w.conn == e.conn && w.at == waiter::queued)
            violate(absl::StrCat("connection ", e.conn, " is dropped while waiter ", id,
                                 " is queued on it"));
        s->dropped = true;
        return;
      }
      case kind::event:
      case kind::reaper:
        return;
    }
  }

  detail::registry& reg_;
  std::map<conn_id, conn_state> conns_;
  std::map<waiter_id, waiter> waiters_;
  std::vector<conn_id> turns_;          // one entry per held turn
  std::vector<detail::effect> jobs_;    // revokes and give_backs not yet run
  std::map<absl::StatusCode, std::uint64_t> fails_;
  std::vector<std::string> violations_;
};

}  // namespace sandpool::test
