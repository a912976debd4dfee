// Cleanup strategies: resolve the strategy's tables from the catalog (one
// query for tables and foreign keys), order them with foreign_key_order(),
// and send every statement in one simple-protocol query. A multi-statement
// query is one implicit transaction, so a failure anywhere undoes it all
// and leaves the connection idle rather than inside a failed transaction.
#include "sandpool/testing/cleanup.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/cord.h"
#include "testing/cleanup_catalog.hpp"
#include "sandpool/testing/fk_order.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool {
namespace {

using namespace cleanup_detail;

// Adds context to a failed status, keeping its code and payloads (the
// SQLSTATE stays readable with pq::sqlstate()).
absl::Status with_context(const absl::Status& s, absl::StatusCode code, const std::string& head,
                          const std::string& tail) {
  const absl::string_view msg = s.message();
  absl::Status out(code, head + std::string(msg.data(), msg.size()) + tail);
  s.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

std::string_view state_name(tx_status t) {
  switch (t) {
    case tx_status::idle:
      return "idle";
    case tx_status::active:
      return "a command in flight";
    case tx_status::in_transaction:
      return "inside a transaction";
    case tx_status::in_error:
      return "inside a failed transaction";
    case tx_status::broken:
      return "broken";
  }
  return "unknown";
}

std::string_view kind_name(cleanup_kind k) {
  switch (k) {
    case cleanup_kind::truncate:
      return "TRUNCATE";
    case cleanup_kind::truncate_cascade:
      return "TRUNCATE ... CASCADE";
    case cleanup_kind::delete_rows:
      return "DELETE";
  }
  return "?";
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& x : v) out += (out.empty() ? "" : ", ") + x;
  return out;
}

absl::Status check_idle(const pq::connection& c) {
  if (c.transaction_status() == tx_status::idle) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "cleanup on " + c.target() + ": the connection is " +
      std::string(state_name(c.transaction_status())) +
      ", but a cleanup must commit (a sandboxed connection would roll it back); run it on "
      "a connection checked out with checkout_options{.sandbox = false} or in auto mode, "
      "outside any transaction");
}

}  // namespace

absl::StatusOr<cleanup_plan> plan_cleanup(pq::connection& c, const cleanup_strategy& s) {
  if (absl::Status idle = check_idle(c); !idle.ok()) return idle;
  if (s.schemas.empty())
    return absl::InvalidArgumentError(
        "cleanup: `schemas` is empty, so no table can be found; list at least one schema "
        "(the default is {\"public\"})");

  std::vector<wanted> only, except;
  std::vector<std::string> schemas = s.schemas;
  for (auto [from, to] : {std::pair{&s.only, &only}, std::pair{&s.except, &except}}) {
    for (const std::string& name : *from) {
      absl::StatusOr<wanted> w = parse_name(name);
      if (!w.ok()) return w.status();
      if (!w->schema.empty() && !contains(schemas, w->schema)) schemas.push_back(w->schema);
      to->push_back(*std::move(w));
    }
  }
  absl::StatusOr<catalog> cat = read_catalog(c, schemas);
  if (!cat.ok()) return cat.status();

  std::vector<bool> in_set(cat->tables.size(), false);
  if (only.empty()) {
    for (std::size_t i = 0; i < cat->tables.size(); ++i)
      in_set[i] = contains(s.schemas, cat->tables[i].schema);
  }
  for (const wanted& w : only) {
    absl::StatusOr<std::size_t> i = resolve(*cat, w, s, "only");
    if (!i.ok()) return i.status();
    in_set[*i] = true;
  }
  for (const wanted& w : except) {
    absl::StatusOr<std::size_t> i = resolve(*cat, w, s, "except");
    if (!i.ok()) return i.status();
    in_set[*i] = false;
  }

  // Renumber the set densely and collect the keys among it and into it.
  std::vector<std::size_t> members;
  for (std::size_t i = 0; i < cat->tables.size(); ++i)
    if (in_set[i]) members.push_back(i);
  auto set_index = [&](const std::string& oid) -> std::ptrdiff_t {
    for (std::size_t m = 0; m < members.size(); ++m)
      if (cat->tables[members[m]].oid == oid) return static_cast<std::ptrdiff_t>(m);
    return -1;
  };
  cleanup_plan plan;
  plan.strategy = s;
  std::vector<fk_edge> edges;
  std::vector<std::string>& outside = plan.outside_references;
  for (const foreign_key& k : cat->keys) {
    const std::ptrdiff_t parent = set_index(k.parent_oid);
    if (parent < 0) continue;
    const std::ptrdiff_t child = set_index(k.child_oid);
    const table& p = cat->tables[members[static_cast<std::size_t>(parent)]];
    if (child >= 0) {
      edges.push_back({static_cast<std::size_t>(child), static_cast<std::size_t>(parent)});
    } else {
      const std::string ref =
          readable(k.child_schema, k.child_name) + " -> " + readable(p.schema, p.name);
      if (!contains(outside, ref)) outside.push_back(ref);
    }
  }
  if (s.kind == cleanup_kind::truncate && !outside.empty())
    return absl::FailedPreconditionError(
        "cleanup by TRUNCATE refused: tables outside the cleanup set reference tables in it (" +
        joined(outside) +
        "), and PostgreSQL will not truncate a referenced table alone; add the referencing "
        "tables to `only` (or remove them from `except`), or use "
        "cleanup_kind::truncate_cascade (which empties them too) or cleanup_kind::delete_rows");

  const auto groups = foreign_key_order(members.size(), edges);
  std::vector<std::string> deletes;
  for (const auto& g : groups) {
    std::string stmt;
    for (std::size_t k = 0; k < g.size(); ++k) {
      const table& t = cat->tables[members[g[k]]];
      plan.tables.push_back(qualified(t));
      // A cycle's tables go in one statement: its key checks run at its end.
      if (k + 1 < g.size()) {
        stmt += (k == 0 ? "WITH " : ", ") + std::string("d") + std::to_string(k) +
                " AS (DELETE FROM " + qualified(t) + ")";
      } else {
        stmt += (k == 0 ? "" : " ") + std::string("DELETE FROM ") + qualified(t);
      }
    }
    deletes.push_back(std::move(stmt));
  }
  if (plan.tables.empty()) return plan;
  if (s.lock_timeout.count() > 0)
    plan.sql = "SET LOCAL lock_timeout = " + std::to_string(s.lock_timeout.count()) + "; ";
  if (s.kind == cleanup_kind::delete_rows) {
    for (const std::string& d : deletes) plan.sql += d + "; ";
  } else {
    plan.sql += "TRUNCATE " + joined(plan.tables);
    if (s.restart_identity) plan.sql += " RESTART IDENTITY";
    if (s.kind == cleanup_kind::truncate_cascade) plan.sql += " CASCADE";
    plan.sql += "; ";
  }
  plan.sql.pop_back();
  return plan;
}

namespace {

// Nothing is read or sent for a cleanup before the safeguard approves.
absl::Status check_connection(pq::connection& c, const cleanup_strategy& s) {
  if (absl::Status idle = check_idle(c); !idle.ok()) return idle;
  const std::string_view action = s.kind == cleanup_kind::delete_rows ? "clean" : "truncate";
  return check_safeguard(c, s.safeguard, action);
}

// Sends the plan (the connection approved) and explains a failure.
absl::Status execute(pq::connection& c, const cleanup_plan& plan) {
  const cleanup_strategy& s = plan.strategy;
  if (plan.sql.empty()) return absl::OkStatus();
  absl::StatusOr<pq::result> r = c.exec(plan.sql);
  if (r.ok()) return absl::OkStatus();

  const std::string head = "cleanup by " + std::string(kind_name(s.kind)) + " of " +
                           joined(plan.tables) + " on " + c.target() +
                           " failed and was rolled back, nothing was removed: ";
  const std::string state = pq::sqlstate(r.status());
  if (state == "23503") {
    const std::string from = plan.outside_references.empty() ? std::string("none found")
                                                             : joined(plan.outside_references);
    return with_context(r.status(), absl::StatusCode::kFailedPrecondition, head,
                        "; a table outside the cleanup set still references rows being "
                        "deleted (keys from outside: " +
                            from +
                            "): add it to `only` (or remove it from `except`, or add its "
                            "schema to `schemas`), or empty it first");
  }
  if (state == "55P03")
    return with_context(r.status(), absl::StatusCode::kFailedPrecondition, head,
                        "; another session holds a lock on one of these tables (an open "
                        "transaction, or a sandboxed test still checked out) and lock_timeout (" +
                            std::to_string(s.lock_timeout.count()) +
                            " ms) expired; end that session's transaction first, or raise "
                            "cleanup_strategy::lock_timeout");
  if (state == "42P01")
    return with_context(r.status(), r.status().code(), head,
                        "; a table of the plan no longer exists: make a new plan with "
                        "plan_cleanup() after changing the schema");
  return with_context(r.status(), r.status().code(), head, "");
}

}  // namespace

absl::Status run_cleanup(pq::connection& c, const cleanup_strategy& s) {
  if (absl::Status ok = check_connection(c, s); !ok.ok()) return ok;
  absl::StatusOr<cleanup_plan> plan = plan_cleanup(c, s);
  if (!plan.ok()) return plan.status();
  return execute(c, *plan);
}

absl::Status run_cleanup(pq::connection& c, const cleanup_plan& plan) {
  // A plan may be reused on another connection: that one is checked too.
  if (absl::Status ok = check_connection(c, plan.strategy); !ok.ok()) return ok;
  return execute(c, plan);
}

}  // namespace sandpool
