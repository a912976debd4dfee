// PostgreSQL's frontend/backend protocol 3.0, as the gateway speaks it: the
// frontend messages read from untrusted bytes, and the backend messages
// written back. It owns one rule: reading never trusts a length, a count or
// a terminator it has not checked against the bytes it holds, so any input
// gives a message or an error that names what is wrong, never a crash or a
// read past the buffer. Pure functions, no I/O, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::wire {

// The request codes of the packets a client may send before its startup
// message (they have no type byte), and protocol 3.0's version word.
inline constexpr std::int32_t protocol_3_0 = 196608;  // 3 << 16
inline constexpr std::int32_t cancel_code = 80877102;
inline constexpr std::int32_t ssl_code = 80877103;
inline constexpr std::int32_t gssenc_code = 80877104;

struct ssl_request {};
struct gssenc_request {};
struct cancel_request {
  std::int32_t pid = 0;
  std::int32_t key = 0;
};
struct startup_message {
  std::int32_t version = 0;  // major << 16 | minor
  std::vector<std::pair<std::string, std::string>> params;  // user, database, options, ...
  // The value of a parameter, or nullopt.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
};
using startup_packet = std::variant<startup_message, cancel_request, ssl_request, gssenc_request>;

// The length of the first packet (startup phase: a 4-byte length that counts
// itself) or message (a type byte, then that length) in buf, whole; 0 while
// buf holds less than its header. Errors: InvalidArgument for a length
// below its minimum or above max_bytes (naming both).
[[nodiscard]] absl::StatusOr<std::size_t> startup_length(std::string_view buf,
                                                         std::size_t max_bytes);
[[nodiscard]] absl::StatusOr<std::size_t> message_length(std::string_view buf,
                                                         std::size_t max_bytes);

// A startup-phase packet, without its length word. Errors: InvalidArgument
// for a malformed packet (missing terminators, a parameter without value).
[[nodiscard]] absl::StatusOr<startup_packet> parse_startup(std::string_view body);

// Frontend messages of the query phase; views point into the message.
struct query {
  std::string_view sql;
};
struct parse {
  std::string_view name, sql;
  std::vector<std::uint32_t> param_types;  // 0: unspecified
};
struct bind {
  std::string_view portal, statement;
  std::vector<std::int16_t> param_formats;  // none: all text; one: for all
  std::vector<std::optional<std::string_view>> values;  // nullopt: NULL
  std::vector<std::int16_t> result_formats;  // none: all text; one: for all
};
struct describe {
  char kind = 'S';  // 'S' statement, 'P' portal
  std::string_view name;
};
struct execute {
  std::string_view portal;
  std::int32_t max_rows = 0;  // 0: all
};
struct close {
  char kind = 'S';
  std::string_view name;
};
struct sync {};
struct flush {};
struct terminate {};
struct copy_data {
  std::string_view data;
};
struct copy_done {};
struct copy_fail {
  std::string_view reason;
};
using message = std::variant<query, parse, bind, describe, execute, close, sync, flush,
                             terminate, copy_data, copy_done, copy_fail>;

// One whole message (type byte, length, body) as message_length measured
// it. Errors: InvalidArgument for an unknown type, or a body that does not
// hold what its type says (naming the message and the field).
[[nodiscard]] absl::StatusOr<message> parse_message(std::string_view whole);

// The name of a message type byte, for errors ("Parse", "type 0x7f").
[[nodiscard]] std::string type_name(char type);

// Backend messages, appended to an output buffer.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  writer& authentication_ok();
  writer& parameter_status(std::string_view name, std::string_view value);
  writer& backend_key_data(std::int32_t pid, std::int32_t key);
  writer& ready_for_query(char status);  // 'I', 'T' or 'E'
  writer& parse_complete() { return empty('1'); }
  writer& bind_complete() { return empty('2'); }
  writer& close_complete() { return empty('3'); }
  writer& no_data() { return empty('n'); }
  writer& empty_query() { return empty('I'); }
  writer& portal_suspended() { return empty('s'); }
  writer& command_complete(std::string_view tag);
  writer& parameter_description(const std::vector<std::uint32_t>& types);
  // fields: (code, value) pairs, e.g. ('S', "ERROR"), ('C', "42P01"), ('M', ...).
  writer& error_response(const std::vector<std::pair<char, std::string>>& fields);
  writer& notice_response(const std::vector<std::pair<char, std::string>>& fields);
  // Begins a message of this type; end() fills in its length.
  writer& begin(char type);
  writer& int16(std::int16_t v);
  writer& int32(std::int32_t v);
  writer& cstring(std::string_view s);  // s, then a NUL (s holds none)
  writer& bytes(std::string_view s);
  writer& end();

 private:
  writer& empty(char type) { return begin(type).end(); }
  writer& fields(char type, const std::vector<std::pair<char, std::string>>& fields);
  std::string& out_;
  std::size_t start_ = 0;
};

}  // namespace sandpool::wire

#pragma GCC visibility pop
