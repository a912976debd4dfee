// Model-based randomized test of detail::registry on its own: random
// sequences of checkout (repeat_checkout + add), checkin, leases with their
// turns and turn waits (enqueue, leave, end_turn), allow, unallow,
// set_mode, owner_ended and expire() with time advancing, while the
// connection work the registry asks for (revoke, give_back) is run by a
// stand-in shell (tests/support/registry_shell_double.hpp) later, in random
// order, and reported back with random revoke reports. Every answer is
// checked against the reference model of tests/support/ownership_model.hpp,
// every effect against the shell double's rules, and after every step the
// registry's metrics against the model's counts. At the end every turn and
// job is finished and every owner ends: every waiter must have been granted
// or failed, and every connection dropped exactly once.
//
// SANDPOOL_REGISTRY_SEED seeds sequence 0 and sequence i uses seed + i:
//   SANDPOOL_REGISTRY_SEED=<seed> SANDPOOL_REGISTRY_SEQUENCES=1 unit_ownership_registry_model
// SANDPOOL_REGISTRY_SEQUENCES sets how many sequences run (default 20000).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "model_env.hpp"
#include "registry_model_run.hpp"

using namespace sandpool;
using namespace sandpool::test;

namespace sandpool::test {

namespace {
const source_location here = source_location::current();
}  // namespace

bool registry_run::play(const reg_step& s) {
  const owner_id a = actors_[static_cast<std::size_t>(s.actor)];
  const owner_id b = actors_[static_cast<std::size_t>(s.other)];
  std::string line = absl::StrCat("#", log_.size() + 1, " ", op_name(s.op), " by owner ", a,
                                  " (other ", b, ", pick ", s.pick % 1000, ", ", s.seconds, " s)");
  const model::mode_kind mode_before = ref_.mode();
  const owner_id shared_before = ref_.shared_owner();
  std::string label, wrong;
  detail::effects fx;
  switch (s.op) {
    case reg_op::checkout: {
      const model::expected want = ref_.checkout(a);
      label = want.label;
      std::string got = "checked_out";
      if (auto repeat = reg_.repeat_checkout(a)) {
        got = *repeat == checkout_result::already_owner ? "already_owner" : "already_allowed";
      } else {
        const conn_id c = reg_.add(a, label_of(a), here, now_, fx);
        shell_.added(c, a, label_of(a));
        conn_of_[a] = c;
        ++checkouts_;
        line += absl::StrCat(": connection ", c);
      }
      wrong = compare(want, got);
      break;
    }
    case reg_op::checkin: {
      const model::expected want = ref_.checkin(a);
      label = want.label;
      const absl::Status got = reg_.checkin(a, now_, fx);
      if (got.ok()) ++checkins_;
      wrong = compare(want, got);
      break;
    }
    case reg_op::lease:
      wrong = lease(a, s, label);
      break;
    case reg_op::end_turn:
      label = shell_.end_turn(s.pick, now_, fx) ? "end_turn" : "end_turn: none held";
      see_effects("end_turn", fx);
      break;
    case reg_op::leave: {
      const auto queued = shell_.queued_waiters();
      if (queued.empty()) {
        label = "leave: nobody waits";
        break;
      }
      const detail::waiter_id w = queued[s.pick % queued.size()];
      const absl::Status got = reg_.leave(shell_.waiter_conn(w), w, now_, fx);
      shell_.left(w);
      ++turn_timeouts_;
      label = "leave: times out";
      if (got.code() != absl::StatusCode::kDeadlineExceeded)
        wrong = absl::StrCat("waiter ", w, " left while queued, and leave() said ", got.ToString());
      break;
    }
    case reg_op::allow: {
      const model::expected want = ref_.allow(a, b, s.flag);
      label = want.label;
      auto got = reg_.allow(a, b, {.unallow_existing = s.flag}, fx);
      if (got.ok() && *got == allow_result::allowed) ++allows_;
      wrong = got.ok() ? compare(want, *got == allow_result::allowed           ? "allowed"
                                       : *got == allow_result::already_allowed ? "already_allowed"
                                                                               : "already_owner")
                       : compare(want, got.status());
      break;
    }
    case reg_op::unallow: {
      const model::expected want = ref_.unallow(b);
      label = want.label;
      if (label == "unallow: dropped") ++unallows_;
      reg_.unallow(b, fx);
      break;
    }
    case reg_op::set_auto:
    case reg_op::set_manual:
    case reg_op::set_shared: {
      const bool shared = s.op == reg_op::set_shared;
      const model::expected want =
          ref_.set_mode(s.op == reg_op::set_auto ? model::mode_kind::automatic
                        : shared                 ? model::mode_kind::shared
                                                 : model::mode_kind::manual,
                        b);
      label = want.label;
      const mode m = s.op == reg_op::set_auto ? mode{auto_mode{}}
                     : shared                 ? mode{shared_mode{b}}
                                              : mode{manual_mode{}};
      const absl::Status got = reg_.set_mode(m, now_, fx);
      if (got.ok()) {
        // Ending the shared owner reverts to manual first: that counts too.
        const bool keeps_shared = shared && shared_before == b;
        mode_switches_ += mode_before == model::mode_kind::shared && !keeps_shared ? 2 : 1;
      }
      wrong = compare(want, got);
      see_effects("set_mode", fx);
      break;
    }
    case reg_op::owner_ended: {
      bool waiting = false;
      for (detail::waiter_id w : shell_.queued_waiters()) waiting |= shell_.waiter_caller(w) == a;
      if (waiting) {
        label = "owner_ended: skipped, it waits for a turn";
        break;
      }
      ref_.exit(a);
      reg_.owner_ended(a, now_, fx);
      see_effects("owner_ended", fx);
      label = "owner_ended";
      owner_id& slot = actors_[static_cast<std::size_t>(s.actor)];
      slot = next_id_++;
      ref_.actor_started(slot);
      line += absl::StrCat(", replaced by owner ", slot);
      break;
    }
    case reg_op::advance:
      wrong = advance(s, fx);
      label = "advance";
      break;
    case reg_op::job: {
      const auto report = static_cast<detail::revoke_report>(s.pick % 3);
      const auto job = shell_.run_job(s.pick / 3, report, fx);
      if (!job) {
        label = "job: none queued";
        break;
      }
      label = job->what == kind::give_back ? "job: give_back"
              : report == detail::revoke_report::idle ? "job: revoke idle"
              : report == detail::revoke_report::busy ? "job: revoke busy"
                                                      : "job: revoke ungated";
      for (const detail::effect& e : fx)
        if (e.what == kind::give_back) see(label + ", gives back");
      line += absl::StrCat(": ", label, " of connection ", job->conn);
      break;
    }
  }
  shell_.apply(fx);
  if (s.op != reg_op::set_auto && s.op != reg_op::set_manual && s.op != reg_op::set_shared &&
      mode_before == model::mode_kind::shared && ref_.mode() != model::mode_kind::shared)
    ++mode_switches_;  // the shared owner lost its connection
  see(label);
  if (wrong.empty()) wrong = invariants();
  absl::StrAppend(&line, " -> ", label);
  if (!wrong.empty()) absl::StrAppend(&line, "\n  !!! ", wrong);
  log_.push_back(std::move(line));
  return wrong.empty();
}

std::string registry_run::lease(owner_id a, const reg_step& s, std::string& label) {
  const model::expected want = ref_.lease(a);
  const detail::lease_answer got = reg_.lease(a, here, now_);
  label = want.label;
  if (want.code != absl::StatusCode::kOk) {
    if (got.how != detail::lease_answer::kind::refused) return "the lease was not refused";
    return compare(want, got.error);
  }
  if (want.conn_of == 0)
    return got.how == detail::lease_answer::kind::fresh ? "" : "the lease is not a fresh one";
  const conn_id c = conn_of_.at(want.conn_of);
  if (got.how != detail::lease_answer::kind::turn && got.how != detail::lease_answer::kind::wait)
    return "the lease is neither a turn nor a wait";
  if (got.conn != c) return absl::StrCat("the lease is on connection ", got.conn, ", not ", c);
  const owner_id holder = shell_.holder(c);
  const bool must_wait = holder != 0 && holder != a;
  if (got.how == detail::lease_answer::kind::turn) {
    label += holder == a ? ", again" : ", turn";
    shell_.turn_taken(c, a);
    return must_wait ? absl::StrCat("a turn while owner ", holder, " holds it") : "";
  }
  label += ", waits";
  const detail::waiter_id w = next_waiter_++;
  const detail::reg_time deadline = now_ + std::chrono::seconds(s.pick % 3);
  reg_.enqueue(c, w, a, here, now_, deadline);
  shell_.queued(w, c, a, deadline);
  ++turn_waits_;
  return must_wait ? "" : "a wait although nobody else holds the turn";
}

// Time passes and the reaper runs: connections past their deadline are
// taken back, and (expire_waits) turn waits past theirs fail.
std::string registry_run::advance(const reg_step& s, detail::effects& fx) {
  now_ += std::chrono::seconds(s.seconds);
  ref_.advance(std::chrono::seconds(s.seconds));
  std::vector<detail::waiter_id> expiring;  // due, on a connection its owner keeps
  if (expire_waits_)
    for (detail::waiter_id w : shell_.queued_waiters(true, now_)) {
      const conn_id c = shell_.waiter_conn(w);
      for (const auto& [owner, conn] : conn_of_)
        if (conn == c && ref_.owns(owner)) expiring.push_back(w);
    }
  turn_timeouts_ += expiring.size();
  (void)reg_.expire(now_, fx);
  see_effects("expire", fx);
  shell_.apply(fx);
  for (detail::waiter_id w : expiring)
    if (!shell_.waiter_failed(w)) return absl::StrCat("waiter ", w, " is past its deadline");
  if (expire_waits_ && !shell_.queued_waiters(true, now_).empty())
    return "a waiter past its deadline is still queued";
  return {};
}

std::string registry_run::invariants() {
  const auto& v = shell_.violations();
  if (v.size() > violations_seen_) return v[violations_seen_];
  if (const auto stranded = shell_.stranded_waiters(); !stranded.empty())
    return absl::StrCat("waiter ", stranded.front(), " is queued where no one will grant it");
  const ownership_metrics m = reg_.metrics();
  const std::array<std::pair<const char*, std::pair<std::uint64_t, std::uint64_t>>, 11> counts{{
      {"owners", {m.owners, ref_.owners()}}, {"allowances", {m.allowances, ref_.allowances()}},
      {"checkouts", {m.checkouts, checkouts_}}, {"checkins", {m.checkins, checkins_}},
      {"allows", {m.allows, allows_}}, {"unallows", {m.unallows, unallows_}},
      {"reclaims", {m.reclaims, ref_.reclaims()}}, {"timeouts", {m.timeouts, ref_.timeouts()}},
      {"mode_switches", {m.mode_switches, mode_switches_}},
      {"turn_waits", {m.turn_waits, turn_waits_}},
      {"turn_timeouts", {m.turn_timeouts, turn_timeouts_}}}};
  for (const auto& [name, values] : counts)
    if (values.first != values.second)
      return absl::StrCat("metrics().", name, " is ", values.first, ", the model counts ",
                          values.second);
  const mode& now_mode = reg_.current_mode();
  const auto* shared = std::get_if<shared_mode>(&now_mode);
  const bool same_mode = ref_.mode() == model::mode_kind::automatic
                             ? std::holds_alternative<auto_mode>(now_mode)
                         : ref_.mode() == model::mode_kind::manual
                             ? std::holds_alternative<manual_mode>(now_mode)
                             : shared != nullptr && shared->owner == ref_.shared_owner();
  if (!same_mode) return "the registry's mode differs from the model's";
  for (owner_id a : actors_)
    if (ref_.owns(a) && reg_.root_conn(a) != conn_of_.at(a))
      return absl::StrCat("owner ", a, " should use connection ", conn_of_.at(a), ", not ",
                          reg_.root_conn(a));
  return {};
}

// Finishes every job and turn, in random order, with random reports.
void registry_run::drain() {
  for (int guard = 0; guard < 100000; ++guard) {
    detail::effects fx;
    const bool job = shell_.jobs() > 0 && (shell_.turns() == 0 || rng_() % 2 == 0);
    if (job) {
      (void)shell_.run_job(rng_(), static_cast<detail::revoke_report>(rng_() % 3), fx);
    } else if (!shell_.end_turn(rng_(), now_, fx)) {
      return;
    }
    shell_.apply(fx);
  }
}

bool registry_run::finish() {
  std::string wrong;
  drain();
  if (!shell_.queued_waiters().empty())
    wrong = "every turn has ended, yet a waiter is neither granted nor failed";
  detail::effects fx;
  if (wrong.empty() && rng_() % 4 == 0) {
    reg_.close(now_, fx);
    shell_.apply(fx);
  }
  for (owner_id a : actors_) {
    ref_.exit(a);
    reg_.owner_ended(a, now_, fx);
    shell_.apply(fx);
  }
  drain();
  const auto& v = shell_.violations();
  if (wrong.empty() && v.size() > violations_seen_) wrong = v[violations_seen_];
  if (wrong.empty() && shell_.live_conns() != 0)
    wrong = absl::StrCat(shell_.live_conns(), " connections were never dropped");
  if (wrong.empty() && !reg_.empty()) wrong = "the registry still holds a connection";
  if (wrong.empty() && (reg_.metrics().owners != 0 || reg_.metrics().allowances != 0))
    wrong = "owners or allowances remain after every owner ended";
  if (wrong.empty() && std::holds_alternative<auto_mode>(reg_.current_mode()) && !reg_.trivial())
    wrong = "auto mode with every owner gone, yet the registry is not trivial";
  std::string line = "#end every turn and job finishes, every owner ends";
  if (!wrong.empty()) absl::StrAppend(&line, "\n  !!! ", wrong);
  log_.push_back(std::move(line));
  return wrong.empty();
}

}  // namespace sandpool::test

namespace {

struct verdict {
  bool agreed = true;
  std::vector<std::string> log;
};

verdict play_all(std::uint64_t seed, const std::vector<reg_step>& steps,
                 std::map<std::string, std::size_t>* coverage = nullptr) {
  registry_run run(seed, coverage);
  for (const reg_step& s : steps)
    if (!run.play(s)) return {false, run.log()};
  const bool agreed = run.finish();
  return {agreed, run.log()};
}

// Drops steps one at a time while the sequence still disagrees.
std::vector<reg_step> shrink(std::uint64_t seed, std::vector<reg_step> steps) {
  for (std::size_t i = steps.size(); i-- > 0;) {
    std::vector<reg_step> candidate = steps;
    candidate.erase(candidate.begin() + static_cast<std::ptrdiff_t>(i));
    if (!play_all(seed, candidate).agreed) steps = std::move(candidate);
  }
  return steps;
}

}  // namespace

TEST_CASE("registry model: random operations and effect reports keep the shell's invariants") {
  const std::uint64_t seed = env_number("SANDPOOL_REGISTRY_SEED", 20261203);
  const std::uint64_t sequences = env_number("SANDPOOL_REGISTRY_SEQUENCES", 20000);
  std::map<std::string, std::size_t> coverage;
  std::size_t steps_played = 0, failed = 0;
  for (std::uint64_t i = 0; i < sequences; ++i) {
    std::vector<reg_step> steps = generate_registry_steps(seed + i);
    const verdict v = play_all(seed + i, steps, &coverage);
    steps_played += v.log.size();
    if (v.agreed) continue;
    if (++failed > 3) continue;
    steps.resize(std::min(steps.size(), v.log.size()));
    const std::vector<reg_step> small = shrink(seed + i, steps);
    FAIL_CHECK("sequence ", i, " broke a rule at step ", v.log.size(),
               ". Replay: SANDPOOL_REGISTRY_SEED=", seed + i, " SANDPOOL_REGISTRY_SEQUENCES=1\n",
               absl::StrJoin(v.log, "\n"), "\n\nShrunk to ", small.size(), " steps:\n",
               absl::StrJoin(play_all(seed + i, small).log, "\n"));
  }
  MESSAGE(sequences, " sequences, ", steps_played, " steps, ", failed, " broke a rule; cases seen: ",
          absl::StrJoin(coverage, "; ", absl::PairFormatter(": ")));
  CHECK(failed == 0);
  if (sequences >= 1000) {
    for (const char* label :
         {"checkout: checked out", "checkin: checked in", "checkin: own timeout reported",
          "lease: own, turn", "lease: own, again", "lease: allowed, waits", "lease: shared, waits",
          "lease: fresh", "lease: unowned", "lease: owner gone, lost its connection to the reaper",
          "leave: times out", "end_turn: grants the next waiter", "end_turn: returns a revoked connection",
          "expire: fails a turn wait", "expire: takes a connection back",
          "expire: takes a connection back while a lease is held", "expire: looks again",
          "job: revoke idle", "job: revoke busy", "job: revoke ungated", "job: give_back",
          "job: revoke idle, gives back", "owner_ended: fails queued waiters",
          "owner_ended: reclaims with a lease held", "set_mode: shared",
          "allow: allowed"}) {
      INFO(label);
      CHECK(coverage[label] > 0);
    }
  }
}
