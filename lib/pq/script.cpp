// connection::exec_wrapped: the caller's statement between statements of
// its own, as one simple-protocol Query, every completed statement's result
// kept (PQexec keeps only the last). It owns two rules: the answer is read
// to its end (each result up to libpq's null), so the connection is ready
// for the next request; and what the caller sees of an error is what it
// would see had its statement been sent alone (the statement named, the
// position counted from its start).
#include <cstdlib>
#include <string>
#include <utility>

#include "pq/error.hpp"
#include "pq/wait.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/server_error.hpp"
#include "sandpool/pq/session_reset.hpp"
#include "text.hpp"

namespace sandpool::pq {
namespace {

// Whether an error that came before the opening's statements completed is
// the caller's: one the server raised reading the whole string (a syntax
// error), placed after the opening's text, before anything ran.
bool caller_error(const PGresult* res, std::size_t opening_length) {
  const char* at = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
  return at != nullptr && std::strtoul(at, nullptr, 10) > opening_length;
}

}  // namespace

absl::StatusOr<connection::script_outcome> connection::exec_wrapped(std::string_view before,
                                                                    std::string_view sql,
                                                                    std::string_view after) {
  if (absl::Status s = check_sendable(sql, 0); !s.ok()) return s;
  if (absl::Status s = settle(); !s.ok()) return s;
  forget_cancel_reason();  // see run()
  if (!touched_) touched_ = may_change_session(sql);
  // A deferred opening goes first; its results are not the caller's.
  std::size_t opening = 0;
  std::string head = take_opening(opening);
  if (opening > 0) head += "; ";
  head += before;
  const std::string text = text::concat(head, sql, after);
  absl::Status opening_error;
  bool redefer = false;
  ++round_trips_;
  if (PQsendQuery(conn_, text.c_str()) != 1) {
    if (opening > 0) opening_ = std::exchange(sent_opening_, {});
    if (PQstatus(conn_) != CONNECTION_OK) {
      return internal::connection_lost(conn_, nullptr, target_, sql, false);
    }
    return query_error(nullptr, sql);
  }
  script_outcome out;
  for (;;) {
    internal::await_result(conn_);
    result res(PQgetResult(conn_));
    if (res.native() == nullptr) break;
    const ExecStatusType status = res.status();
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      internal::abort_copy(conn_, status);
      if (PQstatus(conn_) != CONNECTION_OK) {
        return internal::connection_lost(conn_, nullptr, target_, sql, false);
      }
      return internal::copy_refused(sql);
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
      return internal::connection_lost(conn_, res.native(), target_, sql, false);
    }
    const bool done =
        status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY;
    if (opening > 0) {
      if (!done && caller_error(res.native(), head.size() - before.size())) {
        redefer = true;  // the string was rejected whole: nothing of it ran
      } else {
        --opening;
        if (!done) {
          opening_error = query_error(res.native(), text);
          opening = 0;
        }
        continue;
      }
      opening = 0;
    }
    if (done) {
      out.results.push_back(std::move(res));
    } else if (out.error.ok() && opening_error.ok()) {
      out.error = query_error(res.native(), sql);
      move_error_position(out.error, -static_cast<long>(head.size()),
                          text::characters(sql) + 1);
    }
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    return internal::connection_lost(conn_, nullptr, target_, sql, false);
  }
  if (!opening_error.ok()) return opening_failed(opening_error);
  if (redefer) opening_ = std::exchange(sent_opening_, {});
  return out;
}

}  // namespace sandpool::pq
