// The gateway's statements on the owner's backend, through libpq's pipeline,
// and the protocol messages made from the server's answers.
#include "gateway/backend.hpp"

#include <charconv>

#include "sandpool/pq/sqlstate.hpp"
#include "text.hpp"

namespace sandpool::gw {
namespace {

// The SQLSTATE for an error sandpool raised itself, by its code.
std::string_view state_for(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument: return "22023";
    case absl::StatusCode::kFailedPrecondition: return "55000";
    case absl::StatusCode::kPermissionDenied: return "42501";
    case absl::StatusCode::kUnimplemented: return "0A000";
    case absl::StatusCode::kResourceExhausted: return "53000";
    case absl::StatusCode::kDeadlineExceeded: return "57014";
    case absl::StatusCode::kUnavailable: return "08006";
    case absl::StatusCode::kCancelled: return "57014";
    default: return "XX000";
  }
}

bool send_one(PGconn* conn, const call& c) {
  if (c.prepare) {
    return PQsendPrepare(conn, std::string(c.prepared).c_str(), std::string(c.sql).c_str(),
                         static_cast<int>(c.types.size()),
                         reinterpret_cast<const Oid*>(c.types.data())) == 1;
  }
  if (c.describe) return PQsendDescribePrepared(conn, std::string(c.prepared).c_str()) == 1;
  std::vector<const char*> values(c.values.size(), nullptr);
  std::vector<int> lengths(c.values.size(), 0);
  std::vector<int> formats(c.values.size(), 0);
  for (std::size_t i = 0; i < c.values.size(); ++i) {
    if (c.values[i]) {
      values[i] = c.values[i]->c_str();
      lengths[i] = static_cast<int>(c.values[i]->size());
    }
    if (c.formats.size() == 1) formats[i] = c.formats[0];
    if (c.formats.size() > 1 && i < c.formats.size()) formats[i] = c.formats[i];
  }
  const int n = static_cast<int>(c.values.size());
  if (!c.prepared.empty()) {
    return PQsendQueryPrepared(conn, std::string(c.prepared).c_str(), n, values.data(),
                               lengths.data(), formats.data(), c.result_format) == 1;
  }
  // The client's types, padded with "unspecified" for the parameters it left out.
  std::vector<Oid> types(c.types.begin(), c.types.end());
  return PQsendQueryParams(conn, std::string(c.sql).c_str(), n,
                           types.empty() ? nullptr : reinterpret_cast<const Oid*>(types.data()),
                           values.data(), lengths.data(), formats.data(),
                           c.result_format) == 1;
}

bool send_plain(PGconn* conn, std::string_view sql) {
  return PQsendQueryParams(conn, std::string(sql).c_str(), 0, nullptr, nullptr, nullptr,
                           nullptr, 0) == 1;
}

// The last result of one pipelined query (libpq ends each with a null).
result_ptr read_one(PGconn* conn) {
  result_ptr last;
  while (PGresult* r = PQgetResult(conn)) {
    last.reset(r);
  }
  return last;
}

absl::Status lost_status(PGconn* conn) {
  if (conn == nullptr) {
    return absl::UnavailableError(
        "the owner's connection is unusable: it was closed, or the transaction the sandbox "
        "defers to its first use could not be opened on it (a statement of the owner's "
        "reports why). Fix: reconnect once the owner has checked out again");
  }
  return absl::UnavailableError(text::to_absl(
      text::concat("the owner's connection failed: ", PQerrorMessage(conn))));
}

}  // namespace

bool failed(const PGresult* res) noexcept {
  if (res == nullptr) return true;
  const ExecStatusType s = PQresultStatus(res);
  return s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_PIPELINE_ABORTED ||
         s == PGRES_NONFATAL_ERROR;
}

pipeline_outcome run_pipeline(PGconn* conn, std::string_view before,
                              std::span<const call> calls, std::string_view after) {
  pipeline_outcome out;
  if (PQenterPipelineMode(conn) != 1) {
    out.lost = lost_status(conn);
    return out;
  }
  bool sent = before.empty() || send_plain(conn, before);
  for (const call& c : calls) sent = sent && send_one(conn, c);
  sent = sent && (after.empty() || send_plain(conn, after));
  sent = sent && PQpipelineSync(conn) == 1;
  if (!sent) {
    out.lost = lost_status(conn);
    (void)PQexitPipelineMode(conn);
    return out;
  }
  if (!before.empty()) out.before = read_one(conn);
  for (std::size_t i = 0; i < calls.size(); ++i) out.results.push_back(read_one(conn));
  if (!after.empty()) out.after = read_one(conn);
  // The Sync's own result, then nothing.
  for (;;) {
    PGresult* r = PQgetResult(conn);
    if (r == nullptr) {
      if (PQstatus(conn) != CONNECTION_OK) break;
      continue;
    }
    const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  if (PQstatus(conn) != CONNECTION_OK) out.lost = lost_status(conn);
  (void)PQexitPipelineMode(conn);
  return out;
}

pq::error_fields fields_for(const absl::Status& s) {
  pq::error_fields f = pq::server_error_fields(s);
  if (!f.empty()) {
    return f;  // the server's own, as it sent them
  }
  std::string state = pq::sqlstate(s);
  if (state.empty()) state = std::string(state_for(s.code()));
  f.emplace_back('S', "ERROR");
  f.emplace_back('V', "ERROR");
  f.emplace_back('C', state);
  f.emplace_back('M', std::string(text::from_absl(s.message())));
  return f;
}

void shift_position(pq::error_fields& f, std::size_t offset) {
  if (offset == 0) return;
  for (auto& [code, value] : f) {
    if (code != 'P') continue;
    std::size_t p = 0;
    if (std::from_chars(value.data(), value.data() + value.size(), p).ec == std::errc()) {
      value = std::to_string(p + offset);
    }
  }
}

std::size_t characters(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

void write_description(wire::writer& w, const PGresult* res, std::optional<int> format) {
  const int n = PQnfields(res);
  if (n == 0) {
    w.no_data();
    return;
  }
  w.begin('T').int16(static_cast<std::int16_t>(n));
  for (int i = 0; i < n; ++i) {
    w.cstring(PQfname(res, i));
    w.int32(static_cast<std::int32_t>(PQftable(res, i)));
    w.int16(static_cast<std::int16_t>(PQftablecol(res, i)));
    w.int32(static_cast<std::int32_t>(PQftype(res, i)));
    w.int16(static_cast<std::int16_t>(PQfsize(res, i)));
    w.int32(PQfmod(res, i));
    w.int16(static_cast<std::int16_t>(format.value_or(PQfformat(res, i))));
  }
  w.end();
}

void write_rows(wire::writer& w, const PGresult* res, int from, int to) {
  const int n = PQnfields(res);
  for (int r = from; r < to; ++r) {
    w.begin('D').int16(static_cast<std::int16_t>(n));
    for (int c = 0; c < n; ++c) {
      if (PQgetisnull(res, r, c)) {
        w.int32(-1);
        continue;
      }
      const int len = PQgetlength(res, r, c);
      w.int32(len).bytes(std::string_view(PQgetvalue(res, r, c), static_cast<std::size_t>(len)));
    }
    w.end();
  }
}

void write_result(wire::writer& w, const PGresult* res, bool describe, std::size_t offset,
                  name_change rename) {
  if (failed(res)) {
    pq::error_fields f = pq::fields_of(res);
    if (f.empty()) {
      f = {{'S', "ERROR"}, {'V', "ERROR"}, {'C', "08006"},
           {'M', res ? PQresultErrorMessage(res) : "no answer from the owner's connection"}};
    }
    shift_position(f, offset);
    if (!rename.from.empty() && rename.from != rename.to) {
      const std::string from = text::concat("\"", rename.from, "\"");
      const std::string to = text::concat("\"", rename.to, "\"");
      for (auto& [code, value] : f) {
        for (std::size_t at = 0; (at = value.find(from, at)) != std::string::npos; at += to.size())
          value.replace(at, from.size(), to);
      }
    }
    w.error_response(f);
    return;
  }
  switch (PQresultStatus(res)) {
    case PGRES_EMPTY_QUERY:
      w.empty_query();
      return;
    case PGRES_TUPLES_OK:
      if (describe) write_description(w, res, std::nullopt);
      write_rows(w, res, 0, PQntuples(res));
      break;
    default:
      break;
  }
  w.command_complete(PQcmdStatus(const_cast<PGresult*>(res)));
}

}  // namespace sandpool::gw
