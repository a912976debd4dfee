// The catalog side of cleanup strategies (internal): which tables and
// foreign keys exist in the schemas a strategy names, read in one query, and
// how the names a user wrote in `only` / `except` map onto them. Names are
// matched as the catalog spells them; unqualified ones follow the order of
// the strategy's schemas, like a search_path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sandpool/pq/connection.hpp"
#include "sandpool/testing/cleanup.hpp"

namespace sandpool::cleanup_detail {

struct table {
  std::string oid, schema, name;
};

struct foreign_key {
  std::string child_oid, child_schema, child_name, parent_oid;
};

struct catalog {
  std::vector<table> tables;      // in the schemas asked for
  std::vector<foreign_key> keys;  // every key referencing one of `tables`
};

// A name from `only` / `except`: `table` or `schema.table`.
struct wanted {
  std::string schema;  // empty: look it up in the strategy's schemas
  std::string name;
  std::string written;  // as the user wrote it, for messages
};

// `"schema"."name"`, quoted for SQL.
std::string qualified(const table& t);
// schema.name, for messages.
std::string readable(std::string_view schema, std::string_view name);
bool contains(const std::vector<std::string>& v, std::string_view x);

// Errors: InvalidArgument for an empty part.
absl::StatusOr<wanted> parse_name(const std::string& written);

// Tables (not partitions, not owned by an extension) of `schemas` and the
// foreign keys into them, in one round trip.
absl::StatusOr<catalog> read_catalog(pq::connection& c, const std::vector<std::string>& schemas);

// The index in cat.tables that `w` names. Errors: NotFound listing the
// tables that do exist there. `list` names the option, for the message.
absl::StatusOr<std::size_t> resolve(const catalog& cat, const wanted& w, const cleanup_strategy& s,
                                    std::string_view list);

}  // namespace sandpool::cleanup_detail
