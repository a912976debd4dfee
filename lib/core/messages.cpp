// Error texts of the pool core. Each names the pool, its state and the fix.
#include "sandpool/core/detail/messages.hpp"

#include "absl/strings/str_cat.h"

namespace sandpool::detail {
namespace {

std::string ms(std::chrono::nanoseconds d) {
  return absl::StrCat(std::chrono::duration_cast<std::chrono::milliseconds>(d).count(), " ms");
}

std::string counts(const pool_snapshot& s) {
  return absl::StrCat(s.open, " open of max_size ", s.max_size, " (", s.in_use, " in use, ",
                      s.idle, " idle), ", s.connecting, " connecting, ", s.waiting,
                      " waiting");
}

}  // namespace

std::string describe_site(const source_location& site) {
  if (site.file_name() == nullptr || *site.file_name() == '\0') return "an unknown place";
  return absl::StrCat(site.file_name(), ":", site.line(), " (", site.function_name(), ")");
}

absl::Status checkout_timeout_error(const pool_snapshot& s, std::chrono::nanoseconds waited,
                                    const absl::Status& last_connect_error,
                                    const holder* longest) {
  std::string text = absl::StrCat("pool '", s.pool, "': checkout timed out after ", ms(waited),
                                  " (checkout_timeout); ", counts(s), ".");
  if (longest != nullptr)
    absl::StrAppend(&text, " The longest-held lease was checked out at ",
                    describe_site(longest->site), " ", ms(longest->held), " ago.");
  if (!last_connect_error.ok())
    absl::StrAppend(&text, " The last attempt to open a connection failed: ",
                    last_connect_error.message(), ".");
  absl::StrAppend(&text,
                  " Fix: return leases sooner, raise max_size, or raise checkout_timeout.");
  return absl::DeadlineExceededError(text);
}

absl::Status connect_refused_error(const pool_snapshot& s, const absl::Status& connect_error) {
  return absl::Status(
      connect_error.code(),
      absl::StrCat("pool '", s.pool, "': checkout failed at once: connecting to the server fails "
                   "with an error that waiting will not fix (", connect_error.message(),
                   "); ", counts(s), ". The pool goes on retrying in the background, so "
                   "checkouts succeed again once the cause is fixed"));
}

absl::Status checkout_dropped_error(const pool_snapshot& s, std::chrono::nanoseconds waited,
                                    std::chrono::nanoseconds target,
                                    std::chrono::nanoseconds interval,
                                    const absl::Status& last_connect_error) {
  std::string text = absl::StrCat(
      "pool '", s.pool, "': checkout dropped after waiting ", ms(waited),
      " because the pool is overloaded: no checkout in the last queue_interval (", ms(interval),
      ") was served within queue_target (", ms(target), "), so waiters older than ",
      ms(target > std::chrono::nanoseconds::max() / 2 ? std::chrono::nanoseconds::max()
                                                       : target * 2),
      " are shed; ", counts(s), ".");
  if (!last_connect_error.ok())
    absl::StrAppend(&text, " The last attempt to open a connection failed: ",
                    last_connect_error.message(), ".");
  absl::StrAppend(&text,
                  " Fix: reduce the load, raise max_size, or raise queue_target/queue_interval.");
  return absl::ResourceExhaustedError(text);
}

absl::Status pool_closed_error(const std::string& pool) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", pool,
      "' is shut down; no checkout is possible after shutdown(). Fix: check out before "
      "shutting the pool down, or create a new pool."));
}

absl::Status shutdown_incomplete_error(const pool_snapshot& s, std::chrono::nanoseconds waited,
                                       std::span<const holder> outstanding) {
  std::string text =
      absl::StrCat("pool '", s.pool, "': shutdown waited ", ms(waited), " and ",
                   outstanding.size(), " lease(s) are still out:");
  for (const holder& h : outstanding)
    absl::StrAppend(&text, " checked out at ", describe_site(h.site), " ", ms(h.held),
                    " ago;");
  absl::StrAppend(&text,
                  " their connections are closed when they are returned. Fix: return "
                  "leases before shutdown, or raise shutdown_timeout.");
  return absl::DeadlineExceededError(text);
}

absl::Status lease_empty_error(const source_location& site, bool returned) {
  if (returned)
    return absl::FailedPreconditionError(absl::StrCat(
        "lease checked out at ", describe_site(site),
        " was already returned; a lease can be returned only once. Fix: drop the second "
        "checkin() (the destructor returns a lease that is still held)."));
  return absl::FailedPreconditionError(
      "lease is empty (default-constructed or moved from); it holds no connection. Fix: "
      "use the lease the pool returned, or the one it was moved into.");
}

}  // namespace sandpool::detail
