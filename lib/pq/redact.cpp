// Password redaction. The scanners here find every span of a connection
// string that holds a password, reading it the way libpq's parsers do (so a
// well-formed string masks exactly the password) but erring towards masking
// more wherever the input is malformed or ambiguous: a password must never
// survive redaction, while a few extra asterisks cost nothing.
#include "sandpool/pq/redact.hpp"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "text.hpp"

namespace sandpool::pq {
namespace {

using text::iequals;
using text::is_space;
using text::istarts_with;
using text::lower;

constexpr std::string_view mask = "***";

// A password found in a connection string.
struct secret {
  std::size_t begin;            // raw span [begin, end) in the string
  std::size_t end;
  std::string decoded;          // the value libpq would use
  std::string_view replacement; // what redact_conninfo writes instead
  // Pieces of a password that lacked quoting or encoding and so was split
  // up; libpq may echo any one of them alone.
  std::vector<std::string> pieces = {};
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Percent-decoding as in URIs; an invalid escape is kept as written.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
        hex_value(s[i + 2]) >= 0) {
      out += char(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

secret& add(std::vector<secret>& out, std::size_t begin, std::size_t end,
            std::string decoded, std::string_view replacement = mask) {
  return out.emplace_back(secret{begin, end, std::move(decoded), replacement});
}

// libpq's connection options (PostgreSQL 16's list; a newer option is only
// masked when it directly follows a password, which is harmless).
constexpr std::string_view known_options[] = {
    "application_name", "channel_binding", "client_encoding", "connect_timeout",
    "dbname", "fallback_application_name", "gssdelegation", "gssencmode",
    "gsslib", "host", "hostaddr", "keepalives", "keepalives_count",
    "keepalives_idle", "keepalives_interval", "krbsrvname",
    "load_balance_hosts", "options", "passfile", "password", "port",
    "replication", "require_auth", "requirepeer", "requiressl", "service",
    "ssl_max_protocol_version", "ssl_min_protocol_version", "sslcert",
    "sslcertmode", "sslcompression", "sslcrl", "sslcrldir", "sslkey",
    "sslmode", "sslpassword", "sslrootcert", "sslsni", "target_session_attrs",
    "tcp_user_timeout", "user"};

// Whether s starts with an assignment to a libpq option (`sslmode = ...`).
// Used to tell where a password that lacked quoting or encoding ends.
bool is_option_assignment(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) ++i;
  const std::string_view name = s.substr(0, i);
  while (i < s.size() && is_space(s[i])) ++i;
  return i < s.size() && s[i] == '=' &&
         std::find(std::begin(known_options), std::end(known_options), name) !=
             std::end(known_options);
}

// Scans s[begin, end), a URI, for the userinfo password and `password` query
// parameters.
void scan_uri(std::string_view s, std::size_t begin, std::size_t end,
              std::vector<secret>& out) {
  std::size_t p = s.find("://", begin);
  if (p == std::string_view::npos || p >= end) return;
  p += 3;
  std::size_t query = s.find('?', p);
  if (query == std::string_view::npos || query > end) query = end;

  // libpq ends the userinfo at the first '@' met before any '/'. A password
  // holding an unencoded '@', '/' or '?' confuses that rule, so the userinfo
  // is taken to end at the last '@' instead: never narrower than libpq's
  // reading, too wide only for a query value holding '@' (?user=me@corp)
  // in a URI with a port.
  std::size_t at = std::string_view::npos;
  for (std::size_t i = p; i < end; ++i) {
    if (s[i] == '@') at = i;
  }
  if (at != std::string_view::npos) {
    std::size_t colon = s.find(':', p);
    if (colon != std::string_view::npos && colon < at) {
      add(out, colon + 1, at, percent_decode(s.substr(colon + 1, at - colon - 1)));
    }
  }

  auto next_amp = [&](std::size_t from) {
    const std::size_t amp = s.find('&', from);
    return amp == std::string_view::npos || amp > end ? end : amp;
  };
  for (std::size_t i = query + 1; i < end;) {
    std::size_t amp = next_amp(i);
    const std::size_t eq = s.find('=', i);
    if (eq != std::string_view::npos && eq < amp &&
        iequals(percent_decode(s.substr(i, eq - i)), "password")) {
      // An unencoded '&' in the password splits it: take in the following
      // pieces up to one that looks like a real option (`sslmode=...`).
      std::vector<std::string> pieces;
      std::size_t piece = eq + 1;
      while (amp < end && !is_option_assignment(s.substr(amp + 1, end - amp - 1))) {
        pieces.emplace_back(s.substr(piece, amp - piece));
        piece = amp + 1;
        amp = next_amp(amp + 1);
      }
      if (!pieces.empty()) pieces.emplace_back(s.substr(piece, amp - piece));
      add(out, eq + 1, amp, percent_decode(s.substr(eq + 1, amp - eq - 1)))
          .pieces = std::move(pieces);
    }
    i = amp + 1;
  }
}

// Scans a key=value connection string the way libpq's conninfo_parse reads
// it, keeping on past errors so that later passwords are found as well.
void scan_key_values(std::string_view s, std::vector<secret>& out) {
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto skip_spaces = [&] {
    while (i < n && is_space(s[i])) ++i;
  };
  while (true) {
    skip_spaces();
    if (i >= n) return;
    const std::size_t key_begin = i;
    while (i < n && !is_space(s[i]) && s[i] != '=') ++i;
    const std::string_view key = s.substr(key_begin, i - key_begin);
    if (key.find("://") != std::string_view::npos) {
      // A URI where a keyword should be (e.g. after leading blanks): libpq
      // would echo it in its error, so mask it as a URI.
      while (i < n && !is_space(s[i])) ++i;
      scan_uri(s, key_begin, i, out);
      continue;
    }
    const std::size_t key_end = i;
    const bool is_password = iequals(key, "password");
    skip_spaces();
    if (i >= n || s[i] != '=') {
      if (is_password && i < n) {
        // `password secret`: no telling where the value ends.
        add(out, key_end, n, std::string(s.substr(i)), " ***");
        return;
      }
      continue;  // a bare word; libpq rejects it, nothing to mask
    }
    ++i;
    skip_spaces();
    const std::size_t value_begin = i;
    std::string decoded;
    if (i < n && s[i] == '\'') {
      bool terminated = false;
      for (++i; i < n;) {
        if (s[i] == '\\') {
          if (++i < n) decoded += s[i++];
        } else if (s[i] == '\'') {
          terminated = true;
          ++i;
          break;
        } else {
          decoded += s[i++];
        }
      }
      if (!terminated) {
        if (is_password) {
          add(out, value_begin, n, std::string(s.substr(value_begin + 1)));
          return;
        }
        // The rest of the string is inside the quote; it may still hold a
        // password assignment, so read it as key=value text too.
        i = value_begin + 1;
        continue;
      }
    } else {
      while (i < n && !is_space(s[i])) {
        if (s[i] == '\\') {
          if (++i < n) decoded += s[i++];
        } else {
          decoded += s[i++];
        }
      }
      if (!is_password && s.substr(value_begin, i - value_begin).find("://") !=
                              std::string_view::npos) {
        scan_uri(s, value_begin, i, out);
      }
    }
    if (is_password) {
      // Words after the value that are not options belong to a password
      // that lacked quotes (libpq would echo them in its error).
      std::vector<std::string> pieces;
      std::size_t end = i;
      while (true) {
        std::size_t j = end;
        while (j < n && is_space(s[j])) ++j;
        if (j >= n || is_option_assignment(s.substr(j))) break;
        const std::size_t word = j;
        while (j < n && !is_space(s[j])) ++j;
        pieces.emplace_back(s.substr(word, j - word));
        end = j;
      }
      if (!pieces.empty()) pieces.emplace_back(decoded);
      add(out, value_begin, end, std::move(decoded)).pieces = std::move(pieces);
      i = end;
    }
  }
}

std::vector<secret> find_secrets(std::string_view conninfo) {
  std::vector<secret> out;
  if (istarts_with(conninfo, "postgresql://") ||
      istarts_with(conninfo, "postgres://")) {
    scan_uri(conninfo, 0, conninfo.size(), out);
  } else {
    scan_key_values(conninfo, out);
  }
  std::sort(out.begin(), out.end(),
            [](const secret& a, const secret& b) { return a.begin < b.begin; });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '=' ||
                        s.front() == '\'')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (is_space(s.back()) || s.back() == '\'')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string redact_conninfo(std::string_view conninfo) {
  std::string out;
  std::size_t pos = 0;
  for (const secret& s : find_secrets(conninfo)) {
    if (s.begin < pos) {  // overlaps the span masked last: widen that one
      pos = std::max(pos, s.end);
      continue;
    }
    out.append(conninfo.substr(pos, s.begin - pos));
    out.append(s.replacement);
    pos = s.end;
  }
  if (pos < conninfo.size()) out.append(conninfo.substr(pos));
  return out;
}

std::string scrub(std::string_view message, std::string_view conninfo) {
  std::vector<std::string> needles;
  for (const secret& s : find_secrets(conninfo)) {
    const std::string_view raw = conninfo.substr(s.begin, s.end - s.begin);
    for (std::string_view n : {raw, trim(raw), std::string_view(s.decoded),
                               trim(s.decoded)}) {
      if (!n.empty()) needles.emplace_back(n);
    }
    for (const std::string& piece : s.pieces) {
      for (const std::string& n : {piece, percent_decode(piece)}) {
        if (!n.empty()) needles.push_back(n);
      }
    }
  }
  if (needles.empty()) return std::string(message);
  // Longest first, so a password that contains another is masked whole.
  std::sort(needles.begin(), needles.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() > b.size();
            });
  std::string out;
  for (std::size_t i = 0; i < message.size();) {
    auto hit = std::find_if(needles.begin(), needles.end(),
                            [&](const std::string& n) {
                              return message.compare(i, n.size(), n) == 0;
                            });
    if (hit != needles.end()) {
      out.append(mask);
      i += hit->size();
    } else {
      out += message[i++];
    }
  }
  return out;
}

}  // namespace sandpool::pq
