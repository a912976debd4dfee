// The steps of the ownership model test: the operations, a seeded
// generator of random sequences of them, and what an operation returned,
// with the text the failure report prints for both sides.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ownership_model.hpp"
#include "sandpool/ownership/options.hpp"

namespace sandpool::test::model {

enum class op_kind {
  checkout, checkin, allow, unallow, set_auto, set_manual, set_shared,
  lease,          // a lease returned within the step
  hold,           // a lease the actor keeps across steps (at most two)
  release,        // the actor returns its last held lease (ending its statement)
  query,          // a statement through the actor's last held lease
  begin,          // the same, left running across steps (one per actor)
  end_statement,  // the actor's running statement ends
  exit, advance
};

struct step {
  op_kind op = op_kind::lease;
  int actor = 0;  // who performs it; allow: the giver
  int other = 0;  // allow: who is allowed; unallow: who loses it; set_shared: the shared owner
  bool to_dead = false;           // allow: a fiber that has ended instead of `other`
  bool unallow_existing = false;  // allow
  std::chrono::nanoseconds by{};  // advance
};

// A sequence depends on its seed alone, on every platform: mt19937_64 is
// fully specified, the standard distributions are not (hence the modulo).
inline std::vector<step> generate(std::uint64_t seed, int actors) {
  using namespace std::chrono_literals;
  // Weighted so that leases (where routing shows) and checkouts dominate,
  // while mode switches, which check everyone in, stay rare enough for
  // allowances, timeouts and held leases to build up.
  static constexpr std::array<std::pair<op_kind, int>, 15> weights{{
      {op_kind::checkout, 18}, {op_kind::checkin, 5}, {op_kind::allow, 16},
      {op_kind::unallow, 3}, {op_kind::set_auto, 1}, {op_kind::set_manual, 2},
      {op_kind::set_shared, 4}, {op_kind::lease, 20}, {op_kind::hold, 8},
      {op_kind::release, 4}, {op_kind::query, 8}, {op_kind::begin, 4},
      {op_kind::end_statement, 3}, {op_kind::exit, 3}, {op_kind::advance, 5}}};
  static constexpr std::array<std::chrono::seconds, 7> advances{1s, 2s, 3s, 5s, 9s, 10s, 11s};
  int total = 0;
  for (const auto& [op, w] : weights) total += w;
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  std::vector<step> steps(static_cast<std::size_t>(20 + pick(41)));
  for (step& s : steps) {
    int r = pick(total);
    for (const auto& [op, w] : weights) {
      if (r < w) {
        s.op = op;
        break;
      }
      r -= w;
    }
    s.actor = pick(actors);
    s.other = pick(actors);
    s.to_dead = pick(16) == 0;
    s.unallow_existing = pick(2) == 1;
    s.by = advances[static_cast<std::size_t>(pick(advances.size()))];
  }
  return steps;
}

// A step as the failure report prints it; `who` names an actor, `dead` is
// the ended fiber an allow to_dead names.
template <class Who>
std::string describe(const step& s, owner_id dead, Who who) {
  using namespace std::chrono_literals;
  const std::string actor = who(s.actor);
  switch (s.op) {
    case op_kind::checkout: return absl::StrCat(actor, ": ownership().checkout()");
    case op_kind::checkin: return absl::StrCat(actor, ": ownership().checkin()");
    case op_kind::allow:
      return absl::StrCat(actor, ": allow(self, ",
                          s.to_dead ? absl::StrCat("ended fiber (owner ", dead, ")") : who(s.other),
                          s.unallow_existing ? ", {.unallow_existing = true})" : ")");
    case op_kind::unallow: return absl::StrCat(actor, ": unallow(", who(s.other), ")");
    case op_kind::set_auto: return absl::StrCat(actor, ": set_mode(auto)");
    case op_kind::set_manual: return absl::StrCat(actor, ": set_mode(manual)");
    case op_kind::set_shared:
      return absl::StrCat(actor, ": set_mode(shared(", who(s.other), "))");
    case op_kind::lease: return absl::StrCat(actor, ": pool.checkout()");
    case op_kind::hold: return absl::StrCat(actor, ": pool.checkout(), held");
    case op_kind::release: return absl::StrCat(actor, ": returns its last held lease");
    case op_kind::query: return absl::StrCat(actor, ": a statement through its last held lease");
    case op_kind::begin:
      return absl::StrCat(actor, ": a statement through its last held lease, left running");
    case op_kind::end_statement: return absl::StrCat(actor, ": its running statement ends");
    case op_kind::exit: return absl::StrCat(actor, ": exits");
    case op_kind::advance: return absl::StrCat("clock.advance(", s.by / 1s, " s) + maintain()");
  }
  return "?";
}

// What an operation returned.
struct observed {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string value;    // ok: the value's name
  std::string message;  // error: its text
  bool lease = false;
  int conn = 0;         // a lease's connection id
};

inline observed value(std::string v) {
  observed o;
  o.value = std::move(v);
  return o;
}
inline observed failure(const absl::Status& s) {
  observed o;
  o.code = s.code();
  o.message = std::string(s.message());
  return o;
}
inline observed leased(int conn) {
  observed o;
  o.lease = true;
  o.conn = conn;
  return o;
}
inline const char* name(checkout_result r) {
  switch (r) {
    case checkout_result::checked_out: return "checked_out";
    case checkout_result::already_owner: return "already_owner";
    case checkout_result::already_allowed: return "already_allowed";
  }
  return "?";
}
inline const char* name(allow_result r) {
  switch (r) {
    case allow_result::allowed: return "allowed";
    case allow_result::already_allowed: return "already_allowed";
    case allow_result::already_owner: return "already_owner";
  }
  return "?";
}

inline std::string show(const model::expected& e, const model::reference& ref) {
  if (e.code != absl::StatusCode::kOk)
    return absl::StrCat(absl::StatusCodeToString(e.code), " saying \"",
                        absl::StrJoin(e.fragments, "\" and \""), "\"");
  if (!e.lease) return e.value.empty() ? "ok" : e.value;
  if (e.conn_of == 0) return "a fresh connection";
  const int known = ref.connection_of(e.conn_of);
  return absl::StrCat("the connection of owner ", e.conn_of,
                      known == 0 ? std::string(" (not seen yet)") : absl::StrCat(" (", known, ")"));
}
inline std::string show(const observed& o, std::size_t limit) {
  if (o.code != absl::StatusCode::kOk) {
    std::string m = o.message.size() > limit ? o.message.substr(0, limit) + "..." : o.message;
    return absl::StrCat(absl::StatusCodeToString(o.code), ": ", m);
  }
  if (o.lease) return absl::StrCat("connection ", o.conn);
  return o.value.empty() ? "ok" : o.value;
}

}  // namespace sandpool::test::model
