// The registry's grants: allowances (resolved to the root owner, so they
// are transitive), captured contexts, tokens, and mode switches.
#include "absl/strings/str_cat.h"
#include "sandpool/ownership/detail/registry.hpp"

namespace sandpool::detail {

// The owner whose connection `caller` uses: itself, the owner it is allowed
// on, or the shared owner; 0 if none.
owner_id registry::root_of(owner_id caller) const {
  if (owners_.contains(caller)) return caller;
  if (view{this}.allowance_live(caller)) return view{this}.allowed_on(caller);
  if (const auto* s = std::get_if<shared_mode>(&mode_)) return s->owner;
  return 0;
}

absl::Status registry::gone_error(owner_id caller, owner_id owner, reg_time now) const {
  const ended_record* record = nullptr;
  if (auto a = allowances_.find(caller); a != allowances_.end() && a->second.gone)
    record = a->second.gone.get();
  else if (auto it = ended_.find(owner); it != ended_.end())
    record = &it->second;
  ended_owner info;
  if (record != nullptr) {
    info = record->info;
    info.ago = now - record->when;
  } else {
    info.label = owner_label(owner);
    info.reason = end_reason::ended;
  }
  return owner_gone_error(options_.pool, owner_label(caller), info);
}

absl::StatusOr<allow_result> registry::allow(owner_id owner_or_allowed, owner_id other,
                                             allow_options o, effects& fx) {
  const owner_id root = root_of(owner_or_allowed);
  if (root == 0) return allow_from_nobody_error(options_.pool, owner_label(owner_or_allowed));
  return allow_root(root, other, o, fx);
}

absl::StatusOr<allow_result> registry::allow_root(owner_id root, owner_id other,
                                                  allow_options o, effects& fx) {
  if (other == root) return allow_result::already_owner;
  if (owners_.contains(other)) return allow_owner_error(options_.pool, owner_label(other));
  if (const owner_id current = view{this}.allowed_on(other); current != 0) {
    const bool live = view{this}.allowance_live(other);
    if (current == root && live) return allow_result::already_allowed;
    if (live && !o.unallow_existing)
      return allow_elsewhere_error(options_.pool, owner_label(other), owner_label(current));
    drop_allowance(other);
  }
  if (auto it = owners_.find(root); it != owners_.end()) {
    allowances_[other] = allowance{root, nullptr};
    it->second.rec->allowed.push_back(other);
  } else if (auto gone = ended_.find(root); gone != ended_.end()) {
    // Adopting a context whose owner is gone: later use reports why.
    allowances_[other] = allowance{root, std::make_shared<const ended_record>(gone->second)};
  } else {
    return allow_from_nobody_error(options_.pool, owner_label(root));
  }
  ++counters_.allows;
  if (options_.events)
    emit(fx, ownership_event::kind::allow, root,
         absl::StrCat(owner_label(other), " allowed on the connection of ", owner_label(root)));
  return allow_result::allowed;
}

void registry::unallow(owner_id other, effects& fx) {
  if (!allowances_.contains(other)) return;
  drop_allowance(other);
  ++counters_.unallows;
  if (options_.events)
    emit(fx, ownership_event::kind::unallow, other, absl::StrCat(owner_label(other), " unallowed"));
}

// Removes `caller`'s allowance and its back-reference.
void registry::drop_allowance(owner_id caller) {
  auto it = allowances_.find(caller);
  if (it == allowances_.end()) return;
  const bool live = it->second.gone == nullptr;
  const owner_id owner = it->second.owner;
  allowances_.erase(it);
  if (auto o = owners_.find(owner); live && o != owners_.end())
    std::erase(o->second.rec->allowed, caller);
}

absl::StatusOr<ownership_context> registry::capture(owner_id caller) const {
  const owner_id root = root_of(caller);
  if (root == 0) return allow_from_nobody_error(options_.pool, owner_label(caller));
  return ownership_context{root};
}

absl::Status registry::adopt(owner_id caller, owner_id owner, reg_time now, effects& fx) {
  if (!owners_.contains(owner) && !ended_.contains(owner)) return gone_error(caller, owner, now);
  auto r = allow_root(owner, caller, {.unallow_existing = true}, fx);
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::StatusOr<token_parts> registry::issue_token(owner_id caller,
                                                  const std::array<std::uint8_t, 16>& secret) {
  const owner_id root = root_of(caller);
  if (root == 0) return allow_from_nobody_error(options_.pool, owner_label(caller));
  token_parts t{next_token_++, secret};
  tokens_[t.id] = {root, t.secret};
  return t;
}

absl::Status registry::adopt_token(owner_id caller, const token_parts& t, effects& fx) {
  auto it = tokens_.find(t.id);
  if (it == tokens_.end() || !secrets_equal(it->second.secret, t.secret))
    return token_error(options_.pool,
                       "the sandbox token is unknown, revoked, or its owner checked in");
  auto r = allow_root(it->second.owner, caller, {.unallow_existing = true}, fx);
  return r.ok() ? absl::OkStatus() : r.status();
}

void registry::revoke_token(const token_parts& t) {
  auto it = tokens_.find(t.id);
  if (it != tokens_.end() && secrets_equal(it->second.secret, t.secret)) tokens_.erase(it);
}

// Entering a mode checks in every owner the mode does not keep; shared mode
// needs its owner to have checked out.
absl::Status registry::set_mode(mode m, reg_time now, effects& fx) {
  const owner_id needed = std::visit([](const auto& x) { return x.requires_owner(); }, m);
  if (needed != 0 && !owners_.contains(needed))
    return shared_without_checkout_error(options_.pool, owner_label(needed));
  std::vector<std::pair<owner_id, conn_id>> others;
  for (const auto& entry : owners_) {
    const owner_id owner = entry.first;  // named, not bound: lambdas capture it
    if (!std::visit([&](const auto& x) { return x.keeps(owner); }, m))
      others.emplace_back(owner, entry.second.id);
  }
  for (const auto& [owner, id] : others) end(id, conns_.at(id), end_reason::mode_switch, now, fx);
  mode_ = std::move(m);
  ++counters_.mode_switches;
  if (options_.events)
    emit(fx, ownership_event::kind::mode, needed,
         absl::StrCat("pool '", options_.pool, "' switched to ", std::string(mode_name(mode_)),
                      " mode"));
  return absl::OkStatus();
}

}  // namespace sandpool::detail
