// The pool handle applications hold. It owns the core (slots, idle list,
// waiters, housekeeping) and the ownership layer, and routes every checkout
// through the ownership mode: in auto mode (the default, production) each
// caller gets its own connection; a test build switches the same pool to
// manual or shared mode without touching application code. Movable;
// destroying it checks every owner in and shuts the pool down without
// waiting; leases still out stay valid until they are returned (their
// connections are then closed).
//
// basic_pool is generic over the driver (the fake driver in unit tests);
// sandpool::pool is the pool over libpq. This header assembles the core and
// the ownership layer; the sandbox and testing layers build on it.
#pragma once

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "modes/auto.hpp"
#include "sandpool/core/clock.hpp"
#include "sandpool/core/detail/core.hpp"
#include "sandpool/core/driver.hpp"
#include "sandpool/core/lease.hpp"
#include "sandpool/core/metrics.hpp"
#include "sandpool/core/options.hpp"
#include "sandpool/core/source_location.hpp"
#include "sandpool/ownership/ownership.hpp"
#include "sandpool/pq/driver.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

template <driver Driver, class Clock = coarse_clock>
class basic_pool {
 public:
  using core_type = detail::core<Driver, Clock>;
  using lease_type = basic_lease<core_type>;
  using ownership_type = basic_ownership<core_type>;
  using connection = typename Driver::connection;
  using time_point = typename Clock::time_point;

  // Validates the options and starts the pool (housekeeping opens min_idle
  // connections in the background; with initial_connect_timeout, create()
  // waits for a first one). Errors: InvalidArgument naming the bad option
  // and its fix; with initial_connect_timeout, the connect error (at once
  // for a permanent one, else DeadlineExceeded after that long).
  [[nodiscard]] static absl::StatusOr<basic_pool> create(Driver driver, pool_options options = {},
                                                         Clock clock = {},
                                                         ownership_options owning = {}) {
    if (absl::Status s = options.validate(); !s.ok()) return s;
    if constexpr (manual_time<Clock>) {
      if (options.housekeeper == housekeeping::thread)
        return absl::InvalidArgumentError(absl::StrCat(
            "pool '", options.name,
            "': a manual clock needs housekeeping::manual (the housekeeping thread waits "
            "on real time); set options.housekeeper = sandpool::housekeeping::manual and "
            "call maintain()"));
    }
    if (owning.ownership_timeout <= nanoseconds::zero())
      return absl::InvalidArgumentError(absl::StrCat(
          "pool '", options.name,
          "': option ownership_timeout must be above zero; use sandpool::infinite to let "
          "owners keep connections indefinitely"));
    if (owning.warn_before < nanoseconds::zero())
      return absl::InvalidArgumentError(absl::StrCat(
          "pool '", options.name, "': option warn_before must be zero (off) or more"));
    // The server's notices go to the event hook, where the driver can route them.
    if constexpr (requires { driver = driver.with_notices(notice_sink{}); }) {
      if (options.on_event) {
        driver = driver.with_notices([hook = options.on_event, name = options.name](
                                         const server_notice& n) {
          pool_event e{pool_event_kind::notice, name, {}};
          e.notice = n;
          detail::deliver(hook, e);
        });
      }
    }
    const nanoseconds first = options.initial_connect_timeout;
    basic_pool p(new core_type(std::move(driver), std::move(options), std::move(clock)),
                 std::move(owning));
    if (first > nanoseconds::zero()) {
      // A first connection, as a checkout of it (the pool is in auto mode).
      auto l = p.checkout(first);
      if (!l.ok()) {
        return absl::Status(
            l.status().code(),
            absl::StrCat("pool '", p.options().name, "': create() could not open a first "
                         "connection within initial_connect_timeout: ", l.status().message()));
      }
    }
    return p;
  }

  basic_pool(basic_pool&&) noexcept = default;
  basic_pool& operator=(basic_pool&& other) noexcept {
    if (this != &other) {
      if (own_) own_->close();
      own_ = std::move(other.own_);
      core_ = std::move(other.core_);
    }
    return *this;
  }
  ~basic_pool() {
    if (own_) own_->close();
  }

  // Leases a connection for the caller's scope, waiting up to
  // checkout_timeout. In auto mode it is the caller's own; in manual or
  // shared mode it is a turn on the connection the caller owns, is allowed
  // on, or shares. Thread-safe; a fiber that waits lets the other fibers of
  // its thread run. Errors: DeadlineExceeded (timed out: live counts, the
  // longest holder and the last connect error), ResourceExhausted (shed
  // under overload), FailedPrecondition (pool shut down; or, in manual
  // mode, the caller has no connection: the message lists the ways to get
  // one), and the ownership errors of basic_ownership::lease().
  [[nodiscard]] absl::StatusOr<lease_type> checkout(
      source_location site = source_location::current()) {
    return checkout(core_->options().checkout_timeout, site);
  }
  [[nodiscard]] absl::StatusOr<lease_type> checkout(
      std::chrono::nanoseconds timeout,
      source_location site = source_location::current()) {
    if (own_->trivial()) return lease_type::take(*core_, timeout, site);
    return own_->lease(timeout, site);
  }

  // Explicit ownership: checkout/checkin, allow, modes, capture, tokens.
  ownership_type& ownership() noexcept { return *own_; }

  // Stops checkouts, fails waiters, closes idle connections and waits for
  // outstanding leases up to shutdown_timeout (or `grace`). Errors:
  // DeadlineExceeded listing the leases still out and where they were
  // checked out; they are closed when returned. Thread-safe, idempotent.
  [[nodiscard]] absl::Status shutdown() { return core_->shutdown(core_->options().shutdown_timeout); }
  [[nodiscard]] absl::Status shutdown(std::chrono::nanoseconds grace) {
    return core_->shutdown(grace);
  }

  // Runs one housekeeping round now (the only way it runs under
  // housekeeping::manual). Returns when the next round is due.
  time_point maintain() { return core_->maintain(); }

  sandpool::metrics metrics() const { return core_->snapshot(); }
  const pool_options& options() const noexcept { return core_->options(); }
  const Driver& driver() const noexcept { return core_->driver_ref(); }

 private:
  struct orphaner {
    void operator()(core_type* c) const noexcept { core_type::orphan(c); }
  };
  basic_pool(core_type* core, ownership_options owning)
      : core_(core), own_(std::make_shared<ownership_type>(*core, std::move(owning))) {}

  // Destroyed in reverse order: owners are checked in before the core goes.
  std::unique_ptr<core_type, orphaner> core_;
  std::shared_ptr<ownership_type> own_;
};

// The pool over libpq, and its lease.
using pool = basic_pool<pq::driver>;
using lease = pool::lease_type;

}  // namespace sandpool

#pragma GCC visibility pop
