// The SQL lexer. Byte-oriented: every byte at or above 0x80 counts as an
// identifier character, as in PostgreSQL's own scanner, so UTF-8 identifiers
// never split a token.
#include "sandbox/sql_lexer.hpp"

#include "text.hpp"

namespace sandpool::sql {
namespace {

bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }

bool digit(char c) { return c >= '0' && c <= '9'; }

// Past the end of a quoted run that started at `open` (the quote itself):
// a doubled quote stays inside; with backslashes, \x escapes x.
std::size_t skip_quoted(std::string_view s, std::size_t open, char quote, bool backslashes) {
  std::size_t i = open + 1;
  while (i < s.size()) {
    if (backslashes && s[i] == '\\') {
      i += 2;
    } else if (s[i] == quote) {
      if (i + 1 < s.size() && s[i + 1] == quote) {
        i += 2;
      } else {
        return i + 1;
      }
    } else {
      ++i;
    }
  }
  return s.size();
}

// Past the end of a nested /* */ comment starting at `open`.
std::size_t skip_block_comment(std::string_view s, std::size_t open) {
  std::size_t i = open + 2;
  int depth = 1;
  while (i < s.size() && depth > 0) {
    if (s.compare(i, 2, "/*") == 0) {
      ++depth;
      i += 2;
    } else if (s.compare(i, 2, "*/") == 0) {
      --depth;
      i += 2;
    } else {
      ++i;
    }
  }
  return i < s.size() ? i : s.size();
}

// If a dollar quote opens at `i` ($$ or $tag$), past its end; else 0.
std::size_t skip_dollar_quote(std::string_view s, std::size_t i) {
  std::size_t j = i + 1;
  while (j < s.size() && s[j] != '$' && ident_char(s[j])) ++j;
  if (j >= s.size() || s[j] != '$') return 0;
  const std::string_view tag = s.substr(i, j - i + 1);
  const std::size_t close = s.find(tag, j + 1);
  return close == std::string_view::npos ? s.size() : close + tag.size();
}

}  // namespace

std::vector<token> tokenize(std::string_view s) {
  std::vector<token> out;
  std::size_t i = 0;
  auto emit = [&](token_kind k, std::size_t begin, std::size_t end) {
    out.push_back({k, s.substr(begin, end - begin), begin, end});
    i = end;
  };
  while (i < s.size()) {
    const char c = s[i];
    if (text::is_space(c)) {
      ++i;
    } else if (s.compare(i, 2, "--") == 0) {
      const std::size_t nl = s.find('\n', i);
      i = nl == std::string_view::npos ? s.size() : nl + 1;
    } else if (s.compare(i, 2, "/*") == 0) {
      i = skip_block_comment(s, i);
    } else if (ident_start(c)) {
      std::size_t j = i + 1;
      while (j < s.size() && ident_char(s[j])) ++j;
      if (j == i + 1 && (c == 'e' || c == 'E') && j < s.size() && s[j] == '\'') {
        emit(token_kind::string, i, skip_quoted(s, j, '\'', true));
      } else {
        emit(token_kind::word, i, j);
      }
    } else if (c == '\'') {
      emit(token_kind::string, i, skip_quoted(s, i, '\'', false));
    } else if (c == '"') {
      emit(token_kind::quoted_ident, i, skip_quoted(s, i, '"', false));
    } else if (c == '$' && i + 1 < s.size() && digit(s[i + 1])) {
      std::size_t j = i + 1;
      while (j < s.size() && digit(s[j])) ++j;
      emit(token_kind::param, i, j);
    } else if (c == '$') {
      const std::size_t end = skip_dollar_quote(s, i);
      emit(end != 0 ? token_kind::string : token_kind::other, i, end != 0 ? end : i + 1);
    } else if (digit(c)) {
      std::size_t j = i + 1;
      while (j < s.size() && (ident_char(s[j]) || s[j] == '.')) ++j;
      emit(token_kind::other, i, j);
    } else {
      const token_kind k = c == ';'   ? token_kind::semicolon
                           : c == '(' ? token_kind::open_paren
                           : c == ')' ? token_kind::close_paren
                           : c == ',' ? token_kind::comma
                                      : token_kind::other;
      emit(k, i, i + 1);
    }
  }
  return out;
}

bool is_keyword(const token& t, std::string_view keyword) {
  return t.kind == token_kind::word && text::iequals(t.text, keyword);
}

}  // namespace sandpool::sql
