// The ownership model test's run: one sequence of steps played by fibers
// acting as owners against a fresh fake-driver pool, beside a fresh
// reference model (ownership_model.hpp), and the invariants checked after
// every step. The steps themselves are played in ownership_model_test.cpp.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "owned_pool.hpp"
#include "ownership_model.hpp"
#include "ownership_model_steps.hpp"
#include "sandpool/core/statement_gate.hpp"
#include "step_actor.hpp"

namespace sandpool::test::model {

using namespace std::chrono_literals;

constexpr int actor_count = 4;
// Above what actors can hold: an owned connection each, two held leases
// each (fresh, or on a connection a running statement keeps out), and one
// more lease.
constexpr std::size_t pool_size = 16;
constexpr std::chrono::nanoseconds ownership_timeout = 10s;

// One sequence played against a fresh pool and a fresh model.
class model_run {
 public:
  explicit model_run(std::map<std::string, std::size_t>* coverage = nullptr)
      : pool_(make_pool()), ref_(ownership_timeout), coverage_(coverage) {
    pool_.maintain();  // opens every connection up front
    boost::fibers::fiber([&] { dead_.push_back(current_owner()); }).join();
    for (auto& a : actors_) start(a);
  }

  // Plays one step; false on a disagreement (the log says which).
  bool play(const step& s);
  // Ends every actor; false on a disagreement.
  bool finish();
  const std::vector<std::string>& log() const { return log_; }

 private:
  struct held_lease {
    fake_pool::lease_type lease;
    int key = 0;  // the model's name for it
  };
  // An actor's held leases and statement stay with its slot when its fiber
  // exits: the next fiber in the slot ends them.
  struct actor {
    std::unique_ptr<step_actor> fiber;
    owner_id id = 0;
    std::vector<held_lease> held;  // at most two
    std::unique_ptr<gate_pass> running;  // a statement left running; before its lease goes
    int running_key = -1;
    void end_statement() {
      running.reset();
      running_key = -1;
    }
  };

  fake_pool make_pool() {
    pool_options o = manual_options(pool_size);
    o.name = "model";
    o.min_idle = pool_size;
    o.idle_timeout = infinite;  // no churn unrelated to ownership
    o.max_lifetime = infinite;
    ownership_options own;
    own.ownership_timeout = ownership_timeout;
    auto p = fake_pool::create(fake::driver(server_), o, clock_, std::move(own));
    REQUIRE(p.ok());
    return std::move(*p);
  }
  void start(actor& a) {
    a.fiber = std::make_unique<step_actor>();
    REQUIRE(a.fiber->perform([&] { a.id = current_owner(); }));
    ref_.actor_started(a.id);
  }
  auto& own() { return pool_.ownership(); }
  std::string who(int k) const { return absl::StrCat("actor ", k, " (owner ", actors_[k].id, ")"); }
  // Runs f in the actor's fiber. A wait the model expects is ended as it
  // says (a reaper round, or the statement ending); any other blocked
  // operation by expiring every wait (the sequence has failed by then).
  template <class F>
  observed on(actor& a, const model::expected& want, F f) {
    observed got;
    if (a.fiber->perform([&] { got = f(); })) return got;
    if (want.waits) {
      (void)own().reap(clock_.now());
      ref_.reap();
      if (a.fiber->finish()) return got;
    }
    if (want.unblocks >= 0) {
      for (actor& b : actors_)
        if (b.running_key == want.unblocks) b.end_statement();
      // checkin() polls the statement every millisecond of real time.
      const auto until = std::chrono::steady_clock::now() + 5s;
      while (std::chrono::steady_clock::now() < until)
        if (a.fiber->finish()) return got;
    }
    clock_.advance(pool_.options().checkout_timeout + 1s);
    pool_.maintain();
    if (!a.fiber->finish()) {
      // Its fiber cannot be joined, so the test cannot even clean up.
      std::fprintf(stderr, "ownership model: a blocked step could not be unblocked\n");
      std::abort();
    }
    return failure(absl::InternalError("the step blocked (it waited for a connection or a turn)"));
  }
  step retarget(step s) const;
  void play_held(const step& s, actor& a, model::expected& want, observed& got);
  std::string compare(const model::expected& want, const observed& got);
  std::string invariants();

  manual_clock clock_;
  std::shared_ptr<fake::server> server_ = std::make_shared<fake::server>();
  fake_pool pool_;
  model::reference ref_;
  std::map<std::string, std::size_t>* coverage_;
  std::vector<owner_id> dead_;        // fibers that have ended
  int next_key_ = 1;                  // the next held lease's name
  std::array<actor, actor_count> actors_;  // last: they end before the pool goes
  std::vector<std::string> log_;
};

inline bool model_run::finish() {
  for (actor& a : actors_) {
    a.fiber->stop();
    ref_.exit(a.id);
  }
  // Their slots' statements end and their held leases go, last first.
  for (actor& a : actors_) {
    if (a.running) ref_.end_statement(a.running_key);
    a.end_statement();
    for (; !a.held.empty(); a.held.pop_back()) ref_.release(a.held.back().key);
  }
  std::string wrong = invariants();
  if (wrong.empty() && pool_.metrics().in_use != 0)
    wrong = absl::StrCat("every lease has ended, yet ", pool_.metrics().in_use,
                         " connections are in use");
  // Nobody is left, so nothing should be remembered for anyone: an auto
  // mode pool must be back on the checkout path that skips ownership.
  if (wrong.empty() && ref_.mode() == model::mode_kind::automatic && !own().trivial())
    wrong = "auto mode with every owner gone, yet checkouts do not take the trivial path";
  std::string line = "#end every actor exits";
  if (!wrong.empty()) absl::StrAppend(&line, "\n  !!! ", wrong);
  log_.push_back(std::move(line));
  return wrong.empty();
}

inline std::string model_run::compare(const model::expected& want, const observed& got) {
  if (want.code != got.code) return "the status code differs";
  if (got.code != absl::StatusCode::kOk) {
    for (const std::string& f : want.fragments)
      if (got.message.find(f) == std::string::npos)
        return absl::StrCat("the message lacks \"", f, "\"");
    return {};
  }
  if (want.lease != got.lease) return "the result differs";
  if (want.lease) return ref_.check_lease(want, got.conn);
  if (want.value != got.value) return "the value differs";
  return {};
}

inline std::string model_run::invariants() {
  const metrics pm = pool_.metrics();
  const ownership_metrics om = own().metrics();
  if (pm.in_use != ref_.in_use())
    return absl::StrCat("pool in_use is ", pm.in_use, ", the model has ", ref_.in_use(),
                        " (", ref_.owners(), " owners, the rest for held leases)");
  if (pm.waiting != 0) return absl::StrCat(pm.waiting, " callers wait for a connection");
  // Connections returned to be closed are closed by the next housekeeping
  // round and replaced by the one after.
  if (pm.size + ref_.replacing() != pool_size || pm.idle + pm.in_use + ref_.closing() != pm.size)
    return absl::StrCat("the pool has ", pm.size, " connections, ", pm.idle, " idle, ",
                        pm.in_use, " in use; the model has ", ref_.closing(),
                        " to be closed and ", ref_.replacing(), " to be replaced of ", pool_size);
  if (pm.discarded != ref_.discards() - ref_.closing())
    return absl::StrCat("the pool closed ", pm.discarded, " connections, the model ",
                        ref_.discards() - ref_.closing(),
                        " (connections whose cancelled statement kept them out)");
  if (server_->cancels != static_cast<int>(ref_.cancels()))
    return absl::StrCat("the server saw ", server_->cancels, " cancels, the model ",
                        ref_.cancels(), " (statements running when their owner lost them)");
  if (om.turn_waits != ref_.turn_waits() || om.turn_timeouts != ref_.turn_waits())
    return absl::StrCat("ownership metrics count ", om.turn_waits, " turn waits and ",
                        om.turn_timeouts, " turn timeouts, the model ", ref_.turn_waits());
  if (om.owners != ref_.owners())
    return absl::StrCat("ownership metrics say ", om.owners, " owners, the model ",
                        ref_.owners());
  if (om.allowances != ref_.allowances())
    return absl::StrCat("ownership metrics say ", om.allowances, " allowances, the model ",
                        ref_.allowances());
  if (om.timeouts != ref_.timeouts())
    return absl::StrCat("ownership metrics count ", om.timeouts, " timeouts, the model ",
                        ref_.timeouts());
  if (om.reclaims != ref_.reclaims())
    return absl::StrCat("ownership metrics count ", om.reclaims, " reclaims, the model ",
                        ref_.reclaims());
  const mode m = own().current_mode();
  const auto* shared = std::get_if<shared_mode>(&m);
  const bool same_mode =
      ref_.mode() == model::mode_kind::automatic ? std::holds_alternative<auto_mode>(m)
      : ref_.mode() == model::mode_kind::manual  ? std::holds_alternative<manual_mode>(m)
                                                 : shared && shared->owner == ref_.shared_owner();
  if (!same_mode)
    return absl::StrCat("the pool is in ", std::string(mode_name(m)), " mode",
                        shared ? absl::StrCat(" (owner ", shared->owner, ")") : std::string(),
                        ", the model expects another");
  return {};
}


}  // namespace sandpool::test::model
