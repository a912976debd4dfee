// A lexer for PostgreSQL's SQL text, just deep enough to find where tokens
// begin and end: quotes (standard, E'' with backslash escapes, "identifiers",
// $tag$ dollar quotes), comments (-- and nested /* */), words, parameters
// and single punctuation characters. It owns one rule: nothing inside a
// quote or a comment is ever taken for a keyword or a semicolon. An
// unterminated quote or comment runs to the end of the text, as it would for
// the server (which then rejects the whole text).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace sandpool::sql {

enum class token_kind {
  word,          // keyword or unquoted identifier: [A-Za-z_][A-Za-z0-9_$]*
  quoted_ident,  // "..."
  string,        // '...', E'...', $tag$...$tag$
  param,         // $1
  semicolon,
  open_paren,
  close_paren,
  comma,
  other,  // a number or one operator character
};

struct token {
  token_kind kind;
  std::string_view text;  // as written, quotes included
  std::size_t begin = 0;  // offset of the first character in the text
  std::size_t end = 0;    // offset past the last character
};

// The tokens of sql in order; whitespace and comments are skipped.
[[nodiscard]] std::vector<token> tokenize(std::string_view sql);

// Whether a word token equals keyword (given in lower case), ignoring case.
[[nodiscard]] bool is_keyword(const token& t, std::string_view keyword);

}  // namespace sandpool::sql
