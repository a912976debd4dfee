// Reading tables and foreign keys for cleanup strategies; see
// cleanup_catalog.hpp.
#include "testing/cleanup_catalog.hpp"

#include <algorithm>

namespace sandpool::cleanup_detail {
namespace {

std::string quote_ident(std::string_view id) {
  std::string out = "\"";
  for (char ch : id) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// A text[] literal, for sending a list as one parameter.
std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char ch : items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

// Rows starting 't' are tables, rows starting 'f' foreign keys into them. Keys
// cloned onto partitions (conparentid <> 0) are left out: the key on the
// partitioned table stands for them.
constexpr std::string_view catalog_sql = R"sql(
WITH t AS (
  SELECT c.oid, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e'))
SELECT 't', t.oid::text, t.nspname, t.relname, NULL FROM t
UNION ALL
SELECT 'f', k.conrelid::text, cn.nspname, cc.relname, k.confrelid::text
FROM pg_constraint k JOIN pg_class cc ON cc.oid = k.conrelid
  JOIN pg_namespace cn ON cn.oid = cc.relnamespace
WHERE k.contype = 'f' AND k.conparentid = 0 AND k.confrelid IN (SELECT oid FROM t))sql";

}  // namespace

std::string qualified(const table& t) { return quote_ident(t.schema) + "." + quote_ident(t.name); }
std::string readable(std::string_view schema, std::string_view name) {
  return std::string(schema) + "." + std::string(name);
}

absl::StatusOr<wanted> parse_name(const std::string& written) {
  const std::size_t dot = written.find('.');
  wanted w{"", written, written};
  if (dot != std::string::npos) {
    w.schema = written.substr(0, dot);
    w.name = written.substr(dot + 1);
  }
  if (w.name.empty() || (dot != std::string::npos && w.schema.empty()))
    return absl::InvalidArgumentError(
        "cleanup: table name '" + written +
        "' is malformed; write `table` or `schema.table`, spelled as the catalog spells it "
        "(lower case unless it was created with a quoted name)");
  return w;
}

absl::StatusOr<catalog> read_catalog(pq::connection& c, const std::vector<std::string>& schemas) {
  const std::string list = array_literal(schemas);
  absl::StatusOr<pq::result> r = c.exec(catalog_sql, {list});
  if (!r.ok()) return r.status();
  catalog out;
  for (int i = 0; i < r->rows(); ++i) {
    if (r->get(i, 0) == "t") {
      out.tables.push_back(
          {std::string(r->get(i, 1)), std::string(r->get(i, 2)), std::string(r->get(i, 3))});
    } else {
      out.keys.push_back({std::string(r->get(i, 1)), std::string(r->get(i, 2)),
                          std::string(r->get(i, 3)), std::string(r->get(i, 4))});
    }
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The index in cat.tables that `w` names: qualified names exactly,
// unqualified ones in the strategy's schemas, first schema first.
absl::StatusOr<std::size_t> resolve(const catalog& cat, const wanted& w, const cleanup_strategy& s,
                                    std::string_view list) {
  const std::vector<std::string> in = w.schema.empty() ? s.schemas : std::vector{w.schema};
  for (const std::string& schema : in)
    for (std::size_t i = 0; i < cat.tables.size(); ++i)
      if (cat.tables[i].schema == schema && cat.tables[i].name == w.name) return i;
  std::string known;
  for (const table& t : cat.tables) {
    if (!contains(in, t.schema)) continue;
    known += (known.empty() ? "" : ", ") + readable(t.schema, t.name);
  }
  std::string where;
  for (const std::string& schema : in) where += (where.empty() ? "" : ", ") + schema;
  return absl::NotFoundError("cleanup: table '" + w.written + "' in `" + std::string(list) +
                             "` matches no table in schema(s) " + where +
                             " (tables there: " + (known.empty() ? "none" : known) +
                             "); fix the name, spelled as the catalog spells it, or add its "
                             "schema to `schemas`");
}

}  // namespace sandpool::cleanup_detail
