// Status construction for the libpq driver: query failures, lost connections
// and failed connection attempts. Classifying a failed connection attempt
// reads libpq's English message text, because libpq exposes no SQLSTATE for
// it; a reason that is not recognised counts as Unavailable (retryable).
#include "pq/error.hpp"

#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "absl/strings/cord.h"
#include "sandpool/pq/redact.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "sandpool/pq/server_error.hpp"
#include "text.hpp"

namespace sandpool::pq::internal {
namespace {

constexpr std::size_t max_sql_echo = 200;

std::string_view field(const PGresult* res, int code) {
  if (res == nullptr) return {};
  const char* value = PQresultErrorField(res, code);
  return value == nullptr ? std::string_view() : std::string_view(value);
}

// The SQLSTATE of the FATAL messages a server sends as it drops a session,
// for when libpq kept the text but not the fields; empty if none matches.
std::string_view fatal_state(std::string_view text) {
  static constexpr std::pair<std::string_view, std::string_view> known[] = {
      {"terminating connection due to administrator command", "57P01"},
      {"terminating connection because of crash of another server process", "57P02"},
      {"the database system is shutting down", "57P03"},
      {"terminating connection due to idle-in-transaction timeout", "25P03"},
      {"terminating connection due to idle-session timeout", "57P05"},
      {"terminating connection due to conflict with recovery", "40001"},
  };
  for (const auto& [message, state] : known) {
    if (text.find(message) != std::string_view::npos) return state;
  }
  return {};
}

std::string while_running(std::string_view sql) {
  if (sql.empty()) return {};
  return text::concat(" (while running: ", sql_excerpt(sql), ")");
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool contains_any(std::string_view text,
                  std::initializer_list<std::string_view> parts) {
  for (std::string_view p : parts) {
    if (contains(text, p)) return true;
  }
  return false;
}

std::string replace_all(std::string_view in, std::string_view what,
                        std::string_view with) {
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    if (in.compare(i, what.size(), what) == 0) {
      out.append(with);
      i += what.size();
    } else {
      out += in[i++];
    }
  }
  return out;
}

bool ends_sentence(std::string_view s) {
  return !s.empty() && (s.back() == '.' || s.back() == '?' || s.back() == '!');
}

struct classified {
  absl::StatusCode code;
  std::string_view state;  // the server's SQLSTATE for this reason, if known
  std::string_view fix;
};

classified classify(std::string_view reason) {
  using code = absl::StatusCode;
  // PgBouncer's own words for the same: "SASL authentication failed",
  // "\"trust\" authentication failed" (a role it cannot log in).
  if (contains_any(reason, {"password authentication failed",
                            "authentication failed for user",
                            "SASL authentication failed",
                            "\"trust\" authentication failed"})) {
    return {code::kPermissionDenied, "28P01",
            "check the user name and the password (password=, PGPASSWORD or "
            "~/.pgpass)"};
  }
  if (contains_any(reason, {"no password supplied", "no pg_hba.conf entry",
                            "pg_hba.conf rejects", "not permitted to log in",
                            "permission denied"}) ||
      (contains(reason, "role \"") && contains(reason, "does not exist"))) {
    return {code::kPermissionDenied, "28000",
            "check the user name, supply a password if the server asks for "
            "one, and check the server's pg_hba.conf rules for this user, "
            "database and address"};
  }
  if (contains(reason, "database \"") && contains(reason, "does not exist")) {
    return {code::kNotFound, "3D000",
            "create the database (e.g. with createdb) or correct dbname in the "
            "connection string"};
  }
  if (contains_any(reason, {"too many clients", "connection slots are reserved",
                            "too many connections"})) {
    return {code::kResourceExhausted, "53300",
            "the server has no free connection slots: lower the pool's "
            "max_size, close other clients, or raise max_connections on the "
            "server"};
  }
  if (text::istarts_with(reason, "invalid ") ||
      contains(reason, "for connection option") ||
      contains(reason, "unsupported startup parameter")) {  // PgBouncer: e.g. options=
    return {code::kInvalidArgument, "",
            "correct the connection option named above"};
  }
  const std::string_view state =
      contains_any(reason, {"is starting up", "is shutting down",
                            "in recovery mode"})
          ? "57P03"
          : "";
  return {code::kUnavailable, state,
          "check that the server is running and accepts connections at this "
          "host and port (pg_isready -h HOST -p PORT tells), and that host and "
          "port are right; each attempt gives up after connect_timeout seconds"};
}

}  // namespace

std::string one_line(std::string_view in) {
  // libpq ends each message with a newline and indents continuation lines;
  // an indented line that starts with a capital is a new sentence.
  std::string out;
  bool space = false;
  bool newline = false;
  bool indented = false;
  for (char c : in) {
    if (text::is_space(c)) {
      indented = newline && c != '\n';
      newline = newline || c == '\n';
      space = true;
      continue;
    }
    if (space && !out.empty()) {
      const char last = out.back();
      const bool ended = last == '.' || last == '?' || last == ':' || last == ';';
      if (!newline || ended) {
        out += ' ';
      } else if (c >= 'A' && c <= 'Z') {
        out += ". ";
      } else {
        out += indented ? " " : "; ";
      }
    }
    space = newline = indented = false;
    out += c;
  }
  return out;
}

std::string sql_excerpt(std::string_view sql) {
  std::string line;
  for (char c : redact_sql(sql)) {
    if (!text::is_space(c)) {
      line += c;
    } else if (!line.empty() && line.back() != ' ') {
      line += ' ';
    }
  }
  if (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.size() <= max_sql_echo) return line;
  std::size_t cut = max_sql_echo;
  // Do not split a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  line.resize(cut);
  line += "...";
  return line;
}

absl::Status with_sqlstate(absl::StatusCode code, std::string_view message,
                           std::string_view state) {
  absl::Status status(code, text::to_absl(message));
  if (!state.empty()) {
    status.SetPayload(text::to_absl(sqlstate_type_url),
                      absl::Cord(std::string(state)));
  }
  return status;
}

absl::Status annotate(const absl::Status& status, std::string_view prefix) {
  if (status.ok()) return status;
  absl::Status out(status.code(),
                   text::concat(prefix, text::from_absl(status.message())));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

absl::Status query_error(PGconn* conn, const PGresult* res,
                         std::string_view sql) {
  const std::string_view state = field(res, PG_DIAG_SQLSTATE);
  std::string_view primary = field(res, PG_DIAG_MESSAGE_PRIMARY);
  if (primary.empty() && res != nullptr) primary = PQresultErrorMessage(res);
  if (primary.empty()) primary = PQerrorMessage(conn);
  std::string message = text::concat(
      "query failed", state.empty() ? "" : text::concat(" [SQLSTATE ", state, "]"),
      ": ", one_line(primary));
  if (std::string_view d = field(res, PG_DIAG_MESSAGE_DETAIL); !d.empty()) {
    message += text::concat("; detail: ", one_line(d));
  }
  if (std::string_view h = field(res, PG_DIAG_MESSAGE_HINT); !h.empty()) {
    message += text::concat("; hint: ", one_line(h));
  }
  message += while_running(sql);
  const absl::StatusCode code =
      state.empty() ? absl::StatusCode::kUnknown : code_for_sqlstate(state);
  absl::Status status = with_sqlstate(code, message, state);
  attach_error_fields(status, fields_of(res));
  return status;
}

absl::Status copy_refused(std::string_view sql) {
  return absl::UnimplementedError(text::concat(
      "COPY is not supported by exec(); it was aborted. Use native() with libpq's COPY "
      "functions (while running: ", sql_excerpt(sql), ")"));
}

absl::Status cancelled_error(std::string_view reason, std::string_view sql) {
  return with_sqlstate(absl::StatusCode::kDeadlineExceeded,
                       text::concat("query cancelled [SQLSTATE 57014]: ", reason,
                                    while_running(sql)),
                       "57014");
}

absl::Status connection_lost(PGconn* conn, const PGresult* res,
                             std::string_view target, std::string_view sql,
                             bool before_send) {
  std::string_view reason = field(res, PG_DIAG_MESSAGE_PRIMARY);
  if (reason.empty() && conn != nullptr) reason = PQerrorMessage(conn);
  const std::string why = one_line(reason);
  const std::string message = text::concat(
      before_send ? "cannot run query: the connection to "
                  : "query failed: the connection to ",
      target, before_send ? " was lost earlier" : " was lost",
      why.empty() ? "" : text::concat(" (", why, ")"),
      "; the pool will replace it when the connection is returned, so check "
      "out again and retry",
      while_running(sql));
  // The server's FATAL before it left, if libpq kept only its text; 08006
  // (connection_failure) when the server said nothing.
  std::string_view state = field(res, PG_DIAG_SQLSTATE);
  if (state.empty()) state = fatal_state(why);
  return with_sqlstate(absl::StatusCode::kUnavailable, message,
                       state.empty() ? "08006" : state);
}

absl::Status connect_error(std::string_view reason, std::string_view target,
                           std::string_view conninfo,
                           std::string_view password) {
  // Classify the raw text: masking could hide the words classify() looks for.
  const std::string raw = one_line(reason);
  const classified c = classify(raw);
  std::string why = scrub(raw, conninfo);
  if (!password.empty()) why = replace_all(why, password, "***");
  return with_sqlstate(
      c.code,
      text::concat("cannot connect to PostgreSQL at ", target, ": ",
                   why.empty() ? "unknown error" : why, ends_sentence(why) ? " " : ". ",
                   "Fix: ", c.fix),
      c.state);
}

}  // namespace sandpool::pq::internal
