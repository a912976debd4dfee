// Ownership error texts. The unowned-access message is the one users meet
// most; it lists every way to get a connection, like Ecto's does.
#include "sandpool/ownership/detail/messages.hpp"

#include "absl/strings/str_cat.h"
#include "sandpool/core/detail/messages.hpp"

namespace sandpool::detail {
namespace {

absl::string_view sv(std::string_view s) { return {s.data(), s.size()}; }

std::string ms(std::chrono::nanoseconds d) {
  if (d == std::chrono::nanoseconds::max()) return "infinite";
  return absl::StrCat(std::chrono::duration_cast<std::chrono::milliseconds>(d).count(), " ms");
}

std::string what_happened(const ended_owner& o) {
  switch (o.reason) {
    case end_reason::checked_in:
      return absl::StrCat("checked its connection in ", ms(o.ago), " ago");
    case end_reason::ended:
      return absl::StrCat("ended (its thread or fiber exited) ", ms(o.ago),
                          " ago; its connection was rolled back and returned");
    case end_reason::mode_switch:
      return absl::StrCat("had its connection checked in by set_mode() ", ms(o.ago), " ago");
    case end_reason::timed_out:
      return absl::StrCat("lost its connection to the reaper ", ms(o.ago), " ago after holding it ",
                          ms(o.held), ", past ownership_timeout (", ms(o.limit), ")",
                          o.cancelled_query ? "; the query in flight was cancelled" : "");
  }
  return "ended";
}

}  // namespace

absl::Status unowned_error(std::string_view pool, std::string_view mode,
                           std::string_view caller) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "' is in ", sv(mode), " mode and ", sv(caller),
      " owns no connection and is allowed on none. To get one: (1) check one out from this "
      "caller: pool.ownership().checkout(); (2) be allowed on an owner's connection: "
      "pool.ownership().allow(owner, caller); (3) inherit the parent's context: capture() "
      "in the parent before starting the thread or fiber and adopt() in it (spawn_thread / "
      "spawn_fiber do both); (4) adopt a token the owner made with token(); or (5) switch "
      "to shared mode after the owner checked out: set_mode(shared_mode{owner}). Note that "
      "shared mode reverts to manual when its owner ends."));
}

absl::Status owner_gone_error(std::string_view pool, std::string_view caller,
                              const ended_owner& owner) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': ", sv(caller), " is allowed on the connection of ", owner.label,
      ", which ", what_happened(owner), ". Fix: keep the owner alive (and checked out) until "
      "the work it allowed is done, or have this caller check out its own connection."));
}

absl::Status own_timeout_error(std::string_view pool, const ended_owner& owner) {
  return absl::DeadlineExceededError(absl::StrCat(
      "pool '", sv(pool), "': ", owner.label, " ", what_happened(owner),
      ". It had checked out at ", describe_site(owner.site),
      ". Fix: check in sooner, or raise ownership_timeout (sandpool::infinite disables it)."));
}

std::string timeout_cancel_reason(std::string_view pool, std::string_view owner,
                                  std::chrono::nanoseconds held, std::chrono::nanoseconds limit) {
  return absl::StrCat("pool '", sv(pool), "': ", sv(owner), " held its connection for ",
                      ms(held), ", past ownership_timeout (", ms(limit),
                      "), so the reaper cancelled this statement and takes the connection "
                      "back. Fix: check in sooner, or raise ownership_timeout "
                      "(sandpool::infinite disables it)");
}

absl::Status lease_revoked_error(std::string_view pool, const ended_owner& owner) {
  if (owner.reason == end_reason::timed_out)
    return absl::DeadlineExceededError(absl::StrCat(
        "pool '", sv(pool), "': this lease is on the connection of ", owner.label,
        ", which held it for ", ms(owner.held), ", past ownership_timeout (", ms(owner.limit),
        "), so the reaper took it back: its transaction was rolled back and nothing more runs "
        "through this lease. It had checked out at ", describe_site(owner.site),
        ". Fix: check in sooner, or raise ownership_timeout (sandpool::infinite disables it)."));
  const char* fix = owner.reason == end_reason::ended
                        ? "keep the owner alive until every lease on its connection has ended"
                        : "end every lease on the connection before it is checked in";
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': this lease is on the connection of ", owner.label, ", which ",
      what_happened(owner), "; its transaction was rolled back and nothing more runs through "
      "this lease. Fix: ", fix, "."));
}

std::string statement_cancel_reason(std::string_view pool, const ended_owner& owner) {
  if (owner.reason == end_reason::timed_out)
    return timeout_cancel_reason(pool, owner.label, owner.held, owner.limit);
  return absl::StrCat("pool '", sv(pool), "': ", owner.label, " ", what_happened(owner),
                      " while this statement ran on its connection, so it was cancelled and "
                      "the transaction rolled back");
}

absl::Status checkin_not_owner_error(std::string_view pool, std::string_view caller,
                                     std::string_view allowed_owner) {
  if (allowed_owner.empty())
    return absl::FailedPreconditionError(absl::StrCat(
        "pool '", sv(pool), "': checkin by ", sv(caller),
        ", which owns no connection. Fix: check in from the thread or fiber that checked out."));
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': checkin by ", sv(caller), ", which does not own a connection: it "
      "is allowed on the connection of ", sv(allowed_owner), ". Fix: the owner checks in; "
      "this caller may unallow() itself instead."));
}

absl::Status allow_from_nobody_error(std::string_view pool, std::string_view from) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': allow from ", sv(from), ", which owns no connection and is "
      "allowed on none, so it has nothing to share. Fix: check out from it first, or allow "
      "from the owner."));
}

absl::Status allow_owner_error(std::string_view pool, std::string_view other) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': cannot allow ", sv(other), " on another connection: it owns "
      "one itself. Fix: check that one in first."));
}

absl::Status allow_elsewhere_error(std::string_view pool, std::string_view other,
                                   std::string_view current_owner) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': ", sv(other), " is already allowed on the connection of ",
      sv(current_owner), "; a caller is allowed on one connection at a time. Fix: pass "
      "{.unallow_existing = true} to move it, or unallow() it first."));
}

absl::Status allow_dead_error(std::string_view pool, std::string_view other) {
  return absl::NotFoundError(absl::StrCat(
      "pool '", sv(pool), "': cannot allow ", sv(other), ": no such live thread or fiber. "
      "Fix: take the id with current_owner() in a context that is still running, or use "
      "capture()/adopt() to allow a thread or fiber before it starts."));
}

absl::Status shared_without_checkout_error(std::string_view pool, std::string_view owner) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': shared mode needs an owner with a checked-out connection, and ",
      sv(owner), " has none. Fix: pool.ownership().checkout() from it first, then set_mode."));
}

absl::Status turn_timeout_error(std::string_view pool, std::string_view caller,
                                std::string_view owner, std::chrono::nanoseconds waited,
                                std::string_view holder, std::chrono::nanoseconds held,
                                const source_location& holder_site) {
  return absl::DeadlineExceededError(absl::StrCat(
      "pool '", sv(pool), "': ", sv(caller), " waited ", ms(waited), " for its turn on the "
      "connection of ", sv(owner), ", which ", sv(holder), " has held for ", ms(held),
      " (taken at ", describe_site(holder_site), "). Everyone sharing a connection takes "
      "turns. Fix: end that lease sooner (it may be waiting on this caller: a deadlock), or "
      "give this caller its own connection."));
}

absl::Status token_error(std::string_view pool, std::string_view what) {
  return absl::PermissionDeniedError(absl::StrCat(
      "pool '", sv(pool), "': ", sv(what), ". Fix: ask the owner for a fresh token with "
      "token() while it still holds its connection."));
}

absl::Status sandbox_missing_error(std::string_view pool) {
  return absl::FailedPreconditionError(absl::StrCat(
      "pool '", sv(pool), "': checkout() asked for a sandboxed connection "
      "(checkout_options::sandbox is true by default), but no sandbox is installed on this "
      "pool, so the test's writes would be committed; nothing was checked out. Install one "
      "before the first checkout (sandpool::install_sandbox(pool)), or check out with "
      "{.sandbox = false} for real commits and pair it with a cleanup strategy"));
}

}  // namespace sandpool::detail
