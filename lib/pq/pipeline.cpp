// connection::exec_pipeline: several statements in one round trip through
// libpq's pipeline mode. It owns the protocol bookkeeping: every step is
// answered by exactly one outcome, every segment ends in one sync result,
// and the connection leaves pipeline mode before returning, unless it was
// lost on the way (then the whole call is Unavailable) or libpq refused
// something it should not have (then the connection is closed, so the pool
// discards it rather than reuse one in an unknown protocol state).
#include <string>
#include <utility>
#include <vector>

#include "pq/error.hpp"
#include "pq/wait.hpp"
#include "sandpool/pq/session_reset.hpp"
#include "sandpool/pq/connection.hpp"
#include "text.hpp"

namespace sandpool::pq {
namespace {

// Sends one step; libpq copies everything into its output buffer, so the
// NUL-terminated copies only need to live for the call.
bool send_step(PGconn* conn, const pipeline_step& step) {
  const std::string sql(step.sql);
  std::vector<std::string> storage;
  storage.reserve(step.params.size());
  for (const auto& p : step.params) storage.emplace_back(p ? *p : "");
  std::vector<const char*> values(step.params.size(), nullptr);
  for (std::size_t i = 0; i < step.params.size(); ++i) {
    if (step.params[i]) values[i] = storage[i].c_str();
  }
  return PQsendQueryParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0) == 1;
}

bool is_copy(ExecStatusType s) {
  return s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH;
}

}  // namespace

absl::StatusOr<std::vector<absl::StatusOr<result>>> connection::exec_pipeline(
    std::span<const pipeline_step> steps) {
  const gate_pass pass(gate_);
  if (!pass.ok()) return pass.status();
  if (steps.empty()) {
    return absl::InvalidArgumentError(
        "exec_pipeline needs at least one step; nothing was sent");
  }
  for (const pipeline_step& step : steps) {
    if (absl::Status s = check_sendable(step.sql, step.params.size()); !s.ok()) return s;
    if (absl::Status s = check_params(step.sql, step.params); !s.ok()) return s;
  }
  // With several segments, a later one would run outside any block after a
  // failed BEGIN: a deferred opening is then sent first, on its own.
  bool segments = false;
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) segments = segments || steps[i].sync_after;
  if (segments && !opening_.empty()) {
    if (absl::Status s = settle(); !s.ok()) return s;
    if (absl::Status s = open_now(); !s.ok()) return s;
  }
  // A pending send_rollback()/send_reset() keeps the connection in pipeline mode: these
  // steps follow it in the same round trip.
  const bool behind_rollback = !pending_.empty();
  if (!behind_rollback && PQenterPipelineMode(conn_) != 1) {
    return absl::FailedPreconditionError(text::concat(
        "cannot start a pipeline on the connection to ", target_,
        ": the results of an earlier command are still pending on it (was "
        "native() used for an asynchronous query?); nothing was sent"));
  }
  forget_cancel_reason();  // see run()
  for (std::size_t i = 0; !touched_ && i < steps.size(); ++i)
    touched_ = may_change_session(steps[i].sql);
  // A deferred opening goes first, in the first segment: if it fails, the
  // caller's steps of that segment do not run.
  std::size_t opening = 0;
  (void)take_opening(opening);
  std::vector<pipeline_step> all;
  all.reserve(opening + steps.size());
  for (std::size_t i = 0; i < opening; ++i) all.push_back({sent_opening_[i]});
  all.insert(all.end(), steps.begin(), steps.end());
  ++round_trips_;
  bool sent = true;
  for (std::size_t i = 0; sent && i < all.size(); ++i) {
    sent = send_step(conn_, all[i]);
    if (sent && all[i].sync_after && i + 1 < all.size()) sent = PQpipelineSync(conn_) == 1;
  }
  if (sent) sent = PQpipelineSync(conn_) == 1;
  if (!sent) {
    if (opening > 0) opening_ = std::exchange(sent_opening_, {});
    const std::string why = internal::one_line(PQerrorMessage(conn_));
    if (PQstatus(conn_) != CONNECTION_OK) {
      return internal::connection_lost(conn_, nullptr, target_, steps.front().sql, false);
    }
    close();
    return absl::InternalError(text::concat(
        "libpq refused to queue a pipeline step (", why,
        "); the connection was closed so that the pool replaces it"));
  }
  if (behind_rollback) {
    if (absl::Status s = settle(true); !s.ok()) {
      close();  // the steps' answers are unread: never reuse it
      return s;
    }
  }
  auto outcomes = read_pipeline(all);
  if (!outcomes.ok()) return outcomes;
  if (PQexitPipelineMode(conn_) != 1) {
    const std::string why = internal::one_line(PQerrorMessage(conn_));
    close();
    return absl::InternalError(text::concat(
        "could not leave pipeline mode after reading every result (", why,
        "); the connection was closed so that the pool replaces it"));
  }
  if (opening == 0) return outcomes;
  for (std::size_t i = 0; i < opening; ++i) {
    if (!(*outcomes)[i].ok()) return opening_failed((*outcomes)[i].status());
  }
  outcomes->erase(outcomes->begin(), outcomes->begin() + static_cast<std::ptrdiff_t>(opening));
  return outcomes;
}

absl::Status connection::send_rollback(std::string_view reset) {
  const std::string one[] = {std::string(reset)};
  return send_reset(std::span<const std::string>(one, reset.empty() ? 0 : 1), true);
}

absl::Status connection::send_reset(std::span<const std::string> statements, bool rollback) {
  const std::string_view first = rollback ? "ROLLBACK" : "session reset";
  opening_.clear();  // never sent: nothing of it to undo
  if (!rollback && statements.empty()) return absl::OkStatus();
  if (absl::Status s = check_sendable(first, 0); !s.ok()) return s;
  if (absl::Status s = settle(); !s.ok()) return s;
  if (PQenterPipelineMode(conn_) != 1) {
    return absl::FailedPreconditionError(text::concat(
        "cannot send ", first, " on the connection to ", target_,
        ": the results of an earlier command are still pending on it (was "
        "native() used for an asynchronous query?); nothing was sent"));
  }
  ++round_trips_;
  if (rollback) pending_.emplace_back("ROLLBACK");
  pending_.insert(pending_.end(), statements.begin(), statements.end());
  pending_rollback_ = rollback;
  pending_since_ = std::chrono::steady_clock::now();
  // The ROLLBACK under a sync of its own, then the statements in one
  // implicit transaction of their own (a lone DISCARD ALL may run there).
  // PQpipelineSync flushes: the request is on its way when this returns.
  bool sent = true;
  for (std::size_t i = 0; sent && i < pending_.size(); ++i) {
    sent = PQsendQueryParams(conn_, pending_[i].c_str(), 0, nullptr, nullptr, nullptr, nullptr,
                             0) == 1 &&
           (!ends_segment(i) || PQpipelineSync(conn_) == 1);
  }
  if (!sent) {
    pending_.clear();
    if (PQstatus(conn_) != CONNECTION_OK) {
      return internal::connection_lost(conn_, nullptr, target_, first, false);
    }
    const std::string why = internal::one_line(PQerrorMessage(conn_));
    close();
    return absl::InternalError(text::concat(
        "libpq refused to send ", first, " (", why,
        "); the connection was closed so that the pool replaces it"));
  }
  return absl::OkStatus();
}

absl::Status connection::settle(bool keep_pipeline) {
  if (pending_.empty()) return absl::OkStatus();
  std::vector<pipeline_step> steps;
  steps.reserve(pending_.size());
  for (std::size_t i = 0; i < pending_.size(); ++i)
    steps.push_back({pending_[i], {}, ends_segment(i)});
  std::vector<std::string> sent = std::exchange(pending_, {});
  auto answer = read_pipeline(steps);
  if (!answer.ok()) return answer.status();
  if (!keep_pipeline && PQexitPipelineMode(conn_) != 1) {
    const std::string why = internal::one_line(PQerrorMessage(conn_));
    close();
    return absl::InternalError(text::concat(
        "could not leave pipeline mode after reading the answer to ", sent.front(), " (", why,
        "); the connection was closed so that the pool replaces it"));
  }
  for (std::size_t i = 0; i < answer->size(); ++i) {
    const absl::Status& step = (*answer)[i].status();
    if (step.ok()) continue;
    if (i == 0 && pending_rollback_) return step;
    // The session's state is unknown: never hand it on.
    close();
    return absl::UnavailableError(text::concat(
        "the session reset after the connection's previous lease failed at \"", sent[i],
        "\": ", std::string(step.message()), "; the connection was closed so that the pool replaces it",
        keep_pipeline ? ", after the statements queued behind the reset were sent: they may have "
                        "run, and their answers were not read"
                      : ", and nothing of this use was sent",
        ". Fix: check the session_reset given to sandpool::pq::driver::create (a custom "
        "statement the role may not run?)"));
  }
  return absl::OkStatus();
}

// Reads one outcome per step and one sync per segment.
absl::StatusOr<std::vector<absl::StatusOr<result>>> connection::read_pipeline(
    std::span<const pipeline_step> steps) {
  std::vector<absl::StatusOr<result>> out;
  out.reserve(steps.size());
  auto lost = [&](PGresult* last, std::string_view sql) {
    return internal::connection_lost(conn_, last, target_, sql, false);
  };
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string_view sql = steps[i].sql;
    internal::await_result(conn_);
    result res(PQgetResult(conn_));
    if (res.native() == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      return lost(res.native(), sql);
    }
    // A statement's results end with a null; there is one result per step.
    for (;;) {
      internal::await_result(conn_);
      PGresult* extra = PQgetResult(conn_);
      if (extra == nullptr) break;
      PQclear(extra);
    }
    const ExecStatusType status = res.status();
    switch (status) {
      case PGRES_COMMAND_OK:
      case PGRES_TUPLES_OK:
      case PGRES_EMPTY_QUERY:
        out.emplace_back(std::move(res));
        break;
      case PGRES_PIPELINE_ABORTED:
        out.emplace_back(absl::AbortedError(text::concat(
            "not run: an earlier statement of the same pipeline failed (while "
            "running: ", internal::sql_excerpt(sql), ")")));
        break;
      default:
        if (is_copy(status)) {
          close();
          return absl::UnimplementedError(text::concat(
              "COPY cannot run in a pipeline; the connection was closed so that "
              "the pool replaces it (while running: ", internal::sql_excerpt(sql), ")"));
        }
        out.emplace_back(query_error(res.native(), sql));
        break;
    }
    if (steps[i].sync_after || i + 1 == steps.size()) {
      internal::await_result(conn_);
      result sync(PQgetResult(conn_));
      if (PQstatus(conn_) != CONNECTION_OK) return lost(sync.native(), sql);
      if (sync.status() != PGRES_PIPELINE_SYNC) {
        close();
        return absl::InternalError(text::concat(
            "the server's answer to a pipeline did not end where a sync was "
            "sent; the connection was closed so that the pool replaces it "
            "(while running: ", internal::sql_excerpt(sql), ")"));
      }
    }
  }
  return out;
}

}  // namespace sandpool::pq
