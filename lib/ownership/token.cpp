// Token generation, encoding and constant-time comparison.
#include "sandpool/ownership/token.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace sandpool {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::array<std::uint8_t, 16> random_secret() {
  std::array<std::uint8_t, 16> out{};
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();  // no entropy source: a guessable token would be worse
    }
    got += static_cast<std::size_t>(n);
  }
  return out;
}

std::string encode_token(const token_parts& t) {
  std::string secret;
  for (std::uint8_t b : t.secret) {
    secret.push_back(hex_digits[b >> 4]);
    secret.push_back(hex_digits[b & 15]);
  }
  return absl::StrCat("sp1.", t.id, ".", secret);
}

std::optional<token_parts> parse_token(std::string_view text) {
  constexpr std::string_view prefix = "sp1.";
  if (text.size() > 64 || text.substr(0, prefix.size()) != prefix) return std::nullopt;
  text.remove_prefix(prefix.size());
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19) return std::nullopt;
  token_parts t;
  for (char c : text.substr(0, dot)) {
    if (c < '0' || c > '9') return std::nullopt;
    t.id = t.id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  const std::string_view secret = text.substr(dot + 1);
  if (secret.size() != 32) return std::nullopt;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = hex_value(secret[2 * i]), lo = hex_value(secret[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    t.secret[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return t;
}

bool secrets_equal(const std::array<std::uint8_t, 16>& a,
                   const std::array<std::uint8_t, 16>& b) noexcept {
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<std::uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace sandpool
