// The ownership layer's administration: explicit checkout and checkin,
// allowances, capture/adopt, tokens, mode switches, owner exit and close.
// Included by ownership.hpp only.
#pragma once

// The parent first, so this file also compiles alone; when the parent
// includes this file at its end, the parent's #pragma once makes this a no-op.
#include "sandpool/ownership/ownership.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

template <class Core>
auto basic_ownership<Core>::checkout(checkout_options opts, source_location site)
    -> absl::StatusOr<checkout_result> {
  const owner_id caller = current_owner();
  {
    lock_type lk(lock_);
    if (entries_.contains(caller)) return checkout_result::already_owner;
    if (view{this}.allowance_live(caller)) return checkout_result::already_allowed;
    drop_allowance(caller);  // allowed on a checkout that has ended
    if (const auto* s = std::get_if<shared_mode>(&mode_); s != nullptr && s->owner != caller)
      return checkout_result::already_allowed;
    if constexpr (sandboxable<typename Core::driver_type>) {
      // Before waiting for a connection: without a sandbox its writes commit.
      if (opts.sandbox && !decorator_) {
        lk.unlock();
        return detail::sandbox_missing_error(pool_name());
      }
    }
  }
  // Waits in the pool like any checkout, outside the ownership lock, but is
  // never shed by overload control: a test that waits for a connection must
  // get it (FIFO) or time out after checkout_timeout, not fail as overload.
  auto conn = modes::auto_mode::checkout<lease_type>(core_, core_.options().checkout_timeout, site,
                                                     detail::overload::wait);
  if (!conn.ok()) return conn.status();
  std::shared_ptr<decorator_type> decorator;
  {
    lock_type lk(lock_);
    decorator = decorator_;
  }
  if (decorator) {
    if (absl::Status s = decorator->on_checkout(**conn, opts); !s.ok()) {
      decorator->on_release(**conn);
      return s;  // the lease returns the connection, rolled back if dirty
    }
  }
  const bool subscribed = on_owner_exit(caller, this->weak_from_this());
  lock_type lk(lock_);
  const time_point now = core_.clock().now();
  auto e = std::make_unique<entry>(this, &end_turn_thunk);
  e->owner = caller;
  e->label = owner_label(caller);
  e->conn = std::move(*conn);
  e->site = site;
  e->since = now;
  e->limit = options_.ownership_timeout;
  e->deadline = detail::saturating_add(now, options_.ownership_timeout);
  if (e->deadline != time_point::max()) {
    const bool earliest = deadlines_.empty() || e->deadline < deadlines_.begin()->deadline;
    deadlines_.insert(*e);
    if (!reaper_hosted_) {
      reaper_hosted_ = true;
      core_.host([weak = this->weak_from_this()](time_point t) {
        auto self = weak.lock();
        return self ? self->reap(t) : time_point::max();
      });
    } else if (earliest) {
      core_.wake();
    }
  }
  ended_.erase(caller);  // a fresh checkout clears what was reported before
  emit(ownership_event::kind::checkout, caller,
       [&] { return absl::StrCat(e->label, " checked out at ", detail::describe_site(site)); });
  entries_.emplace(caller, std::move(e));
  ++counters_.checkouts;
  refresh_trivial();
  (void)subscribed;  // a context always exists for the caller itself
  return checkout_result::checked_out;
}

template <class Core>
absl::Status basic_ownership<Core>::checkin() {
  const owner_id caller = current_owner();
  lock_type lk(lock_);
  auto it = entries_.find(caller);
  if (it == entries_.end()) {
    if (auto gone = ended_.find(caller); gone != ended_.end() &&
                                         gone->second.info.reason == detail::end_reason::timed_out &&
                                         !gone->second.timeout_reported) {
      detail::ended_owner info = gone->second.info;
      info.ago = core_.clock().now() - gone->second.when;
      gone->second.timeout_reported = true;
      return detail::own_timeout_error(pool_name(), info);
    }
    const owner_id via = view{this}.allowed_on(caller);
    return detail::checkin_not_owner_error(pool_name(), owner_label(caller),
                                           via == 0 ? std::string() : owner_label(via));
  }
  ++counters_.checkins;
  emit(ownership_event::kind::checkin, caller,
       [&] { return absl::StrCat(it->second->label, " checked in"); });
  entry& e = *it->second;
  absl::Status result;
  if (decorator_ && e.depth == 0) {
    // The decorator's checkin does I/O (the sandbox's ROLLBACK): hold the
    // turn so nobody else uses the connection meanwhile, outside the lock.
    e.holder = caller;
    e.depth = 1;
    auto decorator = decorator_;
    lk.unlock();
    result = decorator->on_checkin(*e.conn);
    lk.lock();
    e.depth = 0;
    e.holder = 0;
  }
  end_entry(e, detail::end_reason::checked_in, core_.clock().now());
  return result;
}

// The owner whose connection `caller` uses: itself, the owner it is allowed
// on, or the shared owner; 0 if none. Under the lock.
template <class Core>
owner_id basic_ownership<Core>::root_of(owner_id caller) const {
  if (entries_.contains(caller)) return caller;
  if (view{this}.allowance_live(caller)) return view{this}.allowed_on(caller);
  if (const auto* s = std::get_if<shared_mode>(&mode_)) return s->owner;
  return 0;
}

template <class Core>
auto basic_ownership<Core>::allow(owner_id owner_or_allowed, owner_id other, allow_options opts)
    -> absl::StatusOr<allow_result> {
  if (!on_owner_exit(other, this->weak_from_this()))
    return detail::allow_dead_error(pool_name(), owner_label(other));
  lock_type lk(lock_);
  const owner_id root = root_of(owner_or_allowed);
  if (root == 0) return detail::allow_from_nobody_error(pool_name(), owner_label(owner_or_allowed));
  return allow_locked(root, other, opts);
}

template <class Core>
auto basic_ownership<Core>::allow_locked(owner_id root, owner_id other, allow_options opts)
    -> absl::StatusOr<allow_result> {
  if (other == root) return allow_result::already_owner;
  if (entries_.contains(other)) return detail::allow_owner_error(pool_name(), owner_label(other));
  if (const owner_id current = view{this}.allowed_on(other); current != 0) {
    const bool live = view{this}.allowance_live(other);
    if (current == root && live) return allow_result::already_allowed;
    if (live && !opts.unallow_existing)
      return detail::allow_elsewhere_error(pool_name(), owner_label(other), owner_label(current));
    drop_allowance(other);
  }
  if (auto it = entries_.find(root); it != entries_.end()) {
    allowances_[other] = allowance{root, nullptr};
    it->second->allowed.push_back(other);
  } else if (auto gone = ended_.find(root); gone != ended_.end()) {
    // Adopting a context whose owner is gone: later use reports why.
    allowances_[other] = allowance{root, std::make_shared<const ended_record>(gone->second)};
  } else {
    return detail::allow_from_nobody_error(pool_name(), owner_label(root));
  }
  ++counters_.allows;
  emit(ownership_event::kind::allow, root,
       [&] {
         return absl::StrCat(owner_label(other), " allowed on the connection of ",
                             owner_label(root));
       });
  refresh_trivial();
  return allow_result::allowed;
}

template <class Core>
absl::Status basic_ownership<Core>::unallow(owner_id other) {
  lock_type lk(lock_);
  if (allowances_.contains(other)) {
    drop_allowance(other);
    ++counters_.unallows;
    emit(ownership_event::kind::unallow, other,
         [&] { return absl::StrCat(owner_label(other), " unallowed"); });
  }
  return absl::OkStatus();
}

// Removes `caller`'s allowance and its back-references. Under the lock.
template <class Core>
void basic_ownership<Core>::drop_allowance(owner_id caller) noexcept {
  auto it = allowances_.find(caller);
  if (it == allowances_.end()) return;
  const bool live = it->second.gone == nullptr;
  const owner_id owner = it->second.owner;
  allowances_.erase(it);
  if (auto e = entries_.find(owner); live && e != entries_.end())
    std::erase(e->second->allowed, caller);
  refresh_trivial();
}

template <class Core>
absl::Status basic_ownership<Core>::set_mode(mode m) {
  lock_type lk(lock_);
  const time_point now = core_.clock().now();
  owner_id keep = 0;
  if (const auto* s = std::get_if<shared_mode>(&m)) {
    if (!entries_.contains(s->owner))
      return detail::shared_without_checkout_error(pool_name(), owner_label(s->owner));
    keep = s->owner;
  }
  std::vector<entry*> others;
  for (auto& [id, e] : entries_)
    if (id != keep) others.push_back(e.get());
  for (entry* e : others) end_entry(*e, detail::end_reason::mode_switch, now);
  mode_ = std::move(m);
  ++counters_.mode_switches;
  emit(ownership_event::kind::mode, keep,
       [&] {
         return absl::StrCat("pool '", core_.options().name, "' switched to ",
                             std::string(mode_name(mode_)), " mode");
       });
  refresh_trivial();
  return absl::OkStatus();
}

template <class Core>
mode basic_ownership<Core>::current_mode() const {
  lock_type lk(lock_);
  return mode_;
}

template <class Core>
absl::StatusOr<ownership_context> basic_ownership<Core>::capture() const {
  const owner_id caller = current_owner();
  lock_type lk(lock_);
  const owner_id root = root_of(caller);
  if (root == 0) return detail::allow_from_nobody_error(pool_name(), owner_label(caller));
  return ownership_context{root};
}

template <class Core>
absl::Status basic_ownership<Core>::adopt(const ownership_context& ctx) {
  const owner_id caller = current_owner();
  (void)on_owner_exit(caller, this->weak_from_this());
  lock_type lk(lock_);
  if (!entries_.contains(ctx.owner) && !ended_.contains(ctx.owner))
    return gone_error(caller, ctx.owner, core_.clock().now());
  auto r = allow_locked(ctx.owner, caller, {.unallow_existing = true});
  return r.ok() ? absl::OkStatus() : r.status();
}

template <class Core>
absl::StatusOr<std::string> basic_ownership<Core>::token() {
  const owner_id caller = current_owner();
  lock_type lk(lock_);
  const owner_id root = root_of(caller);
  if (root == 0) return detail::allow_from_nobody_error(pool_name(), owner_label(caller));
  token_parts t{next_token_++, random_secret()};
  tokens_[t.id] = {root, t.secret};
  return encode_token(t);
}

template <class Core>
absl::Status basic_ownership<Core>::adopt_token(std::string_view text) {
  const auto t = parse_token(text);
  if (!t) return detail::token_error(pool_name(), "the sandbox token is malformed");
  const owner_id caller = current_owner();
  (void)on_owner_exit(caller, this->weak_from_this());
  lock_type lk(lock_);
  auto it = tokens_.find(t->id);
  if (it == tokens_.end() || !secrets_equal(it->second.secret, t->secret))
    return detail::token_error(pool_name(),
                               "the sandbox token is unknown, revoked, or its owner checked in");
  auto r = allow_locked(it->second.owner, caller, {.unallow_existing = true});
  return r.ok() ? absl::OkStatus() : r.status();
}

template <class Core>
absl::Status basic_ownership<Core>::revoke(std::string_view text) {
  const auto t = parse_token(text);
  if (!t) return detail::token_error(pool_name(), "the sandbox token is malformed");
  lock_type lk(lock_);
  auto it = tokens_.find(t->id);
  if (it != tokens_.end() && secrets_equal(it->second.secret, t->secret)) tokens_.erase(it);
  return absl::OkStatus();
}

// Ends an owner's hold: allowances now report why, turn waiters fail, and
// the connection goes back to the pool when no turn is active. Under the lock.
template <class Core>
void basic_ownership<Core>::end_entry(entry& e, detail::end_reason why, time_point now) noexcept {
  if (e.is_linked()) deadlines_.erase(deadlines_.iterator_to(e));
  e.ended = true;
  ended_record& r = ended_[e.owner];
  r.info = {e.label, why, {}, now - e.since, e.limit, e.site, e.cancelled};
  r.when = now;
  r.timeout_reported = false;
  if (!e.allowed.empty()) {
    auto gone = std::make_shared<const ended_record>(r);
    for (owner_id caller : e.allowed)
      if (auto a = allowances_.find(caller); a != allowances_.end()) a->second.gone = gone;
    e.allowed.clear();
  }
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    if (it->second.owner == e.owner) {
      tokens_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto it = e.waiters.begin(); it != e.waiters.end();) {
    auto& w = *it;
    it = e.waiters.erase(it);
    w.failure = gone_error(w.caller, e.owner, now);
    detail::notify_all(w.cv);
  }
  if (const auto* s = std::get_if<shared_mode>(&mode_); s != nullptr && s->owner == e.owner) {
    mode_ = manual_mode{};
    ++counters_.mode_switches;
  }
  if (why == detail::end_reason::ended) ++counters_.reclaims;
  const owner_id owner = e.owner;
  if (why == detail::end_reason::ended) ended_.erase(owner);  // nobody left to tell
  auto node = entries_.extract(owner);
  draining_.push_back(std::move(node.mapped()));
  if (e.depth == 0 && e.pins == 0) finalize(e);  // frees e
  refresh_trivial();
}

template <class Core>
void basic_ownership<Core>::owner_ended(owner_id owner) noexcept {
  std::shared_ptr<basic_ownership> last_ref;
  lock_type lk(lock_);
  const time_point now = core_.clock().now();
  if (auto it = entries_.find(owner); it != entries_.end()) {
    emit(ownership_event::kind::reclaim, owner,
         [&] {
           return absl::StrCat(it->second->label,
                               " ended; its connection was rolled back and returned");
         });
    end_entry(*it->second, detail::end_reason::ended, now);
  }
  drop_allowance(owner);
  ended_.erase(owner);
  refresh_trivial();
  if (closed_ && draining_.empty()) last_ref = std::move(keep_alive_);
}

template <class Core>
void basic_ownership<Core>::close() noexcept {
  lock_type lk(lock_);
  const time_point now = core_.clock().now();
  std::vector<entry*> all;
  for (auto& [id, e] : entries_) all.push_back(e.get());
  for (entry* e : all) end_entry(*e, detail::end_reason::mode_switch, now);
  closed_ = true;
  if (!draining_.empty()) keep_alive_ = this->shared_from_this();
}

template <class Core>
ownership_metrics basic_ownership<Core>::metrics() const {
  lock_type lk(lock_);
  ownership_metrics m = counters_;
  m.owners = entries_.size();
  m.allowances = allowances_.size();
  return m;
}

}  // namespace sandpool

#pragma GCC visibility pop
