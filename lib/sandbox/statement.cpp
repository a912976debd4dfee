// Splitting and classifying statements for the sandbox, by PostgreSQL's own
// grammar (sql_parser.cpp, over libpg_query).
#include "sandpool/sandbox/statement.hpp"

#include "sandbox/sql_parser.hpp"

namespace sandpool {

std::vector<std::string_view> split_statements(std::string_view sql,
                                               bool standard_conforming_strings) {
  return sql::split(sql, standard_conforming_strings).pieces;
}

statement_info classify_statement(std::string_view statement, bool standard_conforming_strings) {
  return sql::classify(statement, standard_conforming_strings);
}

std::optional<std::string> canonical_isolation(std::string_view level) {
  if (level.find_first_of(";\0", 0, 2) != std::string_view::npos) return std::nullopt;
  const statement_info info =
      sql::classify(std::string("SET TRANSACTION ISOLATION LEVEL ") + std::string(level), true);
  const transaction_modes& m = info.modes;
  if (info.kind != statement_kind::set_transaction || m.read_only || m.read_write ||
      m.deferrable || m.snapshot)
    return std::nullopt;
  return m.isolation;
}

}  // namespace sandpool
