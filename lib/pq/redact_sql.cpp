// Masking of passwords in SQL text before it is echoed in an error message:
// the literal after the PASSWORD keyword (CREATE/ALTER ROLE), `password=value`
// pairs and URI userinfo inside string literals (dblink, postgres_fdw). A
// match may mask more than the password, never less.
#include <cstddef>
#include <string>
#include <string_view>

#include "sandpool/pq/redact.hpp"
#include "text.hpp"

namespace sandpool::pq {
namespace {

using text::is_ident;
using text::is_space;
using text::istarts_with;
using text::lower;

constexpr std::string_view mask = "***";

// Returns where the literal (quoted, E-quoted or dollar-quoted) or, after an
// `=`, the bare token starting at sql[i] ends; i itself if there is none.
std::size_t skip_sql_value(std::string_view sql, std::size_t i, bool after_eq) {
  const std::size_t n = sql.size();
  const bool escaped = i + 1 < n && lower(sql[i]) == 'e' && sql[i + 1] == '\'';
  if (escaped) ++i;
  if (i < n && sql[i] == '\'') {
    for (++i; i < n; ++i) {
      if (escaped && sql[i] == '\\') {
        ++i;
      } else if (sql[i] == '\'') {
        if (i + 1 < n && sql[i + 1] == '\'') {
          ++i;
        } else {
          return i + 1;
        }
      }
    }
    return n;
  }
  if (i < n && sql[i] == '$') {
    std::size_t k = i + 1;
    while (k < n && is_ident(sql[k])) ++k;
    if (k < n && sql[k] == '$') {
      const std::string_view tag = sql.substr(i, k - i + 1);
      const std::size_t close = sql.find(tag, k + 1);
      return close == std::string_view::npos ? n : close + tag.size();
    }
  }
  if (!after_eq) return i;
  while (i < n && !is_space(sql[i]) && sql[i] != '\'' && sql[i] != ';' &&
         sql[i] != ')' && sql[i] != ',' && sql[i] != '&') {
    ++i;
  }
  return i;
}

}  // namespace

std::string redact_sql(std::string_view sql) {
  constexpr std::string_view keyword = "password";
  std::string out;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql.compare(i, 3, "://") == 0) {
      // URI userinfo inside a literal: mask between the first ':' and '@'.
      std::size_t k = i + 3;
      while (k < sql.size() && sql[k] != '@' && sql[k] != '/' &&
             sql[k] != '\'' && !is_space(sql[k])) {
        ++k;
      }
      const std::size_t colon = sql.find(':', i + 3);
      if (k < sql.size() && sql[k] == '@' && colon < k) {
        out.append(sql.substr(pos, colon + 1 - pos)).append(mask);
        pos = k;
      }
      i = k;
      continue;
    }
    if (!istarts_with(sql.substr(i), keyword) ||
        (i > 0 && is_ident(sql[i - 1]))) {
      continue;
    }
    std::size_t j = i + keyword.size();
    if (j < sql.size() && is_ident(sql[j])) continue;
    while (j < sql.size() && is_space(sql[j])) ++j;
    const bool after_eq = j < sql.size() && sql[j] == '=';
    if (after_eq) {
      ++j;
      while (j < sql.size() && is_space(sql[j])) ++j;
    }
    const std::size_t end = skip_sql_value(sql, j, after_eq);
    if (end > j) {
      out.append(sql.substr(pos, j - pos)).append(mask);
      pos = end;
    }
    i = end > j ? end - 1 : j;
  }
  out.append(sql.substr(std::min(pos, sql.size())));
  return out;
}

}  // namespace sandpool::pq
