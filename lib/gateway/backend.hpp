// What a gateway session sends to the owner's backend and how the answers
// become protocol messages for its client. It owns two rules: a session's
// statements reach the server through libpq's pipeline, so the savepoint
// that protects them and the statements themselves cost one round trip; and
// what the client receives is what the server sent (rows in the formats the
// client asked for, command tags, every error and notice field), with
// positions counted in the client's own text.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "sandpool/gateway/wire.hpp"
#include "sandpool/pq/server_error.hpp"

namespace sandpool::gw {

struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

// One statement of the client's, as libpq sends it.
struct call {
  std::string_view sql = {};    // sent with its parameters, unless prepared is set
  std::string_view prepared = {};  // a server-side statement name
  std::span<const std::uint32_t> types = {};  // for sql; 0 unspecified
  std::span<const std::optional<std::string>> values = {};  // nullopt: NULL
  std::span<const std::int16_t> formats = {};  // per parameter; empty: all text
  int result_format = 0;
  bool describe = false;  // describe `prepared` instead of executing it
  bool prepare = false;   // prepare sql as `prepared` instead of executing it
};

struct pipeline_outcome {
  std::vector<result_ptr> results;  // one per call; null if skipped after an error
  result_ptr before, after;         // the wrappers' results (null if not sent)
  // The connection failed: no result can be trusted.
  std::optional<absl::Status> lost;
};

// Sends `before` (if any), the calls, `after` (if any) and one Sync, then
// reads every answer: one round trip.
[[nodiscard]] pipeline_outcome run_pipeline(PGconn* conn, std::string_view before,
                                            std::span<const call> calls,
                                            std::string_view after);

// Whether res is an error (or missing).
[[nodiscard]] bool failed(const PGresult* res) noexcept;

// The ErrorResponse/NoticeResponse fields for a status: the server's own if
// it carries them, else severity ERROR, its SQLSTATE (or one for its code)
// and its message.
[[nodiscard]] pq::error_fields fields_for(const absl::Status& s);
// The fields with the statement position moved by `offset` characters (the
// statement's place in the client's string).
void shift_position(pq::error_fields& f, std::size_t offset);

// RowDescription for res (formats as res has them, or `format` for a
// description result); NoData if res has no columns.
void write_description(wire::writer& w, const PGresult* res, std::optional<int> format);
// DataRows [from, to) of res.
void write_rows(wire::writer& w, const PGresult* res, int from, int to);
// What the client sees for one executed statement: rows (with their
// description when `describe`), then CommandComplete, EmptyQueryResponse or
// ErrorResponse (position shifted by `offset`).
// In an error, a server-side statement name the gateway chose reads as the
// client's own (from -> to, each quoted as the server quotes names).
struct name_change {
  std::string_view from, to;
};
void write_result(wire::writer& w, const PGresult* res, bool describe, std::size_t offset = 0,
                  name_change rename = {});

// The number of characters (UTF-8 code points) in s.
[[nodiscard]] std::size_t characters(std::string_view s) noexcept;

}  // namespace sandpool::gw
