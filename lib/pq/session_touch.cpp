// may_change_session (sandpool/pq/session_reset.hpp): the first word of every statement
// (after whitespace and comments, at the start and after each ';') against
// the commands that leave session state, and anywhere in the text the
// names that do it from inside a query (set_config, session advisory locks,
// temp relations).
#include "sandpool/pq/session_reset.hpp"

#include <array>

#include "text.hpp"

namespace sandpool::pq {
namespace {

// Commands whose effect can outlive their transaction; DO and CALL run
// arbitrary code, so they count too.
constexpr std::array<std::string_view, 9> session_commands = {
    "set", "reset", "prepare", "listen", "declare", "load", "discard", "do", "call"};
// Anywhere in the text (lowercase): functions and relations that leave
// state from inside a query, CREATE TEMP ... and SELECT ... INTO TEMP.
constexpr std::array<std::string_view, 3> session_words = {"set_config", "advisory_lock",
                                                           "temp"};

bool contains_word(std::string_view sql, std::string_view word) noexcept {
  if (sql.size() < word.size()) return false;
  for (std::size_t i = 0; i + word.size() <= sql.size(); ++i) {
    if (text::lower(sql[i]) != word[0]) continue;
    if (text::iequals(sql.substr(i, word.size()), word)) return true;
  }
  return false;
}

// Skips whitespace, -- comments and /* */ comments (nested, as the server
// reads them) from i; returns where the next token starts.
std::size_t skip_blanks(std::string_view sql, std::size_t i) noexcept {
  while (i < sql.size()) {
    if (text::is_space(sql[i])) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      while (i < sql.size() && sql[i] != '\n' && sql[i] != '\r') ++i;
    } else if (sql.substr(i, 2) == "/*") {
      int depth = 0;
      while (i < sql.size()) {
        if (sql.substr(i, 2) == "/*") {
          ++depth;
          i += 2;
        } else if (sql.substr(i, 2) == "*/") {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
    } else {
      break;
    }
  }
  return i;
}

bool starts_session_command(std::string_view sql, std::size_t at) noexcept {
  std::size_t end = at;
  while (end < sql.size() && text::is_ident(sql[end])) ++end;
  const std::string_view word = sql.substr(at, end - at);
  for (std::string_view c : session_commands)
    if (text::iequals(word, c)) return true;
  return false;
}

}  // namespace

bool may_change_session(std::string_view sql) noexcept {
  for (std::string_view w : session_words)
    if (contains_word(sql, w)) return true;
  // Every statement start: the beginning and after each ';'. Every ';' is
  // visited, whatever the blanks skipped before it: one inside a literal
  // only adds a start to look at, so no real one is missed.
  std::size_t start = 0;
  while (true) {
    const std::size_t at = skip_blanks(sql, start);
    if (at < sql.size() && starts_session_command(sql, at)) return true;
    const std::size_t next = sql.find(';', start);
    if (next == std::string_view::npos) return false;
    start = next + 1;
  }
}

}  // namespace sandpool::pq
