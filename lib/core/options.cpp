// Validation of pool_options: one check per rule, each message naming the
// option, its value and the fix.
#include "sandpool/core/options.hpp"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sandpool {
namespace {

std::string show(nanoseconds d) {
  if (d == infinite) return "infinite";
  return absl::StrCat(std::chrono::duration<double, std::milli>(d).count(),
                      " ms");
}

absl::Status bad(absl::string_view pool, absl::string_view option,
                 absl::string_view value, absl::string_view fix) {
  return absl::InvalidArgumentError(absl::StrCat(
      "pool '", pool, "': option ", option, " is ", value, "; ", fix));
}

absl::Status positive(absl::string_view pool, absl::string_view option,
                      nanoseconds d, absl::string_view fix) {
  if (d > nanoseconds::zero()) return absl::OkStatus();
  return bad(pool, option, show(d), fix);
}

}  // namespace

absl::Status pool_options::validate() const {
  if (max_size == 0)
    return bad(name, "max_size", "0",
               "a pool needs at least one connection; set max_size to 1 or "
               "more");
  if (max_size > max_pool_size)
    return bad(name, "max_size", absl::StrCat(max_size),
               absl::StrCat("it cannot exceed ", max_pool_size,
                            ", the most connections a PostgreSQL server accepts (each slot is "
                            "allocated when the pool is made); lower max_size"));
  if (min_idle > max_size)
    return bad(name, "min_idle", absl::StrCat(min_idle),
               absl::StrCat("it cannot exceed max_size (", max_size,
                            "); lower min_idle or raise max_size"));
  if (auto s = positive(name, "checkout_timeout", checkout_timeout,
                        "a caller needs time to get a connection; set it "
                        "above zero (or to sandpool::infinite)");
      !s.ok())
    return s;
  if (auto s = positive(name, "queue_target", queue_target,
                        "set it above zero, e.g. 50 ms");
      !s.ok())
    return s;
  if (auto s = positive(name, "queue_interval", queue_interval,
                        "set it above zero, e.g. 1 s");
      !s.ok())
    return s;
  if (queue_interval != infinite && queue_target != infinite &&
      queue_interval < queue_target)
    return bad(name, "queue_interval", show(queue_interval),
               absl::StrCat("it must be at least queue_target (",
                            show(queue_target), "); raise queue_interval"));
  if (auto s = positive(name, "idle_timeout", idle_timeout,
                        "set it above zero, or to sandpool::infinite to keep "
                        "idle connections open");
      !s.ok())
    return s;
  if (auto s = positive(name, "max_lifetime", max_lifetime,
                        "set it above zero, or to sandpool::infinite");
      !s.ok())
    return s;
  if (validation_bypass < nanoseconds::zero())
    return bad(name, "validation_bypass", show(validation_bypass),
               "set it to zero (validate every idle connection) or more");
  if (auto s = positive(name, "reconnect_backoff_min", reconnect_backoff_min,
                        "set it above zero, e.g. 50 ms");
      !s.ok())
    return s;
  if (reconnect_backoff_max < reconnect_backoff_min)
    return bad(name, "reconnect_backoff_max", show(reconnect_backoff_max),
               absl::StrCat("it must be at least reconnect_backoff_min (",
                            show(reconnect_backoff_min), ")"));
  if (shutdown_timeout < nanoseconds::zero())
    return bad(name, "shutdown_timeout", show(shutdown_timeout),
               "set it to zero (do not wait) or more");
  if (initial_connect_timeout < nanoseconds::zero())
    return bad(name, "initial_connect_timeout", show(initial_connect_timeout),
               "set it to zero (create() does not wait for a connection) or more");
  if (initial_connect_timeout > nanoseconds::zero() && housekeeper != housekeeping::thread)
    return bad(name, "initial_connect_timeout", show(initial_connect_timeout),
               "it needs housekeeping::thread to open the first connection; set it to zero "
               "with manual housekeeping");
  return absl::OkStatus();
}

}  // namespace sandpool
