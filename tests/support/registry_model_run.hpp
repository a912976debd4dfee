// The registry model test's steps and its run: one random sequence of
// registry operations against a fresh detail::registry, a fresh reference
// model (ownership_model.hpp) and a shell double that runs and checks the
// effects (registry_shell_double.hpp). A step names actors and picks by
// number; the run maps them onto what exists at that point (the pick-th
// held turn, modulo), so any subsequence is still a valid sequence and a
// failure shrinks.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ownership_model.hpp"
#include "registry_shell_double.hpp"
#include "sandpool/ownership/detail/registry.hpp"

namespace sandpool::test {

enum class reg_op { checkout, checkin, lease, end_turn, leave, allow, unallow, set_auto,
                    set_manual, set_shared, owner_ended, advance, job };

struct reg_step {
  reg_op op = reg_op::lease;
  int actor = 0, other = 0;
  std::uint64_t pick = 0;  // which turn, waiter or job; a wait's deadline; a revoke report
  bool flag = false;       // allow: unallow_existing
  int seconds = 0;         // advance (0: the reaper looks again at the same time)
};

// A step's operation as the failure report names it.
inline const char* op_name(reg_op op) {
  switch (op) {
    case reg_op::checkout: return "checkout";
    case reg_op::checkin: return "checkin";
    case reg_op::lease: return "lease";
    case reg_op::end_turn: return "end_turn";
    case reg_op::leave: return "leave";
    case reg_op::allow: return "allow";
    case reg_op::unallow: return "unallow";
    case reg_op::set_auto: return "set_mode(auto)";
    case reg_op::set_manual: return "set_mode(manual)";
    case reg_op::set_shared: return "set_mode(shared)";
    case reg_op::owner_ended: return "owner_ended";
    case reg_op::advance: return "advance";
    case reg_op::job: return "job";
  }
  return "?";
}

inline std::vector<reg_step> generate_registry_steps(std::uint64_t seed) {
  static constexpr std::array<std::pair<reg_op, int>, 13> weights{{
      {reg_op::checkout, 14}, {reg_op::checkin, 5}, {reg_op::lease, 20}, {reg_op::end_turn, 12},
      {reg_op::leave, 3}, {reg_op::allow, 10}, {reg_op::unallow, 2}, {reg_op::set_auto, 1},
      {reg_op::set_manual, 2}, {reg_op::set_shared, 3}, {reg_op::owner_ended, 4},
      {reg_op::advance, 6}, {reg_op::job, 16}}};
  int total = 0;
  for (const auto& [op, w] : weights) total += w;
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  std::vector<reg_step> steps(static_cast<std::size_t>(20 + pick(81)));
  for (reg_step& s : steps) {
    int r = pick(total);
    for (const auto& [op, w] : weights) {
      if (r < w) {
        s.op = op;
        break;
      }
      r -= w;
    }
    s.actor = pick(4);
    s.other = pick(4);
    s.pick = rng();
    s.flag = pick(2) == 1;
    s.seconds = pick(13);
  }
  return steps;
}

class registry_run {
 public:
  using conn_id = detail::conn_id;
  using kind = detail::effect::kind;

  registry_run(std::uint64_t seed, std::map<std::string, std::size_t>* coverage)
      : rng_(seed ^ 0x5eed5eed5eed5eedULL),
        timeout_(std::array<std::chrono::nanoseconds, 3>{
            std::chrono::seconds(3), std::chrono::seconds(10),
            std::chrono::nanoseconds::max()}[rng_() % 3]),
        expire_waits_(rng_() % 2 == 0),
        reg_({.pool = "reg",
              .ownership_timeout = timeout_,
              .warn_before = rng_() % 2 == 0 ? std::chrono::seconds(2) : std::chrono::seconds(0),
              .events = rng_() % 2 == 0,
              .expire_waits = expire_waits_}),
        ref_(timeout_ == std::chrono::nanoseconds::max() ? std::chrono::hours(10000) : timeout_),
        coverage_(coverage) {
    for (owner_id& a : actors_) {
      a = next_id_++;
      ref_.actor_started(a);
    }
  }

  // Plays one step; false on a disagreement or a broken rule (the log says).
  bool play(const reg_step& s);
  // Ends every turn, job and owner; false if anything is left over.
  bool finish();
  const std::vector<std::string>& log() const { return log_; }

 private:
  static std::string label_of(owner_id o) { return absl::StrCat("fiber ", o, " on thread 0"); }
  void see(const std::string& label) {
    if (coverage_ != nullptr) ++(*coverage_)[label];
  }
  // Coverage labels for what a step's effects did.
  void see_effects(const char* op, const detail::effects& fx) {
    for (const detail::effect& e : fx) {
      if (e.what == kind::grant) see(absl::StrCat(op, ": grants the next waiter"));
      if (e.what == kind::fail)
        see(absl::StrCat(op, e.status.code() == absl::StatusCode::kDeadlineExceeded
                                 ? ": fails a turn wait"
                                 : ": fails queued waiters"));
      if (e.what == kind::give_back)
        see(absl::StrCat(op, std::string_view(op) == "end_turn" ? ": returns a revoked connection"
                             : std::string_view(op) == "owner_ended" ? ": reclaims"
                                                                     : ": takes a connection back"));
      if (e.what == kind::revoke)
        see(absl::StrCat(op, !e.cancel ? ": looks again"
                             : std::string_view(op) == "owner_ended"
                                 ? ": reclaims with a lease held"
                                 : ": takes a connection back while a lease is held"));
    }
  }
  std::string compare(const model::expected& want, const absl::Status& got) const {
    if (want.code != got.code())
      return absl::StrCat("expected ", absl::StatusCodeToString(want.code), ", got ",
                          got.ToString());
    for (const std::string& f : want.fragments)
      if (got.message().find(f) == absl::string_view::npos)
        return absl::StrCat("the message lacks \"", f, "\": ", got.message());
    return {};
  }
  std::string compare(const model::expected& want, const std::string& got) const {
    if (want.code != absl::StatusCode::kOk)
      return absl::StrCat("expected ", absl::StatusCodeToString(want.code), ", got ", got);
    return want.value == got ? std::string() : absl::StrCat("expected ", want.value, ", got ", got);
  }
  std::string lease(owner_id a, const reg_step& s, std::string& label);
  std::string advance(const reg_step& s, detail::effects& fx);
  std::string invariants();
  void drain();

  std::mt19937_64 rng_;
  const std::chrono::nanoseconds timeout_;
  const bool expire_waits_;
  detail::registry reg_;
  registry_shell_double shell_{reg_};
  model::reference ref_;
  std::map<std::string, std::size_t>* coverage_;
  owner_id next_id_ = owner_id{1} << 40;  // far from any live thread's or fiber's id
  std::array<owner_id, 4> actors_{};
  std::map<owner_id, conn_id> conn_of_;  // the connection add() gave an owner last
  detail::reg_time now_{};
  detail::waiter_id next_waiter_ = 1;
  std::uint64_t checkouts_ = 0, checkins_ = 0, allows_ = 0, unallows_ = 0, mode_switches_ = 0,
                turn_waits_ = 0, turn_timeouts_ = 0;
  std::size_t violations_seen_ = 0;
  std::vector<std::string> log_;
};

}  // namespace sandpool::test
