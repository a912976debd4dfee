// Cleanup strategies for suites that cannot run in the sandbox (a "cluster"
// suite whose processes need committed rows): after each test or each suite,
// empty the tables the suite wrote, by TRUNCATE or by DELETE in foreign-key
// order. It owns two rules: nothing is cleaned before the safeguard has
// approved the live connection (a test database on a local or allowed
// server), and a cleanup is all or nothing (one transaction, one round trip).
//
//   sandpool::cleanup_strategy wipe;
//   wipe.kind = sandpool::cleanup_kind::delete_rows;
//   wipe.except = {"schema_migrations"};
//   if (absl::Status s = sandpool::run_cleanup(*lease, wipe); !s.ok()) ...
//
// Cycles: tables that reference each other in a cycle are deleted by one
// statement (`WITH a AS (DELETE FROM a) DELETE FROM b`); foreign-key checks
// run at the end of a statement, so this works for deferrable and
// non-deferrable keys alike, without SET CONSTRAINTS. A self-referencing
// table is one DELETE for the same reason.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/pq/connection.hpp"
#include "sandpool/sandbox/safeguard.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

enum class cleanup_kind {
  // One TRUNCATE of the whole set. Fastest for big tables, slow for many
  // small ones. Refused (before anything is sent) if a table outside the set
  // references one inside it: add it to the set, or use truncate_cascade.
  truncate,
  // TRUNCATE ... CASCADE: also empties every table that references the set,
  // wherever it is, even tables named in `except`.
  truncate_cascade,
  // DELETE, children before parents (cycles in one statement). Cheapest for
  // small tables; keeps sequences, which truncate can restart.
  delete_rows,
};

// When a test-framework fixture runs the cleanup (run_cleanup ignores it).
enum class cleanup_when {
  each_test,   // after every test case
  each_suite,  // once, after the suite's last test case
};

struct cleanup_strategy {
  cleanup_kind kind = cleanup_kind::truncate;
  // Tables to clean, `table` or `schema.table`; empty: every table of
  // `schemas`. An unqualified name is looked up in `schemas`.
  std::vector<std::string> only;
  // Tables never to clean (same forms), e.g. a migrations table.
  std::vector<std::string> except;
  // Where tables are looked up. Tables owned by an extension (PostGIS's
  // spatial_ref_sys) and partitions (cleaned through their parent) are
  // never part of the set.
  std::vector<std::string> schemas = {"public"};
  // TRUNCATE ... RESTART IDENTITY: sequences owned by the tables restart.
  // Ignored by delete_rows.
  bool restart_identity = false;
  // How long to wait for a table lock before failing (a session that still
  // uses a table would otherwise block the cleanup forever). Zero: forever.
  std::chrono::milliseconds lock_timeout{10'000};
  // What the live connection must be for any cleanup to run.
  safeguard_options safeguard{};
  cleanup_when when = cleanup_when::each_test;
};

// What a cleanup does, resolved once: a suite that cleans after every test
// can plan once and skip the catalog query afterwards.
struct cleanup_plan {
  // The strategy this plan was made from.
  cleanup_strategy strategy;
  // Qualified, quoted table names in the order they are emptied (children
  // before parents; meaningful for delete_rows).
  std::vector<std::string> tables;
  // The statements run_cleanup sends (in one round trip); empty if the set
  // is empty.
  std::string sql;
  // Foreign keys from tables outside the set into it, as
  // "schema.child -> schema.parent": they block truncate, and a DELETE if
  // the outside table has rows.
  std::vector<std::string> outside_references;
};

// Resolves the strategy's tables on `c` (one catalog query) and builds the
// statements. Does not check the safeguard and changes nothing. Errors:
// FailedPrecondition if `c` is inside a transaction (a cleanup commits; a
// sandboxed connection would roll it back), or, for truncate, if a table
// outside the set references one inside it; NotFound for a name in `only`
// or `except` that matches no table; InvalidArgument for an empty schema
// list or a malformed name; the driver's errors for the query.
// Not thread-safe on one connection, like every use of a connection.
[[nodiscard]] absl::StatusOr<cleanup_plan> plan_cleanup(pq::connection& c,
                                                        const cleanup_strategy& s);

// Checks the safeguard on the live connection, then empties the strategy's
// tables in one transaction: either every table is emptied or none is.
// Errors: the safeguard's refusal (nothing is sent past its check); the
// errors of plan_cleanup(); FailedPrecondition when a foreign key outside
// the set blocks a DELETE (naming the referencing tables and the fix), or
// when lock_timeout expires (naming the fix: end the sessions still using
// the tables); the driver's errors otherwise, with the plan's tables named.
[[nodiscard]] absl::Status run_cleanup(pq::connection& c, const cleanup_strategy& s);

// Runs a plan made by plan_cleanup(), possibly on another connection: checks
// the safeguard on `c` (one round trip), then sends plan.sql (one more). A
// table created after planning is not cleaned; one dropped since fails the
// cleanup (InvalidArgument, suggesting a new plan). Errors: as above.
[[nodiscard]] absl::Status run_cleanup(pq::connection& c, const cleanup_plan& plan);

}  // namespace sandpool

#pragma GCC visibility pop
