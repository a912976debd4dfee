// P4: what isolating one test costs, and what the sandbox adds to one
// statement. Every subject is a bare loop of the public API, timed the way
// a user sees it, on the server in SANDPOOL_TEST_DSN:
//   - SELECT 1: one round trip on a plain connection (exec);
//   - the sandbox: ownership().checkout() + K statements + checkin(), for
//     K = 0 (isolation alone: no I/O, as the transaction opens with the
//     test's first statement), one SELECT 1, and K = 5 INSERTs;
//   - TRUNCATE of 10 and 50 tables and DELETE from 10 and 50 tables (one
//     round trip each), after the test wrote a row into each (untimed);
//   - run_cleanup (DELETE in foreign-key order, 10 tables) with a plan;
//   - CREATE DATABASE ... TEMPLATE (50 tables) + DROP DATABASE;
//   - one statement (an INSERT, and SELECT 1) through a sandboxed lease,
//     protected by its savepoint, against the same statement on a plain
//     connection inside a transaction (BEGIN before the loop, ROLLBACK
//     after it, both untimed): what the protection adds.
// Noise control: each round runs every subject for --seconds, in an order
// rotated by one every round, so no subject always follows the same one;
// each ratio is taken within a round and the table shows the min / median
// / max of the per-round ratios over --rounds rounds (at least 40 for a
// figure to quote).
//
// Usage: p4_sandbox [--seconds S] [--rounds N] [--label TEXT]
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "run_settings.hpp"
#include "sandpool/sandbox/sandbox.hpp"
#include "sandpool/sandpool.hpp"
#include "sandpool/testing/cleanup.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

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

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double at = q * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(at);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (at - static_cast<double>(lo));
}

// One subject: `run(seconds)` returns µs per operation for one round.
struct subject {
  std::string label;
  std::function<double(double)> run;
  std::vector<double> us;  // one per round
};

// A bare loop of `op` for about `seconds` (at least 3 operations): µs per op.
double bare_loop(double seconds, const std::function<void()>& op) {
  const auto start = clock_type::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  long n = 0;
  auto now = start;
  do {
    op();
    ++n;
    now = clock_type::now();
  } while (n < 3 || now < end);
  return std::chrono::duration<double, std::micro>(now - start).count() / static_cast<double>(n);
}

// `prepare` untimed before each `op` (the test's writes): mean µs of op.
double prepared_loop(double seconds, const std::function<void()>& prepare,
                     const std::function<void()>& op) {
  const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
  double total = 0;
  long n = 0;
  while (n < 3 || clock_type::now() < end) {
    prepare();
    const auto t0 = clock_type::now();
    op();
    total += std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    ++n;
  }
  return total / static_cast<double>(n);
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

std::string insert_rows(int n, const std::string& schema) {
  std::string sql;
  for (int i = 0; i < n; ++i)
    sql += "INSERT INTO " + schema + ".t" + std::to_string(i) + " (v) VALUES ('x'); ";
  return sql;
}

// A ratio row of the report: numerator ÷ denominator, per round.
struct ratio {
  std::string what, num, den;
  double goal = 0;  // 0: none
  bool at_most = false;
};

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: p4_sandbox [--seconds S (per subject and round, default 0.05)] [--rounds N "
      "(default 40)] [--label TEXT]\nMeasures the per-test cost of the sandbox against "
      "SELECT 1, TRUNCATE, DELETE and CREATE DATABASE ... TEMPLATE, and a protected "
      "statement against the same statement unprotected, on the server in "
      "SANDPOOL_TEST_DSN.\n";
  const auto cfg = sandpool::bench::parse_run_settings(argc, argv, "p4_sandbox", usage,
                                                       {0.05, 40, "unlabelled"});
  const std::string dsn = sandpool::bench::server_dsn("p4_sandbox");
  auto driver = must(sandpool::pq::driver::create(dsn), "driver");
  sandpool::pq::connection admin = must(driver.connect(), "connect");
  sandpool::pq::connection plain = must(driver.connect(), "connect");
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

  std::vector<subject> subjects;
  auto add = [&](std::string label, std::function<double(double)> run) {
    subjects.push_back(subject{std::move(label), std::move(run), {}});
  };
  add("SELECT 1, plain connection", [&](double s) {
    return bare_loop(s, [&] { must(plain.exec("SELECT 1").status(), "select 1"); });
  });
  for (int k : {0, 5}) {
    add("sandbox: checkout + " + std::to_string(k) + " statements + checkin", [&, k](double s) {
      return bare_loop(s, [&] {
        must(pool.ownership().checkout().status(), "sandbox checkout");
        for (int i = 0; i < k; ++i) {
          auto lease = must(pool.checkout(), "lease");
          must(lease->exec(insert).status(), "insert");
        }
        must(pool.ownership().checkin(), "sandbox checkin");
      });
    });
  }
  // A test of one statement: the transaction opens with it, in its trip.
  add("sandbox: checkout + SELECT 1 + checkin", [&](double s) {
    return bare_loop(s, [&] {
      must(pool.ownership().checkout().status(), "sandbox checkout");
      {
        auto lease = must(pool.checkout(), "lease");
        must(lease->exec("SELECT 1").status(), "select 1");
      }
      must(pool.ownership().checkin(), "sandbox checkin");
    });
  });
  for (int n : {10, 50}) {
    const std::string fill = insert_rows(n, schema);
    const std::string truncate = "TRUNCATE " + table_list(n, schema);
    std::string deletes;
    for (int i = 0; i < n; ++i) deletes += "DELETE FROM " + schema + ".t" + std::to_string(i) + "; ";
    auto filled = [&admin, fill] { must(admin.exec(fill).status(), "fill"); };
    add("TRUNCATE " + std::to_string(n) + " tables", [&admin, filled, truncate](double s) {
      return prepared_loop(s, filled, [&] { must(admin.exec(truncate).status(), "truncate"); });
    });
    add("DELETE from " + std::to_string(n) + " tables", [&admin, filled, deletes](double s) {
      return prepared_loop(s, filled, [&] { must(admin.exec(deletes).status(), "delete"); });
    });
  }
  {
    sandpool::cleanup_strategy wipe;
    wipe.kind = sandpool::cleanup_kind::delete_rows;
    wipe.schemas = {schema};
    for (int i = 0; i < 10; ++i) wipe.only.push_back("t" + std::to_string(i));
    const auto plan = must(sandpool::plan_cleanup(admin, wipe), "plan_cleanup");
    const std::string fill = insert_rows(10, schema);
    add("run_cleanup with a plan, DELETE, 10 tables", [&admin, fill, plan](double s) {
      return prepared_loop(
          s, [&] { must(admin.exec(fill).status(), "fill"); },
          [&] { must(sandpool::run_cleanup(admin, plan), "run_cleanup"); });
    });
  }
  add("CREATE DATABASE ... TEMPLATE (50 tables) + DROP DATABASE", [&](double s) {
    return bare_loop(s, [&] {
      must(admin.exec("CREATE DATABASE " + copy + " TEMPLATE " + templ).status(), "create db");
      must(admin.exec("DROP DATABASE " + copy).status(), "drop database");
    });
  });
  for (const std::string& sql : {insert, std::string("SELECT 1")}) {
    const std::string name = sql == insert ? "INSERT" : "SELECT 1";
    add(name + ", protected (sandboxed lease)", [&, sql](double s) {
      must(pool.ownership().checkout().status(), "sandbox checkout");
      auto lease = must(pool.checkout(), "lease");
      const double us = bare_loop(s, [&] { must(lease->exec(sql).status(), "protected"); });
      must(lease.checkin(), "lease checkin");
      must(pool.ownership().checkin(), "sandbox checkin");
      return us;
    });
    add(name + ", unprotected (plain connection, in a transaction)", [&, sql](double s) {
      must(plain.exec("BEGIN").status(), "begin");
      const double us = bare_loop(s, [&] { must(plain.exec(sql).status(), "unprotected"); });
      must(plain.exec("ROLLBACK").status(), "rollback");
      return us;
    });
  }

  for (subject& x : subjects) (void)x.run(cfg.seconds / 5);  // warm up, untimed
  const std::size_t n = subjects.size();
  for (int round = 0; round < cfg.rounds; ++round)
    for (std::size_t i = 0; i < n; ++i) {
      subject& x = subjects[(i + static_cast<std::size_t>(round)) % n];
      x.us.push_back(x.run(cfg.seconds));
    }

  must(admin.exec("DROP SCHEMA " + schema + " CASCADE").status(), "drop schema");
  must(admin.exec("DROP DATABASE " + templ).status(), "drop template database");

  auto find = [&](const std::string& label) -> const subject& {
    for (const subject& x : subjects)
      if (x.label == label) return x;
    std::fprintf(stderr, "p4_sandbox: no subject %s\n", label.c_str());
    std::exit(1);
  };
  const std::string k0 = "sandbox: checkout + 0 statements + checkin";
  const std::string k1 = "sandbox: checkout + SELECT 1 + checkin";
  const std::string k5 = "sandbox: checkout + 5 statements + checkin";
  const std::string sel = "SELECT 1, plain connection";
  std::printf("### P4 (%s)\n\n%d rounds x %.2f s per subject, order rotated every round; "
              "server: %s\n\n",
              cfg.label.c_str(), cfg.rounds, cfg.seconds, driver.describe().c_str());
  std::printf("| subject | µs, median of rounds |\n|---|---:|\n");
  for (const subject& x : subjects) std::printf("| %s | %.1f |\n", x.label.c_str(), quantile(x.us, 0.5));

  std::vector<ratio> ratios = {
      {"sandboxed test (K = 0) ÷ SELECT 1", k0, sel, 1.5, true},
      {"sandboxed test of one SELECT 1 ÷ SELECT 1", k1, sel},
      {"sandboxed test (K = 5) ÷ SELECT 1", k5, sel},
      {"TRUNCATE 10 tables ÷ sandboxed test (K = 0)", "TRUNCATE 10 tables", k0, 500, false},
      {"TRUNCATE 50 tables ÷ sandboxed test (K = 0)", "TRUNCATE 50 tables", k0},
      {"DELETE from 10 tables ÷ sandboxed test (K = 0)", "DELETE from 10 tables", k0},
      {"DELETE from 50 tables ÷ sandboxed test (K = 0)", "DELETE from 50 tables", k0},
      {"run_cleanup with a plan, 10 tables ÷ sandboxed test (K = 0)",
       "run_cleanup with a plan, DELETE, 10 tables", k0},
      {"TEMPLATE + DROP ÷ sandboxed test (K = 0)",
       "CREATE DATABASE ... TEMPLATE (50 tables) + DROP DATABASE", k0},
      {"TRUNCATE 10 tables ÷ sandboxed test of one SELECT 1", "TRUNCATE 10 tables", k1},
      {"TRUNCATE 10 tables ÷ sandboxed test (K = 5)", "TRUNCATE 10 tables", k5},
      {"protected INSERT ÷ unprotected INSERT", "INSERT, protected (sandboxed lease)",
       "INSERT, unprotected (plain connection, in a transaction)", 1.3, true},
      {"protected SELECT 1 ÷ unprotected SELECT 1", "SELECT 1, protected (sandboxed lease)",
       "SELECT 1, unprotected (plain connection, in a transaction)", 1.3, true},
  };
  std::printf("\n| ratio (per round) | min | median | max | goal |\n|---|---:|---:|---:|---|\n");
  for (const ratio& r : ratios) {
    const subject &a = find(r.num), &b = find(r.den);
    std::vector<double> per_round;
    for (std::size_t i = 0; i < a.us.size(); ++i) per_round.push_back(a.us[i] / b.us[i]);
    const double med = quantile(per_round, 0.5);
    std::string goal = "–";
    if (r.goal > 0) {
      const bool met = r.at_most ? med <= r.goal : med >= r.goal;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s %g×: %s", r.at_most ? "<=" : ">=", r.goal,
                    met ? "met" : "not met");
      goal = buf;
    }
    const double lo = quantile(per_round, 0), hi = quantile(per_round, 1);
    if (med >= 10)
      std::printf("| %s | %.0f× | %.0f× | %.0f× | %s |\n", r.what.c_str(), lo, med, hi, goal.c_str());
    else
      std::printf("| %s | %.2f× | %.2f× | %.2f× | %s |\n", r.what.c_str(), lo, med, hi, goal.c_str());
  }
  std::printf("\nA goal is judged on the median of the per-round ratios.\n\n");
  return 0;
}
