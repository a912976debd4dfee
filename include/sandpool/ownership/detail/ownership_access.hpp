// The ownership layer's access path: routing a lease request, taking turns
// on a shared connection, ending turns, and the reaper round. Included by
// ownership.hpp only.
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
  const time_point now = core_.clock().now();
  if (auto it = ended_.find(caller);
      it != ended_.end() && it->second.info.reason == detail::end_reason::timed_out &&
      !it->second.timeout_reported && !entries_.contains(caller)) {
    // The owner's next request after a timeout says so, once.
    detail::ended_owner info = it->second.info;
    info.ago = now - it->second.when;
    it->second.timeout_reported = true;
    return detail::own_timeout_error(pool_name(), info);
  }
  const route r = decide(mode_, caller, view{this});
  switch (r.how) {
    case route::kind::fresh:
      lk.unlock();
      return modes::auto_mode::checkout<lease_type>(core_, timeout, site);
    case route::kind::owned:
    case route::kind::allowed:
    case route::kind::shared:
      if (auto it = entries_.find(r.owner); it != entries_.end())
        return take_turn(*it->second, caller, timeout, site, lk);
      return gone_error(caller, r.owner, now);
    case route::kind::owner_gone:
      return gone_error(caller, r.owner, now);
    case route::kind::unowned:
      break;
  }
  return detail::unowned_error(pool_name(), mode_name(mode_), owner_label(caller));
}

template <class Core>
auto basic_ownership<Core>::take_turn(entry& e, owner_id caller, std::chrono::nanoseconds timeout,
                                      source_location site, lock_type& lk)
    -> absl::StatusOr<lease_type> {
  const time_point now = core_.clock().now();
  if (e.holder == caller) {  // re-entrant: the holder asks again
    ++e.depth;
    return turn_lease(e, site);
  }
  if (e.holder == 0 && e.waiters.empty()) {
    e.holder = caller;
    e.depth = 1;
    e.holder_site = site;
    e.holder_since = now;
    return turn_lease(e, site);
  }
  detail::turn_waiter<time_point> w;
  w.caller = caller;
  w.site = site;
  w.enqueued = now;
  w.deadline = detail::saturating_add(now, timeout);
  e.waiters.push_back(w);
  ++e.pins;
  ++counters_.turn_waits;
  while (!w.done()) {
    if constexpr (manual_time<typename Core::clock_type>) {
      w.cv.wait(lk);  // reap() expires it when the test advances time
    } else if (w.cv.wait_until(lk, detail::steady_deadline<typename Core::clock_type>(
                                       w.deadline)) == boost::fibers::cv_status::timeout &&
               !w.done()) {
      const time_point t = core_.clock().now();
      e.waiters.erase(e.waiters.iterator_to(w));
      ++counters_.turn_timeouts;
      w.failure = detail::turn_timeout_error(pool_name(), owner_label(caller), e.label,
                                             t - w.enqueued, owner_label(e.holder),
                                             t - e.holder_since, e.holder_site);
    }
  }
  --e.pins;
  if (w.granted) return turn_lease(e, site);
  if (e.ended && e.depth == 0 && e.pins == 0) finalize(e);
  return w.failure;
}

template <class Core>
void basic_ownership<Core>::end_turn(entry& e) noexcept {
  std::shared_ptr<basic_ownership> last_ref;
  {
    lock_type lk(lock_);
    if (--e.depth > 0) return;
    e.holder = 0;
    if (e.ended) {
      if (e.pins == 0) finalize(e);
    } else if (!e.waiters.empty()) {
      auto& w = e.waiters.front();
      e.waiters.pop_front();
      e.holder = w.caller;
      e.depth = 1;
      e.holder_site = w.site;
      e.holder_since = core_.clock().now();
      w.granted = true;
      detail::notify_all(w.cv);  // under the lock: the waiter cannot leave before
    }
    if (closed_ && draining_.empty()) last_ref = std::move(keep_alive_);
  }
  // last_ref may destroy *this here, after the lock is released.
}

// Returns an ended entry's connection to the pool and frees the entry.
template <class Core>
void basic_ownership<Core>::finalize(entry& e) noexcept {
  if (decorator_) decorator_->on_release(*e.conn);
  if (e.discard) {
    e.conn.discard();
  } else {
    (void)e.conn.checkin();  // the pool rolls it back if it is dirty
  }
  std::erase_if(draining_, [&](const std::unique_ptr<entry>& p) { return p.get() == &e; });
}

template <class Core>
absl::Status basic_ownership<Core>::gone_error(owner_id caller, owner_id owner,
                                               time_point now) const {
  const ended_record* record = nullptr;
  if (auto a = allowances_.find(caller); a != allowances_.end() && a->second.gone)
    record = a->second.gone.get();
  else if (auto it = ended_.find(owner); it != ended_.end())
    record = &it->second;
  detail::ended_owner info;
  if (record != nullptr) {
    info = record->info;
    info.ago = now - record->when;
  } else {
    info.label = owner_label(owner);
    info.reason = detail::end_reason::ended;
  }
  return detail::owner_gone_error(pool_name(), owner_label(caller), info);
}

template <class Core>
auto basic_ownership<Core>::reap(time_point now) -> time_point {
  struct cancel_job {
    entry* e;
    std::chrono::nanoseconds held, limit;
  };
  std::vector<cancel_job> to_cancel;
  time_point next = time_point::max();
  {
    lock_type lk(lock_);
    while (!deadlines_.empty() && deadlines_.begin()->deadline <= now) {
      entry& e = *deadlines_.begin();
      if (e.depth > 0 && core_.status_of(e.conn.slot_) == tx_status::active) {
        // A query is in flight: cancel it and close the connection after.
        e.discard = e.cancelled = true;
        ++e.pins;
        to_cancel.push_back(
            {&e, std::chrono::duration_cast<std::chrono::nanoseconds>(now - e.since), e.limit});
      }
      ++counters_.timeouts;
      emit(ownership_event::kind::timeout, e.owner,
           [&] { return absl::StrCat(e.label, " held its connection past ownership_timeout"); });
      end_entry(e, detail::end_reason::timed_out, now);
    }
    for (entry& e : deadlines_) {
      if (options_.warn_before <= std::chrono::nanoseconds::zero() || e.warned) continue;
      const time_point warn_at = e.deadline - std::min(options_.warn_before, e.limit);
      if (warn_at <= now) {
        e.warned = true;
        emit(ownership_event::kind::warning, e.owner,
             [&] {
               return absl::StrCat(e.label, " will lose its connection to ownership_timeout soon");
             });
      } else {
        next = std::min(next, warn_at);
      }
    }
    if (!deadlines_.empty()) next = std::min(next, deadlines_.begin()->deadline);
    // Turn waits under a manual clock cannot time out on their own.
    if constexpr (manual_time<typename Core::clock_type>) {
      for (auto& [id, e] : entries_)
        for (auto it = e->waiters.begin(); it != e->waiters.end();) {
          auto& w = *it;
          if (w.deadline > now) {
            next = std::min(next, w.deadline);
            ++it;
            continue;
          }
          it = e->waiters.erase(it);
          ++counters_.turn_timeouts;
          w.failure = detail::turn_timeout_error(pool_name(), owner_label(w.caller), e->label,
                                                 now - w.enqueued, owner_label(e->holder),
                                                 now - e->holder_since, e->holder_site);
          detail::notify_all(w.cv);
        }
    }
  }
  for (const cancel_job& job : to_cancel) {
    entry* e = job.e;  // pinned: alive, and its label does not change
    (void)core_.cancel(e->conn.slot_, detail::timeout_cancel_reason(pool_name(), e->label,
                                                                    job.held, job.limit));
    lock_type lk(lock_);
    if (--e->pins == 0 && e->depth == 0 && e->ended) finalize(*e);
  }
  return next;
}

}  // namespace sandpool

#pragma GCC visibility pop
