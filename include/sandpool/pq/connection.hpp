// One libpq connection: a move-only owner of a PGconn. It owns three rules:
// the PGconn is finished exactly once (in close() or the destructor, never
// throwing); every query's failure comes back as a status that carries the
// server's SQLSTATE and never a password; and round_trips() counts exactly the
// requests sent to the server, which callers use to check batching, whichever
// path sent them (exec(), the statement hook's exec_direct(), a pipeline).
//
// Thread safety: a connection is used by one thread at a time, except
// cancel(), which another thread may call while a query runs (but not while
// the connection is being moved, closed or destroyed).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/core/driver.hpp"
#include "sandpool/core/events.hpp"
#include "sandpool/core/statement_gate.hpp"
#include "sandpool/pq/result.hpp"
#include "sandpool/pq/statement_hook.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

// One statement of a pipeline (see connection::exec_pipeline).
struct pipeline_step {
  std::string_view sql;  // exactly one statement, with $1, $2, ... if params
  std::span<const std::optional<std::string_view>> params = {};
  // Ends a segment after this step. A failed step skips the rest of its
  // segment only; the next segment runs (inside a transaction block, still
  // in the failed transaction, so it can roll back).
  bool sync_after = false;
};

class connection {
 public:
  // One query parameter in text form; std::nullopt is SQL NULL.
  using param = std::optional<std::string_view>;

  // Takes ownership of conn, which should have finished connecting (null
  // makes a closed connection).
  explicit connection(PGconn* conn);
  ~connection();

  connection(connection&& other) noexcept;
  connection& operator=(connection&& other) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Runs sql, which may hold several statements separated by `;` (the result
  // is the last one's), in one round trip; with a hook installed (see
  // set_hook), the hook runs it instead. Errors:
  //  - the server rejected the query: the code from code_for_sqlstate(), a
  //    message `query failed [SQLSTATE 42P01]: <server message> (while
  //    running: <sql, at most ~200 chars, passwords masked>)`, and the
  //    SQLSTATE as payload (read it with sqlstate());
  //  - the connection is lost (now or earlier): Unavailable, saying so and
  //    that the pool replaces the connection when it is returned, with
  //    SQLSTATE 57P01 (terminated by an administrator) or 08006;
  //  - sql starts a COPY: Unimplemented (the COPY is aborted first);
  //  - the connection was closed: FailedPrecondition;
  //  - the pool revoked the connection (see gate()): the revocation's error,
  //    e.g. the ownership timeout; nothing is sent.
  [[nodiscard]] absl::StatusOr<result> exec(std::string_view sql);

  // Runs one statement with $1, $2, ... bound to params (text format, types
  // inferred by the server), in one round trip. Errors as exec(sql), plus
  // InvalidArgument for more than 65535 parameters (nothing is sent).
  [[nodiscard]] absl::StatusOr<result> exec(std::string_view sql,
                                            std::initializer_list<param> params);
  [[nodiscard]] absl::StatusOr<result> exec(std::string_view sql,
                                            std::span<const param> params);

  // With a statement hook installed, exec() hands every statement to it
  // instead of sending it; null removes the hook. The hook is not owned and
  // must outlive its installation. Not thread-safe: install and remove while
  // nobody uses the connection.
  void set_hook(statement_hook* hook) noexcept { hook_ = hook; }

  // The gate exec() and exec_pipeline() pass through: the ownership layer
  // revokes a connection its owner lost (timeout, exit, checkin) while a
  // lease on it is still held. exec_direct() and the resets are the pool's
  // own path and do not pass it.
  [[nodiscard]] statement_gate& gate() noexcept { return gate_; }
  [[nodiscard]] statement_hook* hook() const noexcept { return hook_; }

  // exec() that bypasses the hook: what a hook uses to reach the server.
  // Same errors and round-trip accounting as exec().
  [[nodiscard]] absl::StatusOr<result> exec_direct(std::string_view sql);
  [[nodiscard]] absl::StatusOr<result> exec_direct(std::string_view sql,
                                                   std::span<const param> params);

  // Sends every step in ONE round trip with libpq's pipeline mode (extended
  // protocol, so each step is one statement) and returns one outcome per
  // step, in order: its result, the server's error for it, or Aborted for a
  // step skipped because an earlier step of its segment failed. Outside a
  // transaction block the steps of a segment run as one implicit
  // transaction, as a multi-statement exec() does. Never hooked.
  // Meant for a handful of small statements (a long pipeline could fill the
  // socket buffers both ways). Steps must not be COPY. Errors of the whole
  // call, with nothing or not everything sent: closed (FailedPrecondition),
  // lost (Unavailable), more than 65535 parameters in a step
  // (InvalidArgument), no steps (InvalidArgument).
  [[nodiscard]] absl::StatusOr<std::vector<absl::StatusOr<result>>> exec_pipeline(
      std::span<const pipeline_step> steps);

  // Sends before + sql + after as ONE simple-protocol Query (one round trip;
  // the server reads the whole string before running any of it) and returns
  // the result of each statement that completed, in order, then the error
  // that stopped the string (ok if none did): what PQexec would return,
  // without dropping the results before the last. Errors name sql, and a
  // position the server gives inside sql counts from sql's start, as if sql
  // had been sent alone; `before` and `after` are ASCII. Never hooked.
  // Errors of the whole call: those of exec_direct(), and Unimplemented
  // for a COPY (ended, as exec() ends it).
  struct script_outcome {
    std::vector<result> results;
    absl::Status error;
  };
  [[nodiscard]] absl::StatusOr<script_outcome> exec_wrapped(std::string_view before,
                                                            std::string_view sql,
                                                            std::string_view after);

  // Keeps `statements` (e.g. the sandbox's BEGIN and commit guard) to be
  // sent before anything else reaches the server through this connection,
  // by any path: exec(), exec_direct(), exec_pipeline(), exec_wrapped(),
  // native(). exec_wrapped() puts them at the front of its string and
  // exec_pipeline() in front of its steps, in the same round trip; exec()
  // and native() send them first, in one of their own. Until then nothing is
  // sent, so a lease that runs nothing costs no round trip. If one of them
  // fails, the request that carried them fails with their error (prefixed
  // with what they were), none of its own statements runs, what they began
  // is rolled back, and they wait for the next request again. A later
  // send_rollback()/send_reset() or close() drops them unsent.
  void defer_opening(std::vector<std::string> statements) noexcept {
    opening_ = std::move(statements);
    opening_tried_ = false;
  }
  // Drops a deferred opening; true if there was one and it was never sent
  // (none failed and waits again), so nothing reached the server since.
  bool drop_opening() noexcept {
    const bool untried = !opening_.empty() && !opening_tried_;
    opening_.clear();
    opening_tried_ = false;
    return untried;
  }
  [[nodiscard]] bool opening_deferred() const noexcept { return !opening_.empty(); }
  // Whether a deferred opening was sent and failed (it waits again).
  [[nodiscard]] bool opening_failed_before() const noexcept {
    return !opening_.empty() && opening_tried_;
  }

  // Sends ROLLBACK and returns without waiting for the answer, which the
  // next use of the connection reads first; a pipeline sent next shares its
  // round trip (the sandbox's checkin followed by the next checkout's BEGIN
  // cost one round trip, not two). Meanwhile transaction_status() reports
  // idle, which is where a ROLLBACK always leaves a healthy connection; if
  // the connection was lost instead, the next use reports it (Unavailable).
  // Counts one round trip. With `reset` (one statement, e.g. DISCARD ALL),
  // it follows the ROLLBACK under a sync of its own, outside any transaction
  // block, in the same round trip; a failure of either is reported by the
  // next use. Errors now, with nothing sent: closed (FailedPrecondition),
  // lost (Unavailable).
  [[nodiscard]] absl::Status send_rollback(std::string_view reset = {});
  // The same for a session reset (session_reset::statements()): ROLLBACK
  // first only if `rollback`, under a sync of its own, then the statements
  // in one implicit transaction (a lone DISCARD ALL may run there).
  // If one of the statements fails, the next use closes the connection and
  // fails with Unavailable naming it (the session's state is then unknown,
  // so the pool replaces the connection); nothing of that use is sent.
  [[nodiscard]] absl::Status send_reset(std::span<const std::string> statements,
                                        bool rollback);
  // Reads the answer to a pending send_rollback()/send_reset() now, waiting
  // for it; ok if nothing is pending. Errors as the next use would report.
  [[nodiscard]] absl::Status read_reset() { return settle(); }
  // Whether a send_rollback()/send_reset() answer is still unread.
  [[nodiscard]] bool reset_pending() const noexcept { return !pending_.empty(); }
  // Whether a statement sent since the last reset may have changed the
  // session's state beyond its transaction (a cheap scan of each statement's
  // text: SET, RESET, PREPARE, LISTEN, DECLARE, LOAD, DISCARD, DO, CALL,
  // set_config, advisory locks, temp; a false yes only costs a reset), or
  // native() was used. The driver's session reset runs only then, unless
  // session_reset::always().
  [[nodiscard]] bool session_touched() const noexcept { return touched_; }
  void forget_session_touched() noexcept { touched_ = false; }

  // Notes that the session was just reset some other way (a DISCARD ALL in
  // a pipeline), so the pool's reset as this lease returns is not sent
  // again; taken (and cleared) by the driver's recycle().
  void note_session_reset() noexcept { reset_noted_ = true; }
  [[nodiscard]] bool take_session_reset_note() noexcept { return std::exchange(reset_noted_, false); }

  // Asks the server to cancel the query running on this connection. Ok means
  // the request was delivered; the query then fails with SQLSTATE 57014
  // (Cancelled), unless it finished first. Unavailable if the request could
  // not be sent, FailedPrecondition if the connection is closed.
  // Safe to call from another thread while a query runs. On a thread that
  // runs fiber_io_scheduler the request is sent from a helper thread and
  // only the calling fiber waits for it.
  [[nodiscard]] absl::Status cancel() const;
  // The same, and the cancelled query's error is DeadlineExceeded (SQLSTATE
  // 57014 kept) with `reason` instead of the server's "canceling statement
  // due to user request": for a canceller that knows why (the ownership
  // reaper: which owner, how long, which option). Thread-safe like cancel().
  [[nodiscard]] absl::Status cancel(std::string reason);

  // Sends the server's notices (NOTICE, WARNING, ...) to `sink` instead of
  // libpq's default receiver (stderr), for as long as this connection
  // lives; null restores the default. What the sink throws is dropped.
  void route_notices(std::shared_ptr<const notice_sink> sink) noexcept;
  // Hands the server's notices, whole, to receiver(arg, res) until
  // restore_notices(), for a caller that passes them on unchanged (the
  // gateway, during a session's turn). Not thread-safe, like exec().
  void divert_notices(PQnoticeReceiver receiver, void* arg) noexcept;
  void restore_notices() noexcept;

  // Closes the connection now (idempotent). Never throws. A reset sent
  // within the last second is read first, for at most 100 ms (see
  // driver::close).
  void close() noexcept;

  // A setting the server reports (ParameterStatus: server_version,
  // standard_conforming_strings, client_encoding, ...) as last reported;
  // empty if unknown or closed. No I/O.
  [[nodiscard]] std::string_view parameter(const char* name) const noexcept;
  // The server process serving this connection; 0 if closed.
  [[nodiscard]] int backend_pid() const noexcept;
  // Whether libpq considers the connection usable (CONNECTION_OK).
  [[nodiscard]] bool ok() const noexcept;
  // The session's transaction state as the code using exec() sees it,
  // without I/O: broken if the connection is closed or lost. With a hook
  // installed, the hook's view of server_transaction_status() (the sandbox
  // reports what a plain connection would).
  [[nodiscard]] tx_status transaction_status() const noexcept {
    const tx_status server = server_transaction_status();
    return hook_ == nullptr ? server : hook_->transaction_status(server);
  }
  // The server's own transaction state as libpq last saw it, whatever the
  // hook presents (idle while an opening is deferred: see defer_opening()).
  [[nodiscard]] tx_status server_transaction_status() const noexcept;
  // Requests sent to the server so far: each exec() or exec_direct() counts
  // one, including failed ones, and so does each exec_pipeline() however many
  // steps it holds; requests refused before sending (lost or closed
  // connection, too many parameters) do not count. Through a hook, exec()
  // counts whatever the hook sent.
  [[nodiscard]] std::uint64_t round_trips() const noexcept {
    return round_trips_;
  }
  // `host=... port=... dbname=... user=...` of the server this connection
  // talks to, for messages. Never holds a password.
  [[nodiscard]] const std::string& target() const noexcept { return target_; }

  // The underlying PGconn, still owned by this object; null if closed.
  // Requests sent through it are not counted in round_trips(). A pending
  // send_rollback() answer is read first, so the PGconn is ready for use.
  // A deferred opening is sent first (under the gate, as exec() would); if
  // that cannot be done, null: what the caller would send through it must
  // not run outside the opening (e.g. autocommit in a test's sandbox).
  [[nodiscard]] PGconn* native() noexcept;
  // The database and role of the session; empty if closed. No I/O.
  [[nodiscard]] std::string_view database() const noexcept;
  [[nodiscard]] std::string_view user() const noexcept;

 private:
  [[nodiscard]] absl::StatusOr<result> run(std::string_view sql,
                                           std::span<const param> params,
                                           bool extended);
  // Why sql cannot be sent now (closed, lost, too many parameters), or ok.
  [[nodiscard]] absl::Status check_sendable(std::string_view sql,
                                            std::size_t params) const;
  // InvalidArgument if a parameter holds a NUL byte, which libpq would cut.
  [[nodiscard]] absl::Status check_params(std::string_view sql,
                                          std::span<const param> params) const;
  [[nodiscard]] absl::StatusOr<std::vector<absl::StatusOr<result>>> read_pipeline(
      std::span<const pipeline_step> steps);
  // Reads the answer to a pending send_rollback(), if any, and leaves
  // pipeline mode unless `keep_pipeline` (a pipeline is queued behind it).
  [[nodiscard]] absl::Status settle(bool keep_pipeline = false);
  // Sends a deferred opening (defer_opening()) on its own and waits for it;
  // ok if there is none (opening.cpp).
  [[nodiscard]] absl::Status open_now();
  // The opening taken for sending (kept in sent_opening_): its statements'
  // text, and how many.
  [[nodiscard]] std::string take_opening(std::size_t& count);
  // After the opening taken last failed: rolls back what it began, defers it
  // again, and returns the error of the request that carried it.
  [[nodiscard]] absl::Status opening_failed(const absl::Status& error);
  // The error of a failed query: the server's, unless it is a cancellation
  // with a reason given to cancel(reason).
  [[nodiscard]] absl::Status query_error(const PGresult* res, std::string_view sql);
  void forget_cancel_reason() noexcept;
  void drain_pending(std::chrono::milliseconds limit) noexcept;
  // Whether a sync follows pending_[i]: after the ROLLBACK and the last.
  bool ends_segment(std::size_t i) const noexcept {
    return (i == 0 && pending_rollback_) || i + 1 == pending_.size();
  }

  PGconn* conn_ = nullptr;
  // Made at construction so that cancel() never touches conn_, which the
  // thread running the query is using.
  PGcancel* cancel_ = nullptr;
  std::string target_;
  std::uint64_t round_trips_ = 0;
  statement_hook* hook_ = nullptr;  // not owned; null: exec() sends itself
  // What send_rollback()/send_reset() sent and nobody read yet, in order;
  // pending_rollback_ says whether the first is the ROLLBACK.
  std::vector<std::string> pending_;
  bool pending_rollback_ = false;
  std::chrono::steady_clock::time_point pending_since_{};  // when pending_ was sent
  std::vector<std::string> opening_;  // see defer_opening(); not sent yet
  std::vector<std::string> sent_opening_;  // the last opening sent
  bool opening_tried_ = false;  // opening_ was sent once and failed
  bool reset_noted_ = false;  // see note_session_reset()
  bool touched_ = false;      // see session_touched()
  std::shared_ptr<const notice_sink> notices_;  // see route_notices()
  PQnoticeReceiver diverted_from_ = nullptr;     // see divert_notices()
  bool diverted_ = false;
  PQnoticeReceiver previous_receiver_ = nullptr;  // libpq's, before route_notices()
  // Why the next query error 57014 happened, if cancel(reason) said; set by
  // the canceller's thread, taken by the querying one.
  mutable std::mutex cancel_lock_;
  std::string cancel_reason_;  // guarded by cancel_lock_
  statement_gate gate_;
};

}  // namespace sandpool::pq

#pragma GCC visibility pop
