// Text helpers shared by the library's sources (driver, sandbox, cleanup). The character tests are
// locale-independent on purpose: connection strings and SQL keywords are
// ASCII, and a redaction that depended on the locale could miss a password.
// Debian's Abseil has its own string_view type (not std::string_view), so
// absl::StrCat does not take ours: concat() and the two conversions are the
// only bridge between the two.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace sandpool::text {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

inline bool is_ident(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return lower(x) == lower(y); });
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline bool icontains(std::string_view hay, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// Characters of UTF-8 text (bytes that do not continue a sequence), as the
// server counts positions.
inline long characters(std::string_view s) {
  long n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// Whether s is UTF-8 as PostgreSQL's own check accepts it: no overlong
// forms, no surrogates, nothing past U+10FFFF, no truncated sequence.
inline bool valid_utf8(std::string_view s) {
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char b = at(i);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      lo = b == 0xE0 ? 0xA0 : lo;
      hi = b == 0xED ? 0x9F : hi;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      lo = b == 0xF0 ? 0x90 : lo;
      hi = b == 0xF4 ? 0x8F : hi;
    } else {
      return false;
    }
    if (s.size() - i < n || at(i + 1) < lo || at(i + 1) > hi) return false;
    for (std::size_t k = 2; k < n; ++k)
      if (at(i + k) < 0x80 || at(i + k) > 0xBF) return false;
    i += n;
  }
  return true;
}

// Joins std::string, std::string_view and C strings into one string.
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

inline absl::string_view to_absl(std::string_view s) noexcept {
  return absl::string_view(s.data(), s.size());
}

inline std::string_view from_absl(absl::string_view s) noexcept {
  return std::string_view(s.data(), s.size());
}

}  // namespace sandpool::text
