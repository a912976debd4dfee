// Model-based randomized test of the ownership layer. Thousands of random
// sequences of checkout, checkin, allow, unallow, set_mode, leases, owner
// exits and reaper timeouts are performed by fibers acting as owners, and
// every step is checked against the reference model in
// tests/support/ownership_model.hpp, plus invariants: connections in use
// equal the model's (owners, held fresh leases, revoked connections a
// statement still keeps), the layer's counters and mode match, no two
// owners share a connection. Actors also hold leases across steps and run
// statements through them (gate_pass), so a sequence shows what a held
// lease sees once its owner times out, exits, checks in or is checked in
// by set_mode: refused statements, and its connection back in the pool.
//
// SANDPOOL_MODEL_SEED seeds sequence 0 and sequence i uses seed + i, so a
// disagreement prints a seed that replays it alone:
//   SANDPOOL_MODEL_SEED=<seed> SANDPOOL_MODEL_SEQUENCES=1 unit_ownership_model
// SANDPOOL_MODEL_SEQUENCES sets how many sequences run (default 10000).
//
// The pool has more idle connections than actors can hold, so no step
// waits for a connection. Two steps wait on purpose, when the model says
// so: a lease whose turn another caller's held lease holds (it is given a
// zero timeout and fails when the reaper looks), and a checkin while a
// statement runs on the connection (the test ends the statement, as the
// server would on the cancel). Any other step that blocks is a
// disagreement.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "model_env.hpp"
#include "ownership_model_run.hpp"

using namespace sandpool;
using namespace sandpool::test;
using namespace sandpool::test::model;
using namespace std::chrono_literals;

namespace sandpool::test::model {

// A step on a held lease or a running statement goes to the next actor that
// has one when its own actor has none, so that few steps are idle.
step model_run::retarget(step s) const {
  const bool needs_lease =
      s.op == op_kind::release || s.op == op_kind::query || s.op == op_kind::begin;
  if (!needs_lease && s.op != op_kind::end_statement) return s;
  for (int i = 0; i < actor_count; ++i) {
    const int k = (s.actor + i) % actor_count;
    const actor& b = actors_[static_cast<std::size_t>(k)];
    if (needs_lease ? !b.held.empty() : b.running != nullptr) {
      s.actor = k;
      break;
    }
  }
  return s;
}

bool model_run::play(const step& planned) {
  const step s = retarget(planned);
  actor& a = actors_[s.actor];
  const std::uint64_t cancels = ref_.cancels(), discards = ref_.discards();
  const owner_id dead = dead_[static_cast<std::size_t>(s.other) % dead_.size()];
  std::string line =
      absl::StrCat("#", log_.size() + 1, " ", describe(s, dead, [&](int k) { return who(k); }));
  std::string wrong;
  model::expected want;
  observed got;
  switch (s.op) {
    case op_kind::checkout:
      want = ref_.checkout(a.id);
      got = on(a, want, [&] {
        auto r = own().checkout();
        return r.ok() ? value(name(*r)) : failure(r.status());
      });
      break;
    case op_kind::checkin:
      want = ref_.checkin(a.id);
      got = on(a, want, [&] { return failure(own().checkin()); });
      for (actor& b : actors_)
        if (want.unblocks >= 0 && b.running_key == want.unblocks) {
          b.end_statement();  // the model expects checkin() to have waited for it
          wrong = "checkin() did not wait for the statement running on the connection";
        }
      break;
    case op_kind::allow: {
      const owner_id other = s.to_dead ? dead : actors_[s.other].id;
      want = ref_.allow(a.id, other, s.unallow_existing);
      got = on(a, want, [&] {
        auto r = own().allow(a.id, other, {.unallow_existing = s.unallow_existing});
        return r.ok() ? value(name(*r)) : failure(r.status());
      });
      break;
    }
    case op_kind::unallow: {
      const owner_id other = actors_[s.other].id;
      want = ref_.unallow(other);
      got = on(a, want, [&] { return failure(own().unallow(other)); });
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
      got = on(a, want, [&] { return failure(own().set_mode(m)); });
      break;
    }
    case op_kind::lease:
      want = ref_.lease(a.id);
      got = on(a, want, [&] {
        auto l = want.waits ? pool_.checkout(0s) : pool_.checkout();  // returned in this step
        return l.ok() ? leased((*l)->id) : failure(l.status());
      });
      break;
    case op_kind::hold: {
      if (a.held.size() == 2) {
        want.label = "hold: hands full";
        break;
      }
      const int key = next_key_++;
      want = ref_.hold_lease(a.id, key);
      got = on(a, want, [&] {
        auto l = want.waits ? pool_.checkout(0s) : pool_.checkout();
        if (!l.ok()) return failure(l.status());
        const observed o = leased((*l)->id);
        a.held.push_back({std::move(*l), key});
        return o;
      });
      line += absl::StrCat(" as lease ", key);
      break;
    }
    case op_kind::release:
    case op_kind::query:
    case op_kind::begin:
      if (a.held.empty()) {
        want.label = s.op == op_kind::release ? "release: nothing held"
                     : s.op == op_kind::query ? "query: nothing held"
                                              : "begin: nothing held";
        break;
      }
      line += absl::StrCat(" (lease ", a.held.back().key, ")");
      play_held(s, a, want, got);
      break;
    case op_kind::end_statement:
      if (!a.running) {
        want.label = "end_statement: none runs";
        break;
      }
      ref_.end_statement(a.running_key);
      want.label = "end_statement: ends";
      got = on(a, want, [&] {
        a.end_statement();
        return observed{};
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
  if (coverage_ != nullptr) {
    ++(*coverage_)[want.label];
    const std::string op = want.label.substr(0, want.label.find(':'));
    if (ref_.cancels() > cancels) ++(*coverage_)[absl::StrCat("cancels a statement: ", op)];
    if (ref_.discards() > discards) ++(*coverage_)[absl::StrCat("closes a revoked connection: ", op)];
  }
  if (wrong.empty()) wrong = compare(want, got);
  if (wrong.empty() && s.op == op_kind::hold && got.lease) ref_.bind(a.held.back().key, got.conn);
  if (wrong.empty()) wrong = invariants();
  const std::size_t limit = wrong.empty() ? 100 : 100000;
  absl::StrAppend(&line, "\n      expected ", show(want, ref_), "\n      actual   ",
                  show(got, limit));
  if (!wrong.empty()) absl::StrAppend(&line, "\n  !!! ", wrong);
  log_.push_back(std::move(line));
  return wrong.empty();
}

// A held-lease step on the actor's last held lease.
void model_run::play_held(const step& s, actor& a, model::expected& want, observed& got) {
  held_lease& h = a.held.back();
  switch (s.op) {
    case op_kind::release:
      want.label = a.running_key == h.key ? "release: ends its statement first" : "release";
      if (a.running_key == h.key) ref_.end_statement(h.key);
      ref_.release(h.key);
      got = on(a, want, [&] {
        if (a.running_key == h.key) a.end_statement();
        a.held.pop_back();
        return observed{};
      });
      break;
    case op_kind::query:
      want = ref_.query(h.key);
      got = on(a, want, [&] {
        const gate_pass statement(h.lease->gate());
        return failure(statement.status());
      });
      break;
    default:
      if (a.running) {
        want.label = "begin: one runs already";
        break;
      }
      want = ref_.begin(h.key);
      got = on(a, want, [&] {
        auto statement = std::make_unique<gate_pass>(h.lease->gate());
        const observed o = failure(statement->status());
        if (statement->ok()) {
          a.running = std::move(statement);
          a.running_key = h.key;
        }
        return o;
      });
      break;
  }
}


}  // namespace sandpool::test::model

namespace {

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
          "lease: owner gone, had its connection checked in by set_mode()",
          "lease: own, waits for a held turn", "lease: allowed, waits for a held turn",
          "lease: shared, waits for a held turn", "hold: own", "hold: allowed", "hold: shared",
          "hold: fresh", "hold: hands full", "checkin: waits for the cancelled statement",
          "query: runs on an owned connection", "query: runs on a fresh connection",
          "query: refused, checked its connection in",
          "query: refused, ended (its thread or fiber exited)",
          "query: refused, lost its connection to the reaper",
          "query: refused, had its connection checked in by set_mode()",
          "begin: runs on an owned connection", "begin: refused, lost its connection to the reaper",
          "release", "release: ends its statement first", "end_statement: ends",
          "cancels a statement: advance", "cancels a statement: exit",
          "cancels a statement: set_mode", "cancels a statement: checkin",
          "closes a revoked connection: advance", "closes a revoked connection: release",
          "closes a revoked connection: lease"}) {
      INFO(label);
      CHECK(coverage[label] > 0);
    }
  }
}
