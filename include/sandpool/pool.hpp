// The pool handle applications hold. It owns the core (slots, idle list,
// waiters, housekeeping) and routes checkouts through the ownership mode;
// today that is auto mode, the production pool. Movable; destroying it shuts
// the pool down without waiting, and leases still out stay valid until they
// are returned (their connections are then closed).
#pragma once

#include <chrono>
#include <memory>
#include <source_location>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "sandpool/clock.hpp"
#include "sandpool/detail/core.hpp"
#include "sandpool/driver.hpp"
#include "sandpool/lease.hpp"
#include "sandpool/metrics.hpp"
#include "sandpool/modes/auto.hpp"
#include "sandpool/options.hpp"

namespace sandpool {

template <driver Driver, class Clock = coarse_clock>
class basic_pool {
 public:
  using core_type = detail::core<Driver, Clock>;
  using lease_type = basic_lease<core_type>;
  using connection = typename Driver::connection;
  using time_point = typename Clock::time_point;

  // Validates the options and starts the pool (housekeeping opens min_idle
  // connections in the background). Errors: InvalidArgument naming the bad
  // option and its fix.
  [[nodiscard]] static absl::StatusOr<basic_pool> create(Driver driver, pool_options options = {},
                                                         Clock clock = {}) {
    if (absl::Status s = options.validate(); !s.ok()) return s;
    if constexpr (manual_time<Clock>) {
      if (options.housekeeper == housekeeping::thread)
        return absl::InvalidArgumentError(absl::StrCat(
            "pool '", options.name,
            "': a manual clock needs housekeeping::manual (the housekeeping thread waits "
            "on real time); set options.housekeeper = sandpool::housekeeping::manual and "
            "call maintain()"));
    }
    return basic_pool(new core_type(std::move(driver), std::move(options), std::move(clock)));
  }

  basic_pool(basic_pool&&) noexcept = default;
  basic_pool& operator=(basic_pool&&) noexcept = default;

  // Leases a connection, waiting up to checkout_timeout. Thread-safe; a
  // fiber that waits lets the other fibers of its thread run. Errors:
  // DeadlineExceeded (timed out: live counts, the longest holder and the
  // last connect error), ResourceExhausted (shed under overload),
  // FailedPrecondition (pool shut down).
  [[nodiscard]] absl::StatusOr<lease_type> checkout(
      std::source_location site = std::source_location::current()) {
    return checkout(core_->options().checkout_timeout, site);
  }
  [[nodiscard]] absl::StatusOr<lease_type> checkout(
      std::chrono::nanoseconds timeout,
      std::source_location site = std::source_location::current()) {
    return modes::auto_mode::checkout<lease_type>(*core_, timeout, site);
  }

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
  explicit basic_pool(core_type* core) : core_(core) {}

  std::unique_ptr<core_type, orphaner> core_;
};

}  // namespace sandpool
