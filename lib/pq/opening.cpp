// A connection's deferred opening (connection::defer_opening): statements
// sent before anything else reaches the server, by whichever request comes
// first. It owns one rule: an opening is sent at most once, and a request
// that carried one whose statements failed reports their error, not its own.
#include <string>
#include <utility>

#include "pq/error.hpp"
#include "pq/wait.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/session_reset.hpp"
#include "text.hpp"

namespace sandpool::pq {

std::string connection::take_opening(std::size_t& count) {
  sent_opening_ = std::exchange(opening_, {});
  count = sent_opening_.size();
  std::string joined;
  for (const std::string& s : sent_opening_) {
    if (!joined.empty()) joined += "; ";
    joined += s;
    if (!touched_) touched_ = may_change_session(s);
  }
  return joined;
}

absl::Status connection::open_now() {
  if (opening_.empty()) return absl::OkStatus();
  std::size_t count = 0;
  const std::string text = take_opening(count);
  ++round_trips_;
  result res(internal::exec(conn_, text.c_str()));
  if (PQstatus(conn_) != CONNECTION_OK) {
    return internal::connection_lost(conn_, res.native(), target_, text, false);
  }
  const ExecStatusType status = res.status();
  if (res.native() != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) {
    return absl::OkStatus();
  }
  return opening_failed(query_error(res.native(), text));
}

absl::Status connection::opening_failed(const absl::Status& error) {
  std::string sql;
  for (const std::string& s : sent_opening_) sql += (sql.empty() ? "" : "; ") + s;
  // What the opening began is undone, and it waits for the next request.
  if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    PQclear(internal::exec(conn_, "ROLLBACK"));
  }
  opening_ = std::exchange(sent_opening_, {});
  opening_tried_ = true;
  return internal::annotate(
      error, text::concat("the statements this connection defers to its first use (",
                          internal::sql_excerpt(sql),
                          ") failed, so the request that carried them did not run; they "
                          "were rolled back and are sent again with the next request: "));
}

PGconn* connection::native() noexcept {
  if (!opening_.empty()) {
    const gate_pass pass(gate_);
    absl::Status s = pass.ok() ? settle() : pass.status();
    if (s.ok()) s = open_now();
    if (!s.ok() && !opening_.empty()) return nullptr;
  } else {
    (void)settle();  // a failure leaves the PGconn reporting it
  }
  touched_ = true;  // anything may be sent through it
  return conn_;
}

std::string_view connection::database() const noexcept {
  return conn_ != nullptr ? PQdb(conn_) : "";
}

std::string_view connection::user() const noexcept {
  return conn_ != nullptr ? PQuser(conn_) : "";
}

}  // namespace sandpool::pq
