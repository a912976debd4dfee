// Model-based randomized test of the ownership layer. Thousands of random
// sequences of checkout, checkin, allow, unallow, set_mode, leases, owner
// exits and reaper timeouts are performed by fibers acting as owners, and
// every step is checked against the reference model in
// tests/support/ownership_model.hpp, plus invariants: connections in use
// equal the model's owners, the layer's counters and mode match, no two
// owners share a connection.
//
// SANDPOOL_MODEL_SEED seeds sequence 0 and sequence i uses seed + i, so a
// disagreement prints a seed that replays it alone:
//   SANDPOOL_MODEL_SEED=<seed> SANDPOOL_MODEL_SEQUENCES=1 unit_ownership_model
// SANDPOOL_MODEL_SEQUENCES sets how many sequences run (default 10000).
//
// Every lease is returned within its step and the pool has more idle
// connections than there are actors, so no step ever waits: a step that
// blocks is itself a disagreement.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "owned_pool.hpp"
#include "ownership_model.hpp"
#include "ownership_model_steps.hpp"
#include "step_actor.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace sandpool::test::model;
using namespace std::chrono_literals;

namespace {

constexpr int actor_count = 4;
constexpr std::size_t pool_size = 8;  // above actor_count: a checkout never waits
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
  struct actor {
    std::unique_ptr<step_actor> fiber;
    owner_id id = 0;
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
  std::string describe(const step& s, owner_id dead) const;
  // Runs f in the actor's fiber. A blocked operation is unblocked by
  // expiring every wait (the sequence has failed by then anyway).
  template <class F>
  observed on(actor& a, F f) {
    observed got;
    if (a.fiber->perform([&] { got = f(); })) return got;
    clock_.advance(pool_.options().checkout_timeout + 1s);
    pool_.maintain();
    if (!a.fiber->finish()) {
      // Its fiber cannot be joined, so the test cannot even clean up.
      std::fprintf(stderr, "ownership model: a blocked step could not be unblocked\n");
      std::abort();
    }
    return failure(absl::InternalError("the step blocked (it waited for a connection or a turn)"));
  }
  std::string compare(const model::expected& want, const observed& got);
  std::string invariants();

  manual_clock clock_;
  std::shared_ptr<fake::server> server_ = std::make_shared<fake::server>();
  fake_pool pool_;
  model::reference ref_;
  std::map<std::string, std::size_t>* coverage_;
  std::vector<owner_id> dead_;        // fibers that have ended
  std::array<actor, actor_count> actors_;  // last: they end before the pool goes
  std::vector<std::string> log_;
};

std::string model_run::describe(const step& s, owner_id dead) const {
  switch (s.op) {
    case op_kind::checkout: return absl::StrCat(who(s.actor), ": ownership().checkout()");
    case op_kind::checkin: return absl::StrCat(who(s.actor), ": ownership().checkin()");
    case op_kind::allow:
      return absl::StrCat(who(s.actor), ": allow(self, ",
                          s.to_dead ? absl::StrCat("ended fiber (owner ", dead, ")") : who(s.other),
                          s.unallow_existing ? ", {.unallow_existing = true})" : ")");
    case op_kind::unallow: return absl::StrCat(who(s.actor), ": unallow(", who(s.other), ")");
    case op_kind::set_auto: return absl::StrCat(who(s.actor), ": set_mode(auto)");
    case op_kind::set_manual: return absl::StrCat(who(s.actor), ": set_mode(manual)");
    case op_kind::set_shared:
      return absl::StrCat(who(s.actor), ": set_mode(shared(", who(s.other), "))");
    case op_kind::lease: return absl::StrCat(who(s.actor), ": pool.checkout()");
    case op_kind::exit: return absl::StrCat(who(s.actor), ": exits");
    case op_kind::advance:
      return absl::StrCat("clock.advance(", s.by / 1s, " s) + maintain()");
  }
  return "?";
}

bool model_run::play(const step& s) {
  actor& a = actors_[s.actor];
  const owner_id dead = dead_[static_cast<std::size_t>(s.other) % dead_.size()];
  std::string line = absl::StrCat("#", log_.size() + 1, " ", describe(s, dead));
  model::expected want;
  observed got;
  switch (s.op) {
    case op_kind::checkout:
      want = ref_.checkout(a.id);
      got = on(a, [&] {
        auto r = own().checkout();
        return r.ok() ? value(name(*r)) : failure(r.status());
      });
      break;
    case op_kind::checkin:
      want = ref_.checkin(a.id);
      got = on(a, [&] { return failure(own().checkin()); });
      break;
    case op_kind::allow: {
      const owner_id other = s.to_dead ? dead : actors_[s.other].id;
      want = ref_.allow(a.id, other, s.unallow_existing);
      got = on(a, [&] {
        auto r = own().allow(a.id, other, {.unallow_existing = s.unallow_existing});
        return r.ok() ? value(name(*r)) : failure(r.status());
      });
      break;
    }
    case op_kind::unallow: {
      const owner_id other = actors_[s.other].id;
      want = ref_.unallow(other);
      got = on(a, [&] { return failure(own().unallow(other)); });
      break;
    }
    case op_kind::set_auto:
    case op_kind::set_manual:
    case op_kind::set_shared: {
      const owner_id shared = actors_[s.other].id;
      const mode m = s.op == op_kind::set_auto     ? mode{auto_mode{}}
                     : s.op == op_kind::set_manual ? mode{manual_mode{}}
                                                   : mode{shared_mode{shared}};
      want = ref_.set_mode(s.op == op_kind::set_auto     ? model::mode_kind::automatic
                           : s.op == op_kind::set_manual ? model::mode_kind::manual
                                                         : model::mode_kind::shared,
                           shared);
      got = on(a, [&] { return failure(own().set_mode(m)); });
      break;
    }
    case op_kind::lease:
      want = ref_.lease(a.id);
      got = on(a, [&] {
        auto l = pool_.checkout();  // returned at the end of this step
        return l.ok() ? leased((*l)->id) : failure(l.status());
      });
      break;
    case op_kind::exit:
      a.fiber->stop();
      ref_.exit(a.id);
      dead_.push_back(a.id);
      start(a);
      want.label = "exit";
      line += absl::StrCat(", replaced by owner ", a.id);
      break;
    case op_kind::advance:
      clock_.advance(s.by);
      pool_.maintain();
      ref_.advance(s.by);
      want.label = "advance";
      break;
  }
  if (coverage_ != nullptr) ++(*coverage_)[want.label];
  std::string wrong = compare(want, got);
  if (wrong.empty()) wrong = invariants();
  const std::size_t limit = wrong.empty() ? 100 : 100000;
  absl::StrAppend(&line, "\n      expected ", show(want, ref_), "\n      actual   ",
                  show(got, limit));
  if (!wrong.empty()) absl::StrAppend(&line, "\n  !!! ", wrong);
  log_.push_back(std::move(line));
  return wrong.empty();
}

bool model_run::finish() {
  for (actor& a : actors_) {
    a.fiber->stop();
    ref_.exit(a.id);
  }
  std::string wrong = invariants();
  // Nobody is left, so nothing should be remembered for anyone: an auto
  // mode pool must be back on the checkout path that skips ownership.
  if (wrong.empty() && ref_.mode() == model::mode_kind::automatic && !own().trivial())
    wrong = "auto mode with every owner gone, yet checkouts do not take the trivial path";
  std::string line = "#end every actor exits";
  if (!wrong.empty()) absl::StrAppend(&line, "\n  !!! ", wrong);
  log_.push_back(std::move(line));
  return wrong.empty();
}

std::string model_run::compare(const model::expected& want, const observed& got) {
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

std::string model_run::invariants() {
  const metrics pm = pool_.metrics();
  const ownership_metrics om = own().metrics();
  if (pm.in_use != ref_.owners())
    return absl::StrCat("pool in_use is ", pm.in_use, ", the model has ", ref_.owners(),
                        " owners");
  if (pm.waiting != 0) return absl::StrCat(pm.waiting, " callers wait for a connection");
  if (pm.size != pool_size || pm.idle + pm.in_use != pool_size)
    return absl::StrCat("the pool has ", pm.size, " connections, ", pm.idle, " idle and ",
                        pm.in_use, " in use; it should keep all ", pool_size);
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

struct verdict {
  bool agreed = true;
  std::vector<std::string> log;
};

verdict play_all(const std::vector<step>& steps,
                 std::map<std::string, std::size_t>* coverage = nullptr) {
  model_run run(coverage);
  for (const step& s : steps)
    if (!run.play(s)) return {false, run.log()};
  const bool agreed = run.finish();
  return {agreed, run.log()};
}

// Drops steps one at a time while the sequence still disagrees, so the
// report ends with a short reproduction.
std::vector<step> shrink(std::vector<step> steps, std::size_t failed_at) {
  steps.resize(std::min(failed_at, steps.size()));
  for (std::size_t i = steps.size(); i-- > 0;) {
    std::vector<step> candidate = steps;
    candidate.erase(candidate.begin() + static_cast<std::ptrdiff_t>(i));
    if (!play_all(candidate).agreed) steps = std::move(candidate);
  }
  return steps;
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  return std::strtoull(text, nullptr, 0);
}

}  // namespace

TEST_CASE("ownership model: random sequences of owner operations agree with the model") {
  const std::uint64_t seed = env_number("SANDPOOL_MODEL_SEED", 20240611);
  const std::uint64_t sequences = env_number("SANDPOOL_MODEL_SEQUENCES", 10000);
  std::map<std::string, std::size_t> coverage;
  std::size_t steps_played = 0, failed = 0;
  for (std::uint64_t i = 0; i < sequences; ++i) {
    const std::vector<step> steps = generate(seed + i, actor_count);
    const verdict v = play_all(steps, &coverage);
    steps_played += v.log.size();
    if (v.agreed) continue;
    if (++failed > 3) continue;  // the first few are enough to read
    const std::vector<step> small = shrink(steps, v.log.size());
    FAIL_CHECK("sequence ", i, " disagrees with the model at step ", v.log.size(),
               ". Replay: SANDPOOL_MODEL_SEED=", seed + i, " SANDPOOL_MODEL_SEQUENCES=1\n",
               absl::StrJoin(v.log, "\n"), "\n\nShrunk to ", small.size(), " steps:\n",
               absl::StrJoin(play_all(small).log, "\n"));
  }
  MESSAGE(sequences, " sequences, ", steps_played, " steps, ", failed, " disagreed; cases seen: ",
          absl::StrJoin(coverage, "; ", absl::PairFormatter(": ")));
  CHECK(failed == 0);
  if (sequences >= 1000) {
    // The generator must reach every case the model distinguishes.
    for (const char* label :
         {"checkout: checked out", "checkout: already owner", "checkout: already allowed",
          "checkout: shares", "checkin: checked in", "checkin: owns nothing",
          "checkin: allowed only", "allow: allowed", "allow: allowed, moving",
          "allow: already allowed", "allow: already owner", "allow: from nobody",
          "allow: onto owner", "allow: elsewhere", "allow: dead", "unallow: dropped",
          "set_mode: shared", "set_mode: shared refused", "lease: own", "lease: allowed",
          "lease: shared", "lease: fresh", "lease: unowned", "lease: own timeout reported",
          "lease: owner gone, checked its connection in",
          "lease: owner gone, ended (its thread or fiber exited)",
          "lease: owner gone, lost its connection to the reaper",
          "lease: owner gone, had its connection checked in by set_mode()"}) {
      INFO(label);
      CHECK(coverage[label] > 0);
    }
  }
}
