// How the sandbox reads a string of the code under test: its statements
// and what each means to the sandbox, remembered per session for the
// strings seen lately. A test suite sends the same strings again and again,
// and reading one (PostgreSQL's scanner, twice) costs microseconds, a
// lookup only a hash of the string. It owns the rule that a reading depends
// on the string, the session's standard_conforming_strings and whether
// parameters are bound, and on nothing else.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sandpool/sandbox/statement.hpp"

namespace sandpool {

// Hashes std::string and std::string_view alike, for lookups without a copy.
struct text_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

struct reading {
  // The statements, as (offset, length) into the string read.
  std::vector<std::pair<std::size_t, std::size_t>> pieces;
  // One per piece; a single `other` for several statements with parameters
  // bound (the server rejects that string, whatever its first statement).
  std::vector<statement_info> infos;
  // Whether the server's parser accepts the whole string; unknown until
  // someone needs to know (see sandbox_session::fits_one_string).
  std::optional<bool> parses;

  std::vector<std::string_view> pieces_of(std::string_view sql) const {
    std::vector<std::string_view> out;
    out.reserve(pieces.size());
    for (const auto& [at, len] : pieces) out.push_back(sql.substr(at, len));
    return out;
  }
};

class reading_cache {
 public:
  // The reading of sql; valid until the next call.
  reading& of(std::string_view sql, bool standard_strings, bool extended);

 private:
  static constexpr std::size_t limit = 256;     // strings remembered
  static constexpr std::size_t longest = 4096;  // bytes of a string remembered
  std::unordered_map<std::string, reading, text_hash, std::equal_to<>> map_;
  std::string key_;  // reused: the string and one byte for the two settings
  reading scratch_;  // the reading of a string too long to remember
};

}  // namespace sandpool
