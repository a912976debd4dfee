// P4: what isolating one test costs. The sandbox's per-test cost (explicit
// checkout, K statements, checkin: BEGIN ... ROLLBACK) for K = 0, 1, 5, 20,
// against the usual ways of isolating tests without it, all measured in the
// same run on the server in SANDPOOL_TEST_DSN:
//   - TRUNCATE of 10 and 50 tables (one statement), after the test wrote a
//     row into each;
//   - DELETE from 10 and 50 tables (one round trip), likewise;
//   - the same DELETE through run_cleanup (safeguard, catalog query for the
//     foreign-key order, then the DELETEs: three round trips), and with a
//     plan made once (safeguard and DELETEs: two);
//   - CREATE DATABASE ... TEMPLATE a database holding the 50 tables, then
//     DROP DATABASE (a database per test; connecting to it is not counted).
// A baseline row times the cleanup alone, the test's writes being untimed;
// the sandbox rows include their K statements. The ratios divide each
// baseline by the sandbox with K = 0 (isolation alone) and K = 5 (a typical
// test's writes included, which flatters the baselines).
//
// Noise control: every row runs for --seconds per round, its figure is the
// median time per test; the table shows the median over --rounds rounds,
// the rows running in the same order each round.
//
// Usage: p4_sandbox [--seconds S] [--rounds N]
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandpool.hpp"
#include "sandpool/testing/cleanup.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct settings {
  double seconds = 1.0;
  int rounds = 3;
};

[[noreturn]] void fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "p4_sandbox: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

template <class T>
T must(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) fail(what, v.status());
  return *std::move(v);
}

void must(const absl::Status& s, const std::string& what) {
  if (!s.ok()) fail(what, s);
}

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--seconds" && value && std::atof(value) > 0) {
      s.seconds = std::atof(argv[++i]);
    } else if (arg == "--rounds" && value && std::atoi(value) >= 1) {
      s.rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: p4_sandbox [--seconds S (> 0, default 1)] [--rounds N (>= 1, "
                   "default 3)]\nMeasures the per-test cost of the sandbox against TRUNCATE, "
                   "DELETE and CREATE DATABASE ... TEMPLATE on the server in "
                   "SANDPOOL_TEST_DSN.\n");
      std::exit(arg == "-h" || arg == "--help" ? 0 : 2);
    }
  }
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One row: `prepare` runs untimed before each test, `test` is timed.
struct row {
  std::string label;
  std::function<void()> prepare;
  std::function<void()> test;
  std::vector<double> round_us;  // median µs per test, one per round
};

double measure(row& r, double seconds) {
  std::vector<double> us;
  const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
  while (us.size() < 5 || clock_type::now() < end) {
    if (r.prepare) r.prepare();
    const auto t0 = clock_type::now();
    r.test();
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  return median(std::move(us));
}

std::string table_list(int n, const std::string& schema) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? ", " : "") + schema + ".t" + std::to_string(i);
  return out;
}

std::string create_tables(int n, const std::string& schema) {
  std::string sql = "CREATE SCHEMA " + schema + "; ";
  for (int i = 0; i < n; ++i)
    sql += "CREATE TABLE " + schema + ".t" + std::to_string(i) +
           " (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz DEFAULT now()); ";
  return sql;
}

// conninfo (key=value or URI) with dbname replaced, as key=value text.
std::string with_dbname(const std::string& conninfo, const std::string& dbname) {
  char* error = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &error);
  if (opts == nullptr) {
    if (error != nullptr) PQfreemem(error);
    fail("SANDPOOL_TEST_DSN", absl::InvalidArgumentError("does not parse"));
  }
  std::string out;
  for (const PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string_view(o->keyword) == "dbname") continue;
    out += std::string(o->keyword) + "='";
    for (const char* ch = o->val; *ch != '\0'; ++ch) {
      if (*ch == '\'' || *ch == '\\') out += '\\';
      out += *ch;
    }
    out += "' ";
  }
  PQconninfoFree(opts);
  return out + "dbname=" + dbname;
}

// One row into each of the first n tables: the test's writes.
std::string insert_rows(int n, const std::string& schema) {
  std::string sql;
  for (int i = 0; i < n; ++i)
    sql += "INSERT INTO " + schema + ".t" + std::to_string(i) + " (v) VALUES ('x'); ";
  return sql;
}

}  // namespace

int main(int argc, char** argv) {
  const settings cfg = parse(argc, argv);
  const char* dsn = std::getenv("SANDPOOL_TEST_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    std::fprintf(stderr,
                 "p4_sandbox: SANDPOOL_TEST_DSN is not set; run it under scripts/with-postgres "
                 "(scripts/with-postgres build/bench/p4_sandbox) or point it at a test "
                 "database\n");
    return 2;
  }
  auto driver = must(sandpool::pq::driver::create(dsn), "driver");
  sandpool::pq::connection admin = must(driver.connect(), "connect");
  must(admin.exec("SET client_min_messages = warning").status(), "quiet notices");
  const std::string pid = std::to_string(::getpid());
  const std::string schema = "p4_" + pid, templ = "p4_template_" + pid, copy = "p4_copy_" + pid;
  must(admin.exec(create_tables(50, schema)).status(), "create tables");
  must(admin.exec("CREATE DATABASE " + templ).status(), "create template database");
  {
    auto t = must(sandpool::pq::driver::create(with_dbname(dsn, templ)), "driver");
    auto c = must(t.connect(), "connect to template");
    must(c.exec(create_tables(50, "app")).status(), "fill template");
  }

  sandpool::pool_options po;
  po.name = "p4";
  po.max_size = 1;
  po.min_idle = 1;
  auto pool = must(sandpool::pool::create(driver, po), "pool");
  must(pool.ownership().set_mode(sandpool::manual_mode{}), "manual mode");
  must(sandpool::install_sandbox(pool).status(), "install the sandbox");
  const std::string insert = "INSERT INTO " + schema + ".t0 (v) VALUES ('x')";

  std::vector<row> rows;
  auto add = [&rows](std::string label, std::function<void()> prepare, std::function<void()> test) {
    rows.push_back(row{std::move(label), std::move(prepare), std::move(test), {}});
  };
  for (int k : {0, 1, 5, 20}) {
    add("sandbox: checkout + " + std::to_string(k) + " statements + checkin", {},
        [&pool, &insert, k] {
          must(pool.ownership().checkout().status(), "sandbox checkout");
          for (int i = 0; i < k; ++i) {
            auto lease = must(pool.checkout(), "lease");
            must(lease->exec(insert).status(), "insert");
          }
          must(pool.ownership().checkin(), "sandbox checkin");
        });
  }
  for (int n : {10, 50}) {
    const std::string fill = insert_rows(n, schema);
    std::string deletes;
    for (int i = 0; i < n; ++i)
      deletes += "DELETE FROM " + schema + ".t" + std::to_string(i) + "; ";
    add(
        "TRUNCATE " + std::to_string(n) + " tables",
        [&admin, fill] { must(admin.exec(fill).status(), "fill"); },
        [&admin, sql = "TRUNCATE " + table_list(n, schema)] {
          must(admin.exec(sql).status(), "truncate");
        });
    add(
        "DELETE from " + std::to_string(n) + " tables",
        [&admin, fill] { must(admin.exec(fill).status(), "fill"); },
        [&admin, deletes] { must(admin.exec(deletes).status(), "delete"); });
    sandpool::cleanup_strategy wipe;
    wipe.kind = sandpool::cleanup_kind::delete_rows;
    wipe.schemas = {schema};
    for (int i = 0; i < n; ++i) wipe.only.push_back("t" + std::to_string(i));
    add(
        "run_cleanup, DELETE, " + std::to_string(n) + " tables",
        [&admin, fill] { must(admin.exec(fill).status(), "fill"); },
        [&admin, wipe] { must(sandpool::run_cleanup(admin, wipe), "run_cleanup"); });
    const sandpool::cleanup_plan plan = must(sandpool::plan_cleanup(admin, wipe), "plan_cleanup");
    add(
        "run_cleanup with a plan, DELETE, " + std::to_string(n) + " tables",
        [&admin, fill] { must(admin.exec(fill).status(), "fill"); },
        [&admin, plan] { must(sandpool::run_cleanup(admin, plan), "run_cleanup"); });
  }
  add("CREATE DATABASE ... TEMPLATE (50 tables) + DROP DATABASE", {}, [&] {
    must(admin.exec("CREATE DATABASE " + copy + " TEMPLATE " + templ).status(), "create database");
    must(admin.exec("DROP DATABASE " + copy).status(), "drop database");
  });

  for (int round = 0; round < cfg.rounds; ++round)
    for (row& r : rows) r.round_us.push_back(measure(r, cfg.seconds));

  must(admin.exec("DROP SCHEMA " + schema + " CASCADE").status(), "drop schema");
  must(admin.exec("DROP DATABASE " + templ).status(), "drop template database");

  auto us_of = [&rows](const std::string& label) {
    for (const row& r : rows)
      if (r.label == label) return median(r.round_us);
    return 0.0;
  };
  const double k0 = us_of("sandbox: checkout + 0 statements + checkin");
  const double k5 = us_of("sandbox: checkout + 5 statements + checkin");
  std::printf("P4: per-test isolation cost, median of %d rounds x %.1f s, server: %s\n\n",
              cfg.rounds, cfg.seconds, driver.describe().c_str());
  std::printf("| per test | µs | ÷ sandbox K=0 | ÷ sandbox K=5 |\n|---|---:|---:|---:|\n");
  for (const row& r : rows) {
    const double us = median(r.round_us);
    if (r.label.starts_with("sandbox"))
      std::printf("| %s | %.1f | | |\n", r.label.c_str(), us);
    else
      std::printf("| %s | %.1f | %.0f× | %.1f× |\n", r.label.c_str(), us, us / k0, us / k5);
  }
  const double trunc10 = us_of("TRUNCATE 10 tables"), del10 = us_of("DELETE from 10 tables");
  std::printf(
      "\nGoals (isolation alone, K=0): TRUNCATE of 10 tables %.0f× the sandbox (goal "
      ">= 500×: %s); DELETE from 10 tables %.1f× (goal >= 7×: %s).\n",
      trunc10 / k0, trunc10 / k0 >= 500 ? "met" : "not met", del10 / k0,
      del10 / k0 >= 7 ? "met" : "not met");
  return 0;
}
