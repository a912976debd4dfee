// Sandbox tokens: opaque, unguessable, revocable names for an owner's
// connection, for crossing boundaries the library cannot see (an HTTP
// header, an environment variable). A token is "sp1.<id>.<secret>": the id
// finds the record, the 128-bit secret from the kernel's CSPRNG proves the
// holder got it from the owner, and is compared in constant time. Parsing
// never builds anything from the text beyond two fixed-size numbers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

struct token_parts {
  std::uint64_t id = 0;
  std::array<std::uint8_t, 16> secret{};
};

// 16 bytes from getrandom(2). Aborts only if the kernel cannot supply them.
std::array<std::uint8_t, 16> random_secret();

std::string encode_token(const token_parts& t);

// Nullopt unless `text` is exactly a well-formed token.
std::optional<token_parts> parse_token(std::string_view text);

// Compares two secrets in time independent of where they differ.
bool secrets_equal(const std::array<std::uint8_t, 16>& a,
                   const std::array<std::uint8_t, 16>& b) noexcept;

}  // namespace sandpool

#pragma GCC visibility pop
