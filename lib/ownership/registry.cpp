// The registry's connections: leases and turns, explicit checkout and
// checkin, the end of an ownership and the way back to the pool, the
// reaper's round. Allowances, tokens and modes are in registry_grants.cpp.
#include "sandpool/ownership/detail/registry.hpp"

#include <algorithm>
#include <cassert>

#include "absl/strings/str_cat.h"
#include "sandpool/core/detail/messages.hpp"

namespace sandpool::detail {

registry::registry(registry_options o) : options_(std::move(o)) {}

bool registry::trivial() const noexcept {
  return std::holds_alternative<auto_mode>(mode_) && owners_.empty() && allowances_.empty() &&
         ended_.empty();
}

registry::conn_rec* registry::find(conn_id id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

void registry::emit(effects& fx, ownership_event::kind k, owner_id owner,
                    std::string text) const {
  if (!options_.events) return;
  effect e{effect::kind::event};
  e.event = k;
  e.owner = owner;
  e.text = std::move(text);
  fx.push_back(std::move(e));
}

// The owner's next request after a timeout says so, once.
absl::Status registry::reported_timeout(owner_id caller, reg_time now) {
  auto it = ended_.find(caller);
  if (it == ended_.end() || it->second.info.reason != end_reason::timed_out ||
      it->second.timeout_reported || owners_.contains(caller))
    return absl::OkStatus();
  ended_owner info = it->second.info;
  info.ago = now - it->second.when;
  it->second.timeout_reported = true;
  return own_timeout_error(options_.pool, info);
}

lease_answer registry::lease(owner_id caller, const source_location& site, reg_time now) {
  if (absl::Status s = reported_timeout(caller, now); !s.ok())
    return {lease_answer::kind::refused, 0, nullptr, std::move(s)};
  const route r = decide(mode_, caller, view{this});
  switch (r.how) {
    case route::kind::fresh:
      return {lease_answer::kind::fresh, 0, nullptr, {}};
    case route::kind::owned:
    case route::kind::allowed:
    case route::kind::shared:
      if (auto it = owners_.find(r.owner); it != owners_.end())
        return take_turn(it->second.id, *it->second.rec, caller, site, now);
      [[fallthrough]];
    case route::kind::owner_gone:
      return {lease_answer::kind::refused, 0, nullptr, gone_error(caller, r.owner, now)};
    case route::kind::unowned:
      break;
  }
  return {lease_answer::kind::refused, 0, nullptr,
          unowned_error(options_.pool, mode_name(mode_), owner_label(caller))};
}

lease_answer registry::take_turn(conn_id id, conn_rec& r, owner_id caller,
                                 const source_location& site, reg_time now) {
  if (r.holder == caller) {  // re-entrant: the holder asks again
    ++r.depth;
    return {lease_answer::kind::turn, id, r.tag, {}};
  }
  if (r.holder == 0 && r.waiters.empty()) {
    r.holder = caller;
    r.depth = 1;
    r.holder_site = site;
    r.holder_since = now;
    return {lease_answer::kind::turn, id, r.tag, {}};
  }
  return {lease_answer::kind::wait, id, r.tag, {}};
}

void registry::enqueue(conn_id c, waiter_id w, owner_id caller, const source_location& site,
                       reg_time now, reg_time deadline) {
  conns_.at(c).waiters.push_back({w, caller, site, now, deadline});
  ++counters_.turn_waits;
}

absl::Status registry::turn_timeout(const conn_rec& r, const turn_wait& w, reg_time now) const {
  return turn_timeout_error(options_.pool, owner_label(w.caller), r.label, now - w.enqueued,
                            owner_label(r.holder), now - r.holder_since, r.holder_site);
}

absl::Status registry::leave(conn_id c, waiter_id w, reg_time now, effects& fx) {
  conn_rec* r = find(c);
  if (r == nullptr) return absl::OkStatus();
  auto it = std::find_if(r->waiters.begin(), r->waiters.end(),
                         [&](const turn_wait& t) { return t.id == w; });
  if (it == r->waiters.end()) return absl::OkStatus();
  absl::Status s = turn_timeout(*r, *it, now);
  r->waiters.erase(it);
  ++counters_.turn_timeouts;
  maybe_drop(c, *r, fx);
  return s;
}

void registry::grant_next(conn_id id, conn_rec& r, reg_time now, effects& fx) {
  if (r.waiters.empty()) return;
  const turn_wait w = r.waiters.front();
  r.waiters.pop_front();
  r.holder = w.caller;
  r.depth = 1;
  r.holder_site = w.site;
  r.holder_since = now;
  effect e{effect::kind::grant};
  e.conn = id;
  e.waiter = w.id;
  fx.push_back(std::move(e));
}

void registry::end_turn(conn_id c, absl::FunctionRef<reg_time()> now, effects& fx) {
  conn_rec& r = conns_.at(c);
  assert(r.depth > 0 && "a turn ended twice");
  if (--r.depth > 0) return;
  r.holder = 0;
  switch (r.at) {
    case phase::owned:
      if (!r.waiters.empty()) grant_next(c, r, now(), fx);
      break;
    case phase::revoking:  // the last lease is gone, so no statement runs
      if (r.outside == 0) start_return(c, r, fx);
      break;
    case phase::returning:
    case phase::returned:
      maybe_drop(c, r, fx);
      break;
  }
}

std::optional<checkout_result> registry::repeat_checkout(owner_id caller) {
  if (owners_.contains(caller)) return checkout_result::already_owner;
  if (view{this}.allowance_live(caller)) return checkout_result::already_allowed;
  drop_allowance(caller);  // allowed on a checkout that has ended
  if (!std::visit([&](const auto& m) { return m.checkout_proceeds(caller); }, mode_))
    return checkout_result::already_allowed;
  return std::nullopt;
}

conn_id registry::add(owner_id caller, std::string label, const source_location& site,
                      reg_time now, void* tag, effects& fx) {
  const conn_id id = next_conn_++;
  conn_rec& r = conns_[id];
  r.owner = caller;
  r.tag = tag;
  r.label = std::move(label);
  r.site = site;
  r.since = now;
  r.limit = options_.ownership_timeout;
  r.deadline = options_.ownership_timeout >= reg_time::max() - now
                   ? reg_time::max()
                   : now + options_.ownership_timeout;
  if (r.deadline != reg_time::max()) {
    const bool earliest = deadlines_.empty() || r.deadline < deadlines_.begin()->first;
    deadlines_.emplace(r.deadline, id);
    if (earliest) fx.push_back(effect{effect::kind::reaper});
  }
  owners_[caller] = {id, &r};
  ended_.erase(caller);  // a fresh checkout clears what was reported before
  ++counters_.checkouts;
  if (options_.events)
    emit(fx, ownership_event::kind::checkout, caller,
         absl::StrCat(r.label, " checked out at ", describe_site(site)));
  return id;
}

absl::Status registry::checkin(owner_id caller, reg_time now, effects& fx) {
  auto it = owners_.find(caller);
  if (it == owners_.end()) {
    if (absl::Status s = reported_timeout(caller, now); !s.ok()) return s;
    const owner_id via = view{this}.allowed_on(caller);
    return checkin_not_owner_error(options_.pool, owner_label(caller),
                                   via == 0 ? std::string() : owner_label(via));
  }
  const conn_id id = it->second.id;
  conn_rec& r = conns_.at(id);
  ++counters_.checkins;
  if (options_.events)
    emit(fx, ownership_event::kind::checkin, caller, absl::StrCat(r.label, " checked in"));
  r.checkin_hook = true;
  end(id, r, end_reason::checked_in, now, fx);
  return absl::OkStatus();
}

// The one transition out of `owned`: allowances now report why, turn waiters
// fail, tokens die, and the connection is refused to every lease and goes
// back to the pool as soon as no statement runs on it.
void registry::end(conn_id id, conn_rec& r, end_reason why, reg_time now, effects& fx) {
  assert(r.at == phase::owned);
  if (r.deadline != reg_time::max()) deadlines_.erase({r.deadline, id});
  owners_.erase(r.owner);
  ended_record& rec = ended_[r.owner];
  rec.info = {r.label, why, {}, now - r.since, r.limit, r.site, false};
  rec.when = now;
  rec.timeout_reported = false;
  if (!r.allowed.empty()) {
    auto gone = std::make_shared<const ended_record>(rec);
    for (owner_id caller : r.allowed)
      if (auto a = allowances_.find(caller); a != allowances_.end()) a->second.gone = gone;
    r.allowed.clear();
  }
  absl::erase_if(tokens_, [&](const auto& t) { return t.second.owner == r.owner; });
  for (const turn_wait& w : r.waiters) {
    effect e{effect::kind::fail};
    e.conn = id;
    e.waiter = w.id;
    e.status = gone_error(w.caller, r.owner, now);
    fx.push_back(std::move(e));
  }
  r.waiters.clear();
  if (std::visit([&](const auto& m) { return m.ends_with(r.owner); }, mode_)) {
    mode_ = manual_mode{};
    ++counters_.mode_switches;
  }
  r.refusal = lease_revoked_error(options_.pool, rec.info);
  // Before rec goes (below, if nobody is left to tell): a held lease's
  // running statement is cancelled with this reason.
  std::string cancel_reason =
      r.depth == 0 ? std::string() : statement_cancel_reason(options_.pool, rec.info);
  if (why == end_reason::ended) {
    ++counters_.reclaims;
    ended_.erase(r.owner);  // nobody left to tell
  }
  r.at = phase::revoking;
  if (r.depth == 0) {
    start_return(id, r, fx);
    return;
  }
  // A lease is still held: refuse it, and cancel what it runs.
  effect e{effect::kind::revoke};
  e.conn = id;
  e.status = r.refusal;
  e.cancel = true;
  e.wait = why == end_reason::checked_in;
  e.text = std::move(cancel_reason);
  fx.push_back(std::move(e));
  ++r.outside;
}

void registry::start_return(conn_id id, conn_rec& r, effects& fx) {
  r.at = phase::returning;
  effect e{effect::kind::give_back};
  e.conn = id;
  e.status = r.refusal;
  e.discard = r.cancelled;
  e.checkin = r.checkin_hook;
  fx.push_back(std::move(e));
  ++r.outside;
}

void registry::maybe_drop(conn_id id, conn_rec& r, effects& fx) {
  if (r.at != phase::returned || r.depth > 0 || r.outside > 0 || !r.waiters.empty()) return;
  effect e{effect::kind::drop};
  e.conn = id;
  fx.push_back(std::move(e));
  conns_.erase(id);  // r is gone
}

void registry::revoked(conn_id c, revoke_report report, effects& fx) {
  conn_rec& r = conns_.at(c);
  --r.outside;
  const bool first_busy = report == revoke_report::busy && !r.cancelled;
  if (report == revoke_report::busy) {
    r.cancelled = true;  // its session's state is unknown: close it
    if (auto e = ended_.find(r.owner); e != ended_.end()) e->second.info.cancelled_query = true;
  }
  if (r.at != phase::revoking || r.outside > 0) return;
  if (report == revoke_report::idle || r.depth == 0) {
    start_return(c, r, fx);
  } else if (first_busy) {
    // expire() looks again soon, and every recheck after, until it is idle.
    fx.push_back(effect{effect::kind::reaper});
  }
}

void registry::returned(conn_id c, effects& fx) {
  conn_rec& r = conns_.at(c);
  --r.outside;
  r.at = phase::returned;
  maybe_drop(c, r, fx);
}

void registry::owner_ended(owner_id owner, reg_time now, effects& fx) {
  if (auto it = owners_.find(owner); it != owners_.end()) {
    conn_rec& r = *it->second.rec;
    if (options_.events)
      emit(fx, ownership_event::kind::reclaim, owner,
           absl::StrCat(r.label, " ended; its connection was rolled back and returned"));
    end(it->second.id, r, end_reason::ended, now, fx);
  }
  drop_allowance(owner);
  ended_.erase(owner);
}

void registry::close(reg_time now, effects& fx) {
  std::vector<conn_id> all;
  for (const auto& [owner, o] : owners_) all.push_back(o.id);
  for (conn_id id : all) end(id, conns_.at(id), end_reason::mode_switch, now, fx);
}

reg_time registry::expire(reg_time now, effects& fx) {
  reg_time next = reg_time::max();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const conn_id id = deadlines_.begin()->second;
    conn_rec& r = conns_.at(id);
    ++counters_.timeouts;
    if (options_.events)
      emit(fx, ownership_event::kind::timeout, r.owner,
           absl::StrCat(r.label, " held its connection past ownership_timeout"));
    end(id, r, end_reason::timed_out, now, fx);
  }
  for (const auto& [deadline, id] : deadlines_) {
    conn_rec& r = conns_.at(id);
    if (options_.warn_before <= reg_time::zero() || r.warned) continue;
    const reg_time warn_at = deadline - std::min(options_.warn_before, r.limit);
    if (warn_at <= now) {
      r.warned = true;
      emit(fx, ownership_event::kind::warning, r.owner,
           absl::StrCat(r.label, " will lose its connection to ownership_timeout soon"));
    } else {
      next = std::min(next, warn_at);
    }
  }
  if (!deadlines_.empty()) next = std::min(next, deadlines_.begin()->first);
  for (auto& [id, r] : conns_) {
    // A revoked connection whose statement still ran last time: look again.
    if (r.at == phase::revoking && r.outside == 0 && r.depth > 0 && r.cancelled) {
      effect e{effect::kind::revoke};
      e.conn = id;
      e.status = r.refusal;
      fx.push_back(std::move(e));
      ++r.outside;
      next = std::min(next, now + options_.recheck);
    }
    if (!options_.expire_waits) continue;
    for (auto it = r.waiters.begin(); it != r.waiters.end();) {
      if (it->deadline > now) {
        next = std::min(next, it->deadline);
        ++it;
        continue;
      }
      effect e{effect::kind::fail};
      e.conn = id;
      e.waiter = it->id;
      e.status = turn_timeout(r, *it, now);
      fx.push_back(std::move(e));
      ++counters_.turn_timeouts;
      it = r.waiters.erase(it);
    }
  }
  return next;
}

conn_id registry::root_conn(owner_id caller) const {
  auto it = owners_.find(root_of(caller));
  return it == owners_.end() ? 0 : it->second.id;
}

ownership_metrics registry::metrics() const {
  ownership_metrics m = counters_;
  m.owners = owners_.size();
  m.allowances = allowances_.size();
  return m;
}

}  // namespace sandpool::detail
