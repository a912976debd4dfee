// The safeguard's checks. Addresses are compared as bytes after parsing with
// inet_pton, never as text, so "127.000.0.1"-style spellings or IPv4-mapped
// IPv6 addresses cannot slip past (or be refused by) a string comparison.
#include "sandpool/sandbox/safeguard.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdint>

#include "text.hpp"

namespace sandpool {
namespace {

using text::concat;

struct ip {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4
};

struct ip_range {
  ip base;
  int prefix = 0;
};

std::optional<ip> parse_ip(std::string_view text) {
  const std::string s(text);
  ip out;
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) return out;
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) != 1) return std::nullopt;
  // ::ffff:a.b.c.d is an IPv4 address.
  static constexpr std::array<std::uint8_t, 12> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(mapped.begin(), mapped.end(), out.bytes.begin())) {
    std::copy(out.bytes.begin() + 12, out.bytes.end(), out.bytes.begin());
    std::fill(out.bytes.begin() + 4, out.bytes.end(), 0);
    return out;
  }
  out.v6 = true;
  return out;
}

std::optional<ip_range> parse_range(std::string_view text) {
  const std::size_t slash = text.find('/');
  auto base = parse_ip(text.substr(0, slash));
  if (!base) return std::nullopt;
  const int bits = base->v6 ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > bits) return std::nullopt;
  }
  return ip_range{*base, prefix};
}

bool contains(const ip_range& r, const ip& a) {
  if (r.base.v6 != a.v6) return false;
  for (int bit = 0; bit < r.prefix; ++bit) {
    const int byte = bit / 8, shift = 7 - bit % 8;
    if (((r.base.bytes[byte] >> shift) & 1) != ((a.bytes[byte] >> shift) & 1)) return false;
  }
  return true;
}

bool is_loopback(const ip& a) {
  if (!a.v6) return a.bytes[0] == 127;
  static constexpr std::array<std::uint8_t, 16> one = {0, 0, 0, 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, 0, 0, 1};
  return a.bytes == one;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += concat(i == 0 ? "" : ", ", "\"", items[i], "\"");
  }
  return out + "]";
}

}  // namespace

absl::Status validate_safeguard_options(const safeguard_options& o) {
  for (const std::string& s : o.allowed_servers) {
    if (!parse_range(s)) {
      return absl::InvalidArgumentError(concat(
          "safeguard_options.allowed_servers holds \"", s,
          "\", which is not an IP address or CIDR range; write addresses such as "
          "\"10.0.0.5\", \"10.1.0.0/16\" or \"fd00::/8\" (host names are not resolved)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<server_identity> read_server_identity(const pq::result& r) {
  if (r.rows() != 1 || r.columns() != 2) {
    return absl::InvalidArgumentError(
        "the safeguard query returned an unexpected shape (expected one row with the "
        "database name and the server address)");
  }
  server_identity who{std::string(r.get(0, 0)), std::nullopt};
  if (!r.is_null(0, 1)) who.address = std::string(r.get(0, 1));
  return who;
}

absl::Status judge_safeguard(const server_identity& who, const safeguard_options& o,
                             std::string_view action) {
  if (o.allow_any) return absl::OkStatus();
  if (absl::Status s = validate_safeguard_options(o); !s.ok()) return s;
  bool name_ok = false;
  for (const std::string& p : o.database_patterns)
    name_ok = name_ok || text::icontains(who.database, p);
  bool server_ok = !who.address.has_value();  // a unix socket is local
  if (who.address) {
    const auto addr = parse_ip(*who.address);
    server_ok = addr && is_loopback(*addr);
    for (const std::string& s : o.allowed_servers) {
      const auto range = parse_range(s);
      server_ok = server_ok || (addr && range && contains(*range, *addr));
    }
  }
  if (name_ok && server_ok) return absl::OkStatus();
  const std::string server =
      who.address ? concat("server ", *who.address) : std::string("the local server (unix socket)");
  std::string why, fix;
  if (!name_ok) {
    why = concat("its name does not contain any of safeguard_options.database_patterns ",
                 quoted_list(o.database_patterns), " (compared ignoring case)");
    fix = concat("add a pattern that matches \"", who.database, "\" to database_patterns");
  }
  if (!server_ok) {
    why += concat(why.empty() ? "" : ", and ", "the server is neither local (unix socket, ",
                  "127.0.0.0/8, ::1) nor in safeguard_options.allowed_servers ",
                  quoted_list(o.allowed_servers));
    fix += concat(fix.empty() ? "" : " and ", "add \"", who.address.value_or(""),
                  "\" (or its range) to allowed_servers");
  }
  return absl::FailedPreconditionError(concat(
      "sandpool safeguard: refused to ", action, " database \"", who.database, "\" on ", server,
      ": ", why, ". The safeguard checks the live connection (current_database() and "
      "inet_server_addr()) so that only test databases are ", action == "sandbox" ? "sandboxed" : "cleaned",
      ". If this database really is disposable, ", fix,
      ", or set safeguard_options.allow_any = true"));
}

absl::Status check_safeguard(pq::connection& c, const safeguard_options& o,
                             std::string_view action) {
  if (o.allow_any) return absl::OkStatus();
  if (absl::Status s = validate_safeguard_options(o); !s.ok()) return s;
  auto r = c.exec_direct(safeguard_query);
  if (!r.ok()) return r.status();
  auto who = read_server_identity(*r);
  if (!who.ok()) return who.status();
  return judge_safeguard(*who, o, action);
}

}  // namespace sandpool
