// The libpq connection wrapper. Owns the round-trip accounting (one per
// request actually sent) and the check, after every request, of whether the
// connection survived it: a lost connection is reported as Unavailable no
// matter which error the server or libpq gave on the way down.
#include "sandpool/pq/connection.hpp"

#include <poll.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "pq/error.hpp"
#include "pq/wait.hpp"
#include "sandpool/pq/session_reset.hpp"
#include "text.hpp"

namespace sandpool::pq {
namespace {

constexpr std::size_t max_params = 65535;  // the protocol's limit

std::string describe_conn(PGconn* conn) {
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return "(closed)";
  auto or_empty = [](const char* s) { return s == nullptr ? "" : s; };
  return text::concat("host=", or_empty(PQhost(conn)),
                      " port=", or_empty(PQport(conn)),
                      " dbname=", or_empty(PQdb(conn)),
                      " user=", or_empty(PQuser(conn)));
}

// libpq's notice receiver: hands the notice to the connection's sink.
void receive_notice(void* arg, const PGresult* r) {
  const auto* sink = static_cast<const notice_sink*>(arg);
  auto field = [r](int code) {
    const char* v = PQresultErrorField(r, code);
    return v == nullptr ? std::string_view() : std::string_view(v);
  };
  try {
    (*sink)(server_notice{field(PG_DIAG_SEVERITY_NONLOCALIZED), field(PG_DIAG_SQLSTATE),
                          field(PG_DIAG_MESSAGE_PRIMARY)});
  } catch (...) {  // NOLINT(bugprone-empty-catch): documented: dropped
  }
}

}  // namespace

void connection::route_notices(std::shared_ptr<const notice_sink> sink) noexcept {
  if (conn_ == nullptr) return;
  if (sink == nullptr || !*sink) {
    // The receiver libpq had (its default prints to stderr; its argument is null).
    if (notices_ != nullptr) PQsetNoticeReceiver(conn_, previous_receiver_, nullptr);
    notices_.reset();
    return;
  }
  PQnoticeReceiver before =
      PQsetNoticeReceiver(conn_, &receive_notice, const_cast<notice_sink*>(sink.get()));
  if (notices_ == nullptr) previous_receiver_ = before;
  notices_ = std::move(sink);
}

void connection::divert_notices(PQnoticeReceiver receiver, void* arg) noexcept {
  if (conn_ == nullptr) return;
  PQnoticeReceiver before = PQsetNoticeReceiver(conn_, receiver, arg);
  if (!diverted_) diverted_from_ = before;
  diverted_ = true;
}

void connection::restore_notices() noexcept {
  if (conn_ == nullptr || !diverted_) return;
  diverted_ = false;
  if (notices_ != nullptr) {
    PQsetNoticeReceiver(conn_, &receive_notice, const_cast<notice_sink*>(notices_.get()));
  } else {
    PQsetNoticeReceiver(conn_, diverted_from_, nullptr);
  }
}

connection::connection(PGconn* conn)
    : conn_(conn), target_(describe_conn(conn)) {
  if (conn_ != nullptr) cancel_ = PQgetCancel(conn_);
}

connection::~connection() { close(); }

// Reads what a pending reset has still to answer, for at most `limit`, so
// that the server is idle when the connection closes: a proxy in between
// (PgBouncer 1.18) that thinks it idle after the first of several answers
// would hand the rest to its next client. Only for a reset sent within the
// last second: an older one has long been answered (and a server that never
// answers must not make every close wait).
void connection::drain_pending(std::chrono::milliseconds limit) noexcept {
  if (pending_.empty() || conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return;
  if (std::chrono::steady_clock::now() - pending_since_ > std::chrono::seconds(1)) return;
  std::size_t syncs = 0;
  for (std::size_t i = 0; i < pending_.size(); ++i) syncs += ends_segment(i) ? 1 : 0;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (syncs > 0) {
    while (PQisBusy(conn_) == 1) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      if (!internal::wait_socket(PQsocket(conn_), false, deadline) ||
          PQconsumeInput(conn_) == 0)
        return;
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) continue;  // the end of one statement's results
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) --syncs;
    PQclear(r);
  }
}

connection::connection(connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)),
      cancel_(std::exchange(other.cancel_, nullptr)),
      target_(std::move(other.target_)),
      round_trips_(std::exchange(other.round_trips_, 0)),
      hook_(std::exchange(other.hook_, nullptr)),
      pending_(std::exchange(other.pending_, {})),
      pending_rollback_(std::exchange(other.pending_rollback_, false)),
      pending_since_(other.pending_since_),
      opening_(std::exchange(other.opening_, {})),
      reset_noted_(std::exchange(other.reset_noted_, false)),
      touched_(std::exchange(other.touched_, false)),
      notices_(std::move(other.notices_)),
      previous_receiver_(other.previous_receiver_),
      cancel_reason_(std::move(other.cancel_reason_)),
      gate_(std::move(other.gate_)) {}

connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    close();
    conn_ = std::exchange(other.conn_, nullptr);
    cancel_ = std::exchange(other.cancel_, nullptr);
    target_ = std::move(other.target_);
    round_trips_ = std::exchange(other.round_trips_, 0);
    hook_ = std::exchange(other.hook_, nullptr);
    pending_ = std::exchange(other.pending_, {});
    pending_rollback_ = std::exchange(other.pending_rollback_, false);
    pending_since_ = other.pending_since_;
    opening_ = std::exchange(other.opening_, {});
    reset_noted_ = std::exchange(other.reset_noted_, false);
    touched_ = std::exchange(other.touched_, false);
    notices_ = std::move(other.notices_);
    previous_receiver_ = other.previous_receiver_;
    cancel_reason_ = std::move(other.cancel_reason_);
    gate_ = std::move(other.gate_);
  }
  return *this;
}

void connection::close() noexcept {
  drain_pending(std::chrono::milliseconds(100));
  pending_.clear();
  opening_.clear();
  if (cancel_ != nullptr) PQfreeCancel(std::exchange(cancel_, nullptr));
  if (conn_ != nullptr) PQfinish(std::exchange(conn_, nullptr));
}

absl::StatusOr<result> connection::exec(std::string_view sql) {
  const gate_pass pass(gate_);
  if (!pass.ok()) return pass.status();
  if (hook_ != nullptr) return hook_->run(*this, statement{sql, {}, false});
  return run(sql, {}, false);
}

absl::StatusOr<result> connection::exec(std::string_view sql,
                                        std::initializer_list<param> params) {
  return exec(sql, std::span<const param>(params.begin(), params.size()));
}

absl::StatusOr<result> connection::exec(std::string_view sql,
                                        std::span<const param> params) {
  const gate_pass pass(gate_);
  if (!pass.ok()) return pass.status();
  if (hook_ != nullptr) return hook_->run(*this, statement{sql, params, true});
  return run(sql, params, true);
}

absl::StatusOr<result> connection::exec_direct(std::string_view sql) {
  return run(sql, {}, false);
}

absl::StatusOr<result> connection::exec_direct(std::string_view sql,
                                               std::span<const param> params) {
  return run(sql, params, true);
}

absl::Status connection::check_sendable(std::string_view sql,
                                        std::size_t params) const {
  if (conn_ == nullptr) {
    return absl::FailedPreconditionError(text::concat(
        "cannot run query: the connection was closed (while running: ",
        internal::sql_excerpt(sql), ")"));
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    return internal::connection_lost(conn_, nullptr, target_, sql, true);
  }
  if (params > max_params) {
    return absl::InvalidArgumentError(text::concat(
        "cannot run query with ", std::to_string(params),
        " parameters: PostgreSQL accepts at most ", std::to_string(max_params),
        "; pass the values as an array "
        "parameter instead (while running: ", internal::sql_excerpt(sql), ")"));
  }
  return absl::OkStatus();
}

absl::Status connection::check_params(std::string_view sql,
                                      std::span<const param> params) const {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i] && params[i]->find('\0') != std::string_view::npos) {
      return absl::InvalidArgumentError(text::concat(
          "cannot run query: parameter $", std::to_string(i + 1),
          " holds a NUL byte, which a PostgreSQL text value cannot contain (libpq would cut "
          "the value there); nothing was sent. Pass binary data as bytea, e.g. hex-encoded "
          "with decode($", std::to_string(i + 1), ", 'hex') (while running: ",
          internal::sql_excerpt(sql), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<result> connection::run(std::string_view sql,
                                       std::span<const param> params,
                                       bool extended) {
  if (absl::Status s = check_sendable(sql, params.size()); !s.ok()) return s;
  if (absl::Status s = check_params(sql, params); !s.ok()) return s;
  if (absl::Status s = settle(); !s.ok()) return s;
  if (absl::Status s = open_now(); !s.ok()) return s;

  // A reason left from a cancel that missed the query before this one must
  // not name this one's cancellation.
  forget_cancel_reason();
  if (!touched_) touched_ = may_change_session(sql);
  const std::string text(sql);
  PGresult* raw = nullptr;
  ++round_trips_;
  if (!extended) {
    raw = internal::exec(conn_, text.c_str());
  } else {
    // libpq wants NUL-terminated values; copy them all before taking
    // pointers, as growing a vector of strings would move them.
    std::vector<std::string> storage;
    storage.reserve(params.size());
    for (const param& p : params) storage.emplace_back(p ? *p : "");
    std::vector<const char*> values(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i]) values[i] = storage[i].c_str();
    }
    raw = internal::exec_params(conn_, text.c_str(), static_cast<int>(params.size()),
                                values.data());
  }
  result res(raw);

  const ExecStatusType status = res.status();
  if (raw != nullptr && (status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
                         status == PGRES_COPY_BOTH)) {
    internal::abort_copy(conn_, status);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return internal::connection_lost(conn_, nullptr, target_, sql, false);
    }
    return internal::copy_refused(sql);
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    return internal::connection_lost(conn_, raw, target_, sql, false);
  }
  if (raw == nullptr) return query_error(nullptr, sql);
  switch (status) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return res;
    default:
      return query_error(raw, sql);
  }
}

absl::Status connection::query_error(const PGresult* res, std::string_view sql) {
  if (res != nullptr) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state != nullptr && std::string_view(state) == "57014") {
      std::string why;
      {
        std::lock_guard lk(cancel_lock_);
        why = std::exchange(cancel_reason_, {});
      }
      if (!why.empty()) return internal::cancelled_error(why, sql);
    }
  }
  return internal::query_error(conn_, res, sql);
}

absl::Status connection::cancel(std::string reason) {
  {
    std::lock_guard lk(cancel_lock_);
    cancel_reason_ = std::move(reason);
  }
  absl::Status sent = cancel();
  if (!sent.ok()) forget_cancel_reason();
  return sent;
}

void connection::forget_cancel_reason() noexcept {
  std::lock_guard lk(cancel_lock_);
  cancel_reason_.clear();
}

absl::Status connection::cancel() const {
  if (cancel_ == nullptr) {
    return absl::FailedPreconditionError(text::concat(
        "cannot cancel: the connection to ", target_,
        " is closed, so no query runs on it"));
  }
  char error[256] = {};
  if (internal::cancel(cancel_, error, sizeof error) == 0) {
    return absl::UnavailableError(
        text::concat("could not send a cancel request to ", target_, ": ",
                     internal::one_line(error)));
  }
  return absl::OkStatus();
}

std::string_view connection::parameter(const char* name) const noexcept {
  if (conn_ == nullptr) return {};
  const char* value = PQparameterStatus(conn_, name);
  return value == nullptr ? std::string_view() : std::string_view(value);
}

int connection::backend_pid() const noexcept {
  return conn_ == nullptr ? 0 : PQbackendPID(conn_);
}

bool connection::ok() const noexcept {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

tx_status connection::server_transaction_status() const noexcept {
  if (!ok()) return tx_status::broken;
  if (!pending_.empty()) return tx_status::idle;
  switch (PQtransactionStatus(conn_)) {
    case PQTRANS_IDLE:
      return tx_status::idle;
    case PQTRANS_ACTIVE:
      return tx_status::active;
    case PQTRANS_INTRANS:
      return tx_status::in_transaction;
    case PQTRANS_INERROR:
      return tx_status::in_error;
    case PQTRANS_UNKNOWN:
      break;
  }
  return tx_status::broken;
}

}  // namespace sandpool::pq
