// Protocol 3.0's frontend messages read from untrusted bytes, and the
// backend messages the gateway writes. Reading goes through one cursor that
// checks every length, count and terminator against the bytes it holds.
#include "sandpool/gateway/wire.hpp"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "text.hpp"

namespace sandpool::wire {
namespace {

absl::Status malformed(std::string_view what, std::string_view why) {
  return absl::InvalidArgumentError(
      text::to_absl(text::concat("malformed ", what, " message: ", why)));
}

// Big-endian reads over a message body; any read past the end fails the
// cursor, and every later read returns zero.
class cursor {
 public:
  explicit cursor(std::string_view body) : rest_(body) {}

  std::int32_t int32() {
    if (!need(4)) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(rest_.data());
    const std::uint32_t v = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                            (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    rest_.remove_prefix(4);
    return static_cast<std::int32_t>(v);
  }
  std::int16_t int16() {
    if (!need(2)) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(rest_.data());
    const auto v = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
    rest_.remove_prefix(2);
    return static_cast<std::int16_t>(v);
  }
  char byte() {
    if (!need(1)) return 0;
    const char c = rest_.front();
    rest_.remove_prefix(1);
    return c;
  }
  std::string_view cstring() {
    const std::size_t nul = rest_.find('\0');
    if (nul == std::string_view::npos) {
      ok_ = false;
      rest_ = {};
      return {};
    }
    const std::string_view s = rest_.substr(0, nul);
    rest_.remove_prefix(nul + 1);
    return s;
  }
  std::string_view bytes(std::size_t n) {
    if (!need(n)) return {};
    const std::string_view s = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return s;
  }
  std::size_t left() const noexcept { return rest_.size(); }
  bool ok() const noexcept { return ok_; }
  // All read, nothing left over.
  bool done() const noexcept { return ok_ && rest_.empty(); }

 private:
  bool need(std::size_t n) {
    if (ok_ && rest_.size() >= n) return true;
    ok_ = false;
    rest_ = {};
    return false;
  }
  std::string_view rest_;
  bool ok_ = true;
};

std::size_t read_length(std::string_view at) {
  cursor c(at.substr(0, 4));
  return static_cast<std::uint32_t>(c.int32());
}

// A count read as int16, which must be non-negative and fit in what is left
// (each element takes at least `each` bytes).
absl::StatusOr<std::size_t> count(cursor& c, std::size_t each, std::string_view what,
                                  std::string_view field) {
  const std::int16_t n = c.int16();
  if (!c.ok()) return malformed(what, text::concat("it ends before ", field));
  if (n < 0) return malformed(what, text::concat(field, " is negative"));
  if (static_cast<std::size_t>(n) * each > c.left()) {
    return malformed(what, text::concat(field, " (", std::to_string(n),
                                        ") is more than the message holds"));
  }
  return static_cast<std::size_t>(n);
}

absl::StatusOr<message> parse_bind(cursor& c) {
  bind b;
  b.portal = c.cstring();
  b.statement = c.cstring();
  if (!c.ok()) return malformed("Bind", "a name is not NUL-terminated");
  auto nf = count(c, 2, "Bind", "the parameter format count");
  if (!nf.ok()) return nf.status();
  for (std::size_t i = 0; i < *nf; ++i) b.param_formats.push_back(c.int16());
  auto nv = count(c, 4, "Bind", "the parameter count");
  if (!nv.ok()) return nv.status();
  if (b.param_formats.size() > 1 && b.param_formats.size() != *nv) {
    return malformed("Bind", "it gives a format for some parameters but not all");
  }
  for (std::size_t i = 0; i < *nv; ++i) {
    const std::int32_t len = c.int32();
    if (len == -1) {
      b.values.emplace_back(std::nullopt);
      continue;
    }
    if (len < 0 || static_cast<std::size_t>(len) > c.left()) {
      return malformed("Bind", text::concat("parameter ", std::to_string(i + 1),
                                            " has a length the message does not hold"));
    }
    b.values.emplace_back(c.bytes(static_cast<std::size_t>(len)));
  }
  auto nr = count(c, 2, "Bind", "the result format count");
  if (!nr.ok()) return nr.status();
  for (std::size_t i = 0; i < *nr; ++i) b.result_formats.push_back(c.int16());
  for (std::int16_t f : b.param_formats)
    if (f != 0 && f != 1) return malformed("Bind", "a parameter format is neither 0 nor 1");
  for (std::int16_t f : b.result_formats)
    if (f != 0 && f != 1) return malformed("Bind", "a result format is neither 0 nor 1");
  if (!c.done()) return malformed("Bind", "it has bytes after its last field");
  return b;
}

absl::StatusOr<message> parse_body(char type, cursor& c) {
  const std::string what = type_name(type);
  auto finish = [&](message m) -> absl::StatusOr<message> {
    if (!c.ok()) return malformed(what, "it ends inside a field");
    if (!c.done()) return malformed(what, "it has bytes after its last field");
    return m;
  };
  switch (type) {
    case 'Q': {
      query q{c.cstring()};
      return finish(q);
    }
    case 'P': {
      parse p;
      p.name = c.cstring();
      p.sql = c.cstring();
      auto n = count(c, 4, what, "the parameter type count");
      if (!n.ok()) return n.status();
      for (std::size_t i = 0; i < *n; ++i) {
        p.param_types.push_back(static_cast<std::uint32_t>(c.int32()));
      }
      return finish(std::move(p));
    }
    case 'B':
      return parse_bind(c);
    case 'D':
    case 'C': {
      const char kind = c.byte();
      const std::string_view name = c.cstring();
      if (c.ok() && kind != 'S' && kind != 'P') {
        return malformed(what, "the kind is neither 'S' (statement) nor 'P' (portal)");
      }
      if (type == 'D') return finish(describe{kind, name});
      return finish(close{kind, name});
    }
    case 'E': {
      execute e;
      e.portal = c.cstring();
      e.max_rows = c.int32();
      return finish(e);
    }
    case 'S':
      return finish(sync{});
    case 'H':
      return finish(flush{});
    case 'X':
      return finish(terminate{});
    case 'd':
      return copy_data{c.bytes(c.left())};
    case 'c':
      return finish(copy_done{});
    case 'f': {
      copy_fail f{c.cstring()};
      return finish(f);
    }
    default:
      return absl::InvalidArgumentError(text::to_absl(
          text::concat("unknown frontend message ", what,
                       "; the gateway speaks protocol 3.0 (PostgreSQL 7.4 and later)")));
  }
}

}  // namespace

std::optional<std::string_view> startup_message::get(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return std::nullopt;
}

std::string type_name(char type) {
  switch (type) {
    case 'Q': return "Query";
    case 'P': return "Parse";
    case 'B': return "Bind";
    case 'D': return "Describe";
    case 'E': return "Execute";
    case 'C': return "Close";
    case 'S': return "Sync";
    case 'H': return "Flush";
    case 'X': return "Terminate";
    case 'd': return "CopyData";
    case 'c': return "CopyDone";
    case 'f': return "CopyFail";
    case 'F': return "FunctionCall";
    case 'p': return "PasswordMessage";
    default: break;
  }
  static constexpr char hex[] = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(type);
  return std::string("type 0x") + hex[u >> 4] + hex[u & 15];
}

absl::StatusOr<std::size_t> startup_length(std::string_view buf, std::size_t max_bytes) {
  if (buf.size() < 4) return 0;
  const std::size_t n = read_length(buf);
  if (n < 8) return malformed("startup", "its length is below 8 bytes");
  if (n > max_bytes || n > 10000) {
    return malformed("startup", "its length is above 10000 bytes, the server's own limit");
  }
  return n;
}

absl::StatusOr<std::size_t> message_length(std::string_view buf, std::size_t max_bytes) {
  if (buf.size() < 5) return 0;
  const std::size_t n = read_length(buf.substr(1));
  if (n < 4) return malformed(type_name(buf[0]), "its length is below 4 bytes");
  if (n > max_bytes) {
    return absl::ResourceExhaustedError(text::to_absl(text::concat(
        type_name(buf[0]), " message of ", std::to_string(n),
        " bytes is above the gateway's limit of ", std::to_string(max_bytes),
        " bytes (gateway_options::max_message_bytes)")));
  }
  return n + 1;
}

absl::StatusOr<startup_packet> parse_startup(std::string_view body) {
  cursor c(body);
  const std::int32_t code = c.int32();
  if (!c.ok()) return malformed("startup", "it has no protocol version");
  if (code == ssl_code || code == gssenc_code) {
    if (!c.done()) return malformed("startup", "an encryption request has extra bytes");
    if (code == ssl_code) return ssl_request{};
    return gssenc_request{};
  }
  if (code == cancel_code) {
    cancel_request r;
    r.pid = c.int32();
    r.key = c.int32();
    if (!c.done()) return malformed("CancelRequest", "it is not exactly 16 bytes");
    return r;
  }
  startup_message m;
  m.version = code;
  // Another protocol's packet is not read further: the caller refuses it.
  if (code >> 16 != 3) return m;
  for (;;) {
    const std::string_view name = c.cstring();
    if (!c.ok()) return malformed("startup", "a parameter name is not NUL-terminated");
    if (name.empty()) break;
    const std::string_view value = c.cstring();
    if (!c.ok()) {
      return malformed("startup", text::concat("parameter \"", name, "\" has no value"));
    }
    m.params.emplace_back(std::string(name), std::string(value));
  }
  if (!c.done()) return malformed("startup", "it has bytes after its terminator");
  return m;
}

absl::StatusOr<message> parse_message(std::string_view whole) {
  if (whole.size() < 5) return malformed("frontend", "it is shorter than its header");
  cursor c(whole.substr(5));
  return parse_body(whole[0], c);
}

writer& writer::begin(char type) {
  out_ += type;
  start_ = out_.size();
  out_.append(4, '\0');
  return *this;
}

writer& writer::end() {
  const auto n = static_cast<std::uint32_t>(out_.size() - start_);
  out_[start_] = static_cast<char>(n >> 24);
  out_[start_ + 1] = static_cast<char>(n >> 16);
  out_[start_ + 2] = static_cast<char>(n >> 8);
  out_[start_ + 3] = static_cast<char>(n);
  return *this;
}

writer& writer::int16(std::int16_t v) {
  const auto u = static_cast<std::uint16_t>(v);
  out_ += static_cast<char>(u >> 8);
  out_ += static_cast<char>(u);
  return *this;
}

writer& writer::int32(std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  for (int shift = 24; shift >= 0; shift -= 8) out_ += static_cast<char>(u >> shift);
  return *this;
}

writer& writer::cstring(std::string_view s) {
  // A NUL inside would end the field early on the client's side.
  out_.append(s.substr(0, s.find('\0')));
  out_ += '\0';
  return *this;
}

writer& writer::bytes(std::string_view s) {
  out_.append(s);
  return *this;
}

writer& writer::authentication_ok() { return begin('R').int32(0).end(); }

writer& writer::parameter_status(std::string_view name, std::string_view value) {
  return begin('S').cstring(name).cstring(value).end();
}

writer& writer::backend_key_data(std::int32_t pid, std::int32_t key) {
  return begin('K').int32(pid).int32(key).end();
}

writer& writer::ready_for_query(char status) {
  begin('Z');
  out_ += status;
  return end();
}

writer& writer::command_complete(std::string_view tag) { return begin('C').cstring(tag).end(); }

writer& writer::parameter_description(const std::vector<std::uint32_t>& types) {
  begin('t').int16(static_cast<std::int16_t>(types.size()));
  for (std::uint32_t t : types) int32(static_cast<std::int32_t>(t));
  return end();
}

writer& writer::fields(char type, const std::vector<std::pair<char, std::string>>& fs) {
  begin(type);
  for (const auto& [code, value] : fs) {
    if (code == '\0') continue;
    out_ += code;
    cstring(value);
  }
  out_ += '\0';
  return end();
}

writer& writer::error_response(const std::vector<std::pair<char, std::string>>& fs) {
  return fields('E', fs);
}

writer& writer::notice_response(const std::vector<std::pair<char, std::string>>& fs) {
  return fields('N', fs);
}

}  // namespace sandpool::wire
