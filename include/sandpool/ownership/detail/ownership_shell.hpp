// The ownership shell's longer members: leasing (with the turn wait),
// explicit checkout and checkin, close, and the effect runner that carries
// out what the registry decided. Included by ownership.hpp only.
#pragma once

// The parent first, so this file also compiles alone; when the parent
// includes this file at its end, the parent's #pragma once makes this a no-op.
#include "sandpool/ownership/ownership.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

template <class Core>
auto basic_ownership<Core>::lease(std::chrono::nanoseconds timeout, source_location site)
    -> absl::StatusOr<lease_type> {
  const owner_id caller = current_owner();
  lock_type lk(lock_);
  const time_point t = core_.clock().now();
  const auto at = std::chrono::duration_cast<detail::reg_time>(t.time_since_epoch());
  const detail::lease_answer a = registry_.lease(caller, site, at);
  switch (a.how) {
    case detail::lease_answer::kind::fresh:
      lk.unlock();
      return lease_type::take(core_, timeout, site);
    case detail::lease_answer::kind::refused:
      return a.error;
    case detail::lease_answer::kind::turn:
      return turn_lease(*static_cast<handle*>(a.tag), site);
    case detail::lease_answer::kind::wait:
      break;
  }
  // Queued: the registry keeps the handle while a waiter is queued on it,
  // and a granted waiter holds the turn, so `h` stays valid for it.
  auto* h = static_cast<handle*>(a.tag);
  turn_waiter w;
  const time_point deadline = detail::saturating_add(t, timeout);
  const auto wid = reinterpret_cast<detail::waiter_id>(&w);
  registry_.enqueue(a.conn, wid, caller, site, at,
                    std::chrono::duration_cast<detail::reg_time>(deadline.time_since_epoch()));
  while (!w.done()) {
    if constexpr (manual_time<typename Core::clock_type>) {
      w.cv.wait(lk);  // reap() fails it when the test advances time
    } else if (w.cv.wait_until(lk, detail::steady_deadline<typename Core::clock_type>(deadline)) ==
                   boost::fibers::cv_status::timeout &&
               !w.done()) {
      detail::effects fx;
      absl::Status s = registry_.leave(a.conn, wid, now(), fx);
      if (!s.ok()) w.failure = std::move(s);
      if (!fx.empty()) {
        settle(fx, lk);
        lk.lock();
      }
    }
  }
  if (w.granted) return turn_lease(*h, site);
  return w.failure;
}

template <class Core>
auto basic_ownership<Core>::checkout(checkout_options opts, source_location site)
    -> absl::StatusOr<checkout_result> {
  const owner_id caller = current_owner();
  std::shared_ptr<decorator_type> decorator;
  {
    lock_type lk(lock_);
    if (auto repeat = registry_.repeat_checkout(caller)) return *repeat;
    decorator = decorator_;
  }
  if constexpr (sandboxable<typename Core::driver_type>) {
    // Before waiting for a connection: without a sandbox its writes commit.
    if (opts.sandbox && !decorator) return detail::sandbox_missing_error(pool_name());
  }
  // Waits in the pool like any checkout, outside the ownership lock, but is
  // never shed by overload control: a test that waits for a connection must
  // get it (FIFO) or time out after checkout_timeout, not fail as overload.
  auto conn = lease_type::take(core_, core_.options().checkout_timeout, site,
                               detail::overload::wait);
  if (!conn.ok()) return conn.status();
  if (decorator) {
    if (absl::Status s = decorator->on_checkout(**conn, opts); !s.ok()) {
      decorator->on_release(**conn);
      return s;  // the lease returns the connection, rolled back if dirty
    }
  }
  (void)on_owner_exit(caller, this->weak_from_this());  // the caller itself is alive
  auto h = std::make_unique<handle>(this, std::move(*conn));
  h->slot = h->conn.slot_;
  std::string label = owner_label(caller);
  lock_type lk(lock_);
  detail::effects fx;
  const detail::conn_id id = registry_.add(caller, std::move(label), site, now(), h.get(), fx);
  h->id = id;
  handles_.emplace(id, std::move(h));
  settle(fx, lk);
  return checkout_result::checked_out;
}

template <class Core>
absl::Status basic_ownership<Core>::checkin() {
  const owner_id caller = current_owner();
  lock_type lk(lock_);
  detail::effects fx;
  if (absl::Status s = registry_.checkin(caller, now(), fx); !s.ok()) return s;
  absl::Status hook;
  settle(fx, lk, &hook);
  return hook;
}

template <class Core>
auto basic_ownership<Core>::allow(owner_id owner_or_allowed, owner_id other, allow_options opts)
    -> absl::StatusOr<allow_result> {
  if (!on_owner_exit(other, this->weak_from_this()))
    return detail::allow_dead_error(pool_name(), owner_label(other));
  return locked([&](detail::effects& fx) { return registry_.allow(owner_or_allowed, other, opts, fx); });
}

template <class Core>
void basic_ownership<Core>::close() noexcept {
  lock_type lk(lock_);
  detail::effects fx;
  registry_.close(now(), fx);
  closed_ = true;
  if (!handles_.empty()) keep_alive_ = this->shared_from_this();
  settle(fx, lk);
}

template <class Core>
void basic_ownership<Core>::settle(detail::effects& fx, lock_type& lk,
                                   absl::Status* hook) noexcept {
  if (fx.empty()) [[likely]] {  // the common end of a turn or a lease
    trivial_.store(registry_.trivial(), std::memory_order_relaxed);
    if (!closed_) return lk.unlock();
  }
  std::shared_ptr<basic_ownership> last_ref;  // may destroy *this: released last
  std::vector<std::unique_ptr<handle>> dropped;
  for (;;) {
    // Under the lock: waiters (which may leave as soon as it is free) and
    // the handle map; everything else is collected for afterwards.
    absl::InlinedVector<outside_job, 4> jobs;
    bool host = false, wake = false;
    for (detail::effect& e : fx) {
      switch (e.what) {
        case detail::effect::kind::grant:
        case detail::effect::kind::fail: {
          auto* w = reinterpret_cast<turn_waiter*>(e.waiter);
          if (e.what == detail::effect::kind::grant) {
            w->granted = true;
          } else {
            w->failure = std::move(e.status);
          }
          detail::notify_all(w->cv);
          break;
        }
        case detail::effect::kind::drop:
          if (auto node = handles_.extract(e.conn)) dropped.push_back(std::move(node.mapped()));
          break;
        case detail::effect::kind::reaper:
          (reaper_hosted_ ? wake : host) = true;
          reaper_hosted_ = true;
          break;
        case detail::effect::kind::revoke:
        case detail::effect::kind::give_back: {
          handle* h = handles_.at(e.conn).get();
          jobs.push_back({std::move(e), h});
          break;
        }
        case detail::effect::kind::event:
          jobs.push_back({std::move(e), nullptr});
          break;
      }
    }
    fx.clear();
    trivial_.store(registry_.trivial(), std::memory_order_relaxed);
    if (closed_ && handles_.empty() && keep_alive_) last_ref = std::move(keep_alive_);
    const std::shared_ptr<decorator_type> decorator = jobs.empty() ? nullptr : decorator_;
    lk.unlock();
    dropped.clear();
    if (host) {
      core_.host([weak = this->weak_from_this()](time_point t) {
        auto self = weak.lock();
        return self ? self->reap(t) : time_point::max();
      });
    } else if (wake) {
      core_.wake();
    }
    // Outside the lock; the registry keeps each handle until its report.
    absl::InlinedVector<std::pair<outside_job*, detail::revoke_report>, 4> reports;
    for (outside_job& j : jobs) {
      switch (j.e.what) {
        case detail::effect::kind::revoke:
          reports.emplace_back(&j, run_revoke(j.e, *j.h));
          break;
        case detail::effect::kind::give_back:
          run_give_back(j.e, *j.h, decorator.get(), hook);
          reports.emplace_back(&j, detail::revoke_report::idle);
          break;
        default:
          if (options_.on_event) options_.on_event(ownership_event{j.e.event, j.e.owner, j.e.text});
          break;
      }
    }
    if (reports.empty()) return;
    lk.lock();
    for (const auto& [j, report] : reports) {
      if (j->e.what == detail::effect::kind::revoke) {
        registry_.revoked(j->e.conn, report, fx);
      } else {
        registry_.returned(j->e.conn, fx);
      }
    }
  }
}

template <class Core>
detail::revoke_report basic_ownership<Core>::run_revoke(const detail::effect& e,
                                                        handle& h) noexcept {
  if constexpr (gated) {
    statement_gate& gate = (*h.conn).gate();
    if (gate.revoke(e.status)) return detail::revoke_report::idle;
    if (e.cancel) (void)core_.cancel(h.conn.slot_, e.text);
    if (e.wait) {
      // checkin(): wait a bounded time for the cancelled statement to end.
      const auto bound = std::min<std::chrono::nanoseconds>(core_.options().checkout_timeout,
                                                            std::chrono::seconds(10));
      const auto until = std::chrono::steady_clock::now() + bound;
      while (gate.busy() && std::chrono::steady_clock::now() < until)
        boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
    }
    return gate.busy() ? detail::revoke_report::busy : detail::revoke_report::idle;
  } else {
    if (e.cancel && core_.status_of(h.conn.slot_) == tx_status::active)
      (void)core_.cancel(h.conn.slot_, e.text);
    return detail::revoke_report::ungated;
  }
}

// Returns a connection to the pool. A lease still held on it reaches a
// stand-in from now on, which refuses every statement with why; the
// connection's own gate stays shut too (for a reference taken from the
// lease before) until the pool hands the connection to its next lessee.
template <class Core>
void basic_ownership<Core>::run_give_back(const detail::effect& e, handle& h, decorator_type* d,
                                          absl::Status* hook) noexcept {
  if constexpr (gated) {
    if constexpr (std::is_constructible_v<connection, std::nullptr_t>) {
      h.stand_in.emplace(nullptr);
    } else {
      h.stand_in.emplace();
    }
    (void)h.stand_in->gate().revoke(e.status);
    h.current.store(&*h.stand_in, std::memory_order_release);
  }
  if (d != nullptr) {
    if (e.checkin) {
      absl::Status s = d->on_checkin(*h.conn);  // the sandbox's ROLLBACK
      if (hook != nullptr) *hook = std::move(s);
    }
    d->on_release(*h.conn);
  }
  if (e.discard) {
    h.conn.discard();
  } else {
    (void)h.conn.checkin();  // the pool rolls it back if it is dirty
  }
}

}  // namespace sandpool

#pragma GCC visibility pop
