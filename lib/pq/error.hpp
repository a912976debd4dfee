// Building the statuses the libpq driver returns. Every message text the
// driver produces from libpq or server output is assembled here, so this is
// where the rules live: one line per message, SQL echoed short and with
// passwords masked, the SQLSTATE attached as payload, and the fix spelled out.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sandpool::pq::internal {

// libpq's multi-line message on one line: line breaks become ". " before a
// new sentence, "; " between messages, and a space elsewhere.
[[nodiscard]] std::string one_line(std::string_view text);

// sql with passwords masked, on one line, cut to about 200 bytes.
[[nodiscard]] std::string sql_excerpt(std::string_view sql);
// A COPY that exec() ended (Unimplemented), with what to use instead.
[[nodiscard]] absl::Status copy_refused(std::string_view sql);

// A status with this code and message that carries state as its SQLSTATE
// payload (none if state is empty).
[[nodiscard]] absl::Status with_sqlstate(absl::StatusCode code,
                                         std::string_view message,
                                         std::string_view state);

// The same status with prefix put before its message; payloads are kept.
[[nodiscard]] absl::Status annotate(const absl::Status& status,
                                    std::string_view prefix);

// The server rejected sql; res holds the error (may be null).
[[nodiscard]] absl::Status query_error(PGconn* conn, const PGresult* res,
                                       std::string_view sql);

// sql was cancelled by a canceller that said why: DeadlineExceeded, SQLSTATE
// 57014, the reason and the statement.
[[nodiscard]] absl::Status cancelled_error(std::string_view reason, std::string_view sql);

// The connection to target is gone: Unavailable. res (may be null) holds the
// server's last word, e.g. 57P01 when an administrator terminated the
// backend; without one the SQLSTATE is 08006 (connection_failure).
// before_send tells whether it was found lost before sql was sent.
[[nodiscard]] absl::Status connection_lost(PGconn* conn, const PGresult* res,
                                           std::string_view target,
                                           std::string_view sql,
                                           bool before_send);

// Connecting to target failed with libpq's reason. Classifies the reason
// (Unavailable, PermissionDenied, NotFound, ResourceExhausted,
// InvalidArgument) and adds the fix. The reason is scrubbed of every password
// in conninfo and of password (the one libpq used, may be empty).
[[nodiscard]] absl::Status connect_error(std::string_view reason,
                                         std::string_view target,
                                         std::string_view conninfo,
                                         std::string_view password);

}  // namespace sandpool::pq::internal
