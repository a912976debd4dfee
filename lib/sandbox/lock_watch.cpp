// run_unboxed's watch over its connection (see lock_watch.hpp).
#include "sandpool/sandbox/detail/lock_watch.hpp"

#include <chrono>
#include <string>

#include "pq/error.hpp"
#include "text.hpp"

namespace sandpool::detail {
namespace {

using text::concat;

constexpr auto check_every = std::chrono::milliseconds(200);

// What the watched backend waits for, if it waits on the holder: the
// statement, the lock's mode and what it locks. No rows: no such wait.
constexpr std::string_view wait_query = R"sql(
SELECT a.query, l.mode,
       coalesce(l.relation::regclass::text, l.locktype) AS what
FROM pg_stat_activity a
JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
WHERE a.pid = $1::int AND $2::int = ANY (pg_blocking_pids(a.pid))
LIMIT 1)sql";

}  // namespace

lock_watch::lock_watch(const pq::driver& driver, pq::connection& watched, int holder)
    : driver_(driver), watched_(watched), watched_pid_(watched.backend_pid()), holder_(holder) {
  if (holder_ != 0 && watched_pid_ != 0) thread_ = std::thread([this] { run(); });
}

lock_watch::~lock_watch() { (void)finish(absl::OkStatus()); }

absl::Status lock_watch::finish(absl::Status fn_status) {
  {
    std::lock_guard lk(lock_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(lock_);
  if (!why_) return fn_status;
  if (fn_status.ok()) return *why_;
  return pq::internal::with_sqlstate(
      why_->code(),
      concat(text::from_absl(why_->message()), "; the function returned: ",
             text::from_absl(fn_status.message())),
      "55P03");
}

void lock_watch::run() {
  std::optional<pq::connection> own;
  std::unique_lock lk(lock_);
  // Until the function returns: a later statement of it may block again.
  while (!wake_.wait_for(lk, check_every, [this] { return stop_; })) {
    lk.unlock();
    (void)check(own);
    lk.lock();
  }
}

bool lock_watch::check(std::optional<pq::connection>& own) {
  if (!own) {
    auto c = driver_.connect();
    if (!c.ok()) return false;  // no way to look: the function runs on
    own.emplace(std::move(*c));
  }
  const std::string pid = std::to_string(watched_pid_);
  const std::string holder = std::to_string(holder_);
  const pq::connection::param params[] = {pid, holder};
  auto r = own->exec(wait_query, params);
  if (!r.ok()) {
    if (!own->ok()) own.reset();  // lost: reconnect at the next check
    return false;
  }
  if (r->rows() == 0) return false;
  const absl::Status why = pq::internal::with_sqlstate(
      absl::StatusCode::kFailedPrecondition,
      concat("run_unboxed: the function's statement (", pq::internal::sql_excerpt(r->get(0, 0)),
             ") waited for a ", r->get(0, 1), " on ", r->get(0, 2),
             ", which the caller's own sandboxed test transaction holds (backend ",
             holder, "); that transaction cannot end while the caller waits for run_unboxed, "
             "so the statement was cancelled instead of waiting forever. Run it before the "
             "test touches ", r->get(0, 2), " (in suite setup or a migration), or run this "
             "test unsandboxed (checkout_options{.sandbox = false} and a cleanup strategy)"),
      "55P03");
  // Only a delivered cancel ends the wait; otherwise the next check tries
  // again.
  if (!watched_.cancel().ok()) return false;
  std::lock_guard lk(lock_);
  why_ = why;
  return true;
}

}  // namespace sandpool::detail
