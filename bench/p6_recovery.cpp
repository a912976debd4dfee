// P6: how fast the pool fills and how fast it recovers when the server
// kills its backends, against the server in SANDPOOL_TEST_DSN.
//   - Warm-up: from pool::create with min_idle = max_size = N until
//     metrics().idle == N, against N raw PQconnectdb calls in a row and a
//     single one, measured in the same round.
//   - Reconnect: a warm pool's backends, selected by the pool's own
//     application_name, are all terminated from a separate connection
//     (pg_terminate_backend, then waiting until they have exited). Then one
//     caller checks out and runs SELECT 1 until that succeeds; the time
//     from the kill to that success is compared with one raw connect +
//     SELECT 1. After it, the time until N leases taken at once all run
//     SELECT 1 (the pool back at min_idle with live connections) is compared
//     with the N raw connects. (metrics().idle == N proves nothing here:
//     dead connections no checkout has reached still count as idle.) Two
//     starting states: every connection used just before the kill (inside
//     validation_bypass, so checkouts hand out dead connections unvalidated
//     and the caller sees the errors), and the pool idle for longer than
//     validation_bypass (checkout validates, finds dead ones and waits for a
//     new one).
//   - Outage: process CPU while one checkout waits 2 s for a server that
//     does not exist, against the process idle for 2 s (p6_outage.hpp).
// Production options otherwise. Figures are medians over --rounds rounds.
//
// Usage: p6_recovery [--rounds N] [--label TEXT]
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "p3_harness.hpp"
#include "p6_outage.hpp"
#include "run_settings.hpp"
#include "sandpool/sandpool.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;
using sandpool::bench::median;

constexpr auto give_up = std::chrono::seconds(20);

constexpr const char* usage =
    "usage: p6_recovery [--rounds N (>= 1, default 5)] [--label TEXT]\n"
    "Measures pool warm-up and recovery after pg_terminate_backend against raw libpq "
    "connects, on the server in SANDPOOL_TEST_DSN.\n";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "p6_recovery: %s\n", what.c_str());
  std::exit(1);
}

double since_ms(clock_type::time_point t0) { return ms(clock_type::now() - t0).count(); }

PGconn* raw_connect(const std::string& dsn) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK)
    fail(std::string("raw libpq: cannot connect: ") + PQerrorMessage(c));
  return c;
}

void raw_select1(PGconn* c) {
  PGresult* r = PQexec(c, "SELECT 1");
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
  PQclear(r);
  if (!ok) fail(std::string("raw libpq: SELECT 1 failed: ") + PQerrorMessage(c));
}

// The baselines of one round.
struct raw_figures {
  double one_connect_ms = 0, connect_select_ms = 0, n_connects_ms = 0;
};

raw_figures measure_raw(const std::string& dsn, std::size_t n) {
  raw_figures f;
  auto t0 = clock_type::now();
  PGconn* c = raw_connect(dsn);
  f.one_connect_ms = since_ms(t0);
  PQfinish(c);

  t0 = clock_type::now();
  c = raw_connect(dsn);
  raw_select1(c);
  f.connect_select_ms = since_ms(t0);
  PQfinish(c);

  std::vector<PGconn*> open;
  t0 = clock_type::now();
  for (std::size_t i = 0; i < n; ++i) open.push_back(raw_connect(dsn));
  f.n_connects_ms = since_ms(t0);
  for (PGconn* o : open) PQfinish(o);
  return f;
}

// Polls the pool until `done(metrics)` or the give-up time.
template <class Done>
void await(const sandpool::pool& pool, Done done, const char* what) {
  const auto limit = clock_type::now() + give_up;
  while (!done(pool.metrics())) {
    if (clock_type::now() > limit)
      fail(std::string("gave up waiting for ") + what + ": " + pool.metrics().to_string());
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

// Creates a pool of N kept open, returning it once all N are idle.
sandpool::pool warm_pool(const std::string& dsn, std::size_t n, double& warm_ms) {
  const auto t0 = clock_type::now();
  auto driver = sandpool::pq::driver::create(dsn);
  if (!driver.ok()) fail(driver.status().ToString());
  sandpool::pool_options o;
  o.name = "p6";
  o.max_size = n;
  o.min_idle = n;
  auto pool = sandpool::pool::create(std::move(*driver), o);
  if (!pool.ok()) fail(pool.status().ToString());
  await(*pool, [n](const sandpool::metrics& m) { return m.idle == n; }, "the warm-up");
  warm_ms = since_ms(t0);
  return std::move(*pool);
}

// The number `sql` ($1 = app) returns, failing the run on an error.
long count_of(PGconn* admin, const char* sql, const std::string& app) {
  const char* params[] = {app.c_str()};
  PGresult* r = PQexecParams(admin, sql, 1, nullptr, params, nullptr, nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    const std::string why = PQerrorMessage(admin);
    PQclear(r);
    fail(std::string("admin query failed: ") + why);
  }
  const long n = std::atol(PQgetvalue(r, 0, 0));
  PQclear(r);
  return n;
}

// Terminates every backend named `app`, then waits until they have all
// exited. (pg_terminate_backend's own wait polls every 100 ms per backend,
// which would let connections age past validation_bypass.)
void kill_backends(PGconn* admin, const std::string& app, std::size_t expected) {
  const long killed = count_of(admin,
                               "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                               "FROM pg_stat_activity WHERE application_name = $1",
                               app);
  if (killed != static_cast<long>(expected))
    fail("expected to terminate " + std::to_string(expected) + " backends of " + app +
         ", terminated " + std::to_string(killed));
  const auto limit = clock_type::now() + give_up;
  while (count_of(admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                  app) > 0) {
    if (clock_type::now() > limit) fail("the terminated backends of " + app + " did not exit");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

enum class before_kill {
  just_used,  // every connection used within validation_bypass
  idle,       // nothing used for longer than validation_bypass
};

struct recovery {
  double first_ok_ms = 0;  // kill -> a checkout + SELECT 1 succeeded
  double all_ok_ms = 0;    // kill -> N leases at once, each with a working connection
  int failures = 0;        // failed checkouts or queries before the first success
  int all_failures = 0;    // ... before all N worked at once
};

// Checks out N leases at once and runs SELECT 1 on each: true if all
// worked. A lease whose query failed is returned at once, so the pool
// discards its connection.
bool all_serve(sandpool::pool& pool, std::size_t n, int& failures) {
  std::vector<sandpool::lease> held;
  int failed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto lease = pool.checkout();
    if (!lease.ok()) {
      ++failed;
      continue;
    }
    auto result = (*lease)->exec("SELECT 1");
    if (result.ok() && result->rows() == 1) {
      held.push_back(std::move(*lease));
    } else {
      ++failed;
    }
  }
  failures += failed;
  return failed == 0;
}

recovery kill_and_recover(sandpool::pool& pool, PGconn* admin, const std::string& app,
                          std::size_t n, before_kill state) {
  if (state == before_kill::just_used) {
    std::vector<sandpool::lease> all;
    for (std::size_t i = 0; i < n; ++i) {
      auto l = pool.checkout();
      if (!l.ok()) fail(l.status().ToString());
      all.push_back(std::move(*l));
    }
  } else {
    const auto bypass = pool.options().validation_bypass;
    std::this_thread::sleep_for(bypass + std::chrono::milliseconds(100));
  }
  kill_backends(admin, app, n);

  recovery r;
  const auto t0 = clock_type::now();
  for (;;) {
    if (clock_type::now() - t0 > give_up)
      fail("no successful SELECT 1 after the kill: " + pool.metrics().to_string());
    auto lease = pool.checkout();
    if (lease.ok()) {
      auto result = (*lease)->exec("SELECT 1");
      if (result.ok() && result->rows() == 1) break;
    }
    ++r.failures;
  }
  r.first_ok_ms = since_ms(t0);
  // Dead connections that no checkout has reached yet still count as idle
  // (housekeeping does not test idle connections), so metrics().idle == N
  // says nothing here: N callers at once must all be served.
  r.all_ok_ms = r.first_ok_ms;
  r.all_failures = r.failures;
  while (!all_serve(pool, n, r.all_failures)) {
    if (clock_type::now() - t0 > give_up)
      fail("N leases at once still fail after the kill: " + pool.metrics().to_string());
  }
  r.all_ok_ms = since_ms(t0);
  return r;
}

// Adds application_name to a key=value or URI connection string.
std::string with_app_name(const std::string& dsn, const std::string& app) {
  if (dsn.rfind("postgres", 0) == 0 && dsn.find("://") != std::string::npos)
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "application_name=" + app;
  return dsn + " application_name=" + app;
}

// Per N, one vector per figure, one entry per round.
struct series {
  std::vector<double> one_connect, connect_select, n_connects, warm;
  std::vector<double> used_first, used_all, used_failures, used_all_failures;
  std::vector<double> idle_first, idle_all, idle_failures, idle_all_failures;
};

std::string range(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char buf[48];
  if (v.front() == v.back()) {
    std::snprintf(buf, sizeof buf, "%.0f", v.front());
  } else {
    std::snprintf(buf, sizeof buf, "%.0f–%.0f", v.front(), v.back());
  }
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  sandpool::bench::run_settings defaults;
  defaults.rounds = 5;
  const auto s = sandpool::bench::parse_run_settings(argc, argv, "p6_recovery", usage, defaults);
  const std::string dsn = sandpool::bench::server_dsn("p6_recovery");
  PGconn* admin = raw_connect(dsn);  // also warms the server up: the first connect is slow

  const std::vector<std::size_t> sizes = {4, 8};
  std::vector<series> data(sizes.size());
  for (int round = 0; round < s.rounds; ++round)
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::size_t n = sizes[i];
      std::fprintf(stderr, "p6_recovery [%s] N = %zu: round %d/%d\n", s.label.c_str(), n,
                   round + 1, s.rounds);
      series& d = data[i];
      const raw_figures raw = measure_raw(dsn, n);
      d.one_connect.push_back(raw.one_connect_ms);
      d.connect_select.push_back(raw.connect_select_ms);
      d.n_connects.push_back(raw.n_connects_ms);

      // A name of its own per pool: backends of earlier pools may still be exiting.
      const std::string app = "sandpool_p6_" + std::to_string(getpid()) + "_" +
                              std::to_string(n) + "_" + std::to_string(round);
      double warm_ms = 0;
      sandpool::pool pool = warm_pool(with_app_name(dsn, app), n, warm_ms);
      d.warm.push_back(warm_ms);

      const recovery used = kill_and_recover(pool, admin, app, n, before_kill::just_used);
      d.used_first.push_back(used.first_ok_ms);
      d.used_all.push_back(used.all_ok_ms);
      d.used_failures.push_back(used.failures);
      d.used_all_failures.push_back(used.all_failures);
      const recovery idle = kill_and_recover(pool, admin, app, n, before_kill::idle);
      d.idle_first.push_back(idle.first_ok_ms);
      d.idle_all.push_back(idle.all_ok_ms);
      d.idle_failures.push_back(idle.failures);
      d.idle_all_failures.push_back(idle.all_failures);
    }
  PQfinish(admin);
  std::vector<double> outage_idle, outage_waiting;
  bool outage_ok = true;
  for (int round = 0; round < s.rounds; ++round) {
    std::fprintf(stderr, "p6_recovery [%s] outage: round %d/%d\n", s.label.c_str(), round + 1,
                 s.rounds);
    const sandpool::bench::outage_figures o =
        sandpool::bench::measure_outage(std::chrono::milliseconds(2000));
    outage_idle.push_back(o.idle_pct);
    outage_waiting.push_back(o.waiting_pct);
    outage_ok = outage_ok && o.failed_as_expected;
  }

  std::printf("### P6 (%s): warm-up and recovery after a backend kill\n\n", s.label.c_str());
  std::printf(
      "Real PostgreSQL over a unix socket, production pool options with max_size = min_idle = "
      "N; medians of %d round(s). Baselines, measured in each round: raw PQconnectdb once, N "
      "times in a row, and once followed by SELECT 1.\n\n",
      s.rounds);
  std::printf(
      "**Warm-up**: pool::create until metrics().idle == N.\n\n"
      "| N | one raw connect ms | N raw connects in a row ms | pool warm-up ms | "
      "pool / N raw connects | pool / one raw connect |\n|---|---|---|---|---|---|\n");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const series& d = data[i];
    const double one = median(d.one_connect), seq = median(d.n_connects), warm = median(d.warm);
    std::printf("| %zu | %.2f | %.2f | %.2f | %.2f | %.2f |\n", sizes[i], one, seq, warm,
                warm / seq, warm / one);
  }
  std::printf(
      "\n**Recovery**: all N backends terminated (pg_terminate_backend, then waiting until "
      "pg_stat_activity shows none); then one caller repeats checkout + SELECT 1 until it "
      "succeeds (\"first OK\"; baseline: one raw connect + SELECT 1), then takes N leases at "
      "once with a SELECT 1 on each until all N work (\"all N OK\", the pool back at min_idle "
      "with live connections; baseline: N raw connects in a row). Times run from the kill. "
      "\"failed\": checkouts or queries that failed before each point, min–max over rounds. "
      "A dead connection that no checkout reaches stays in the idle list and counts in "
      "metrics().idle: housekeeping does not test idle connections.\n\n"
      "| N | before the kill | raw connect + SELECT 1 ms | first OK ms | first OK / raw | "
      "failed before it | all N OK ms | all N OK / N raw connects | failed before it |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const series& d = data[i];
    const double base = median(d.connect_select), seq = median(d.n_connects);
    auto row = [&](const char* state, const std::vector<double>& first,
                   const std::vector<double>& failures, const std::vector<double>& all,
                   const std::vector<double>& all_failures) {
      std::printf("| %zu | %s | %.2f | %.2f | %.2f | %s | %.2f | %.2f | %s |\n", sizes[i], state,
                  base, median(first), median(first) / base, range(failures).c_str(),
                  median(all), median(all) / seq, range(all_failures).c_str());
    };
    row("all used within validation_bypass", d.used_first, d.used_failures, d.used_all,
        d.used_all_failures);
    row("idle longer than validation_bypass", d.idle_first, d.idle_failures, d.idle_all,
        d.idle_all_failures);
  }
  std::printf(
      "\n**Outage**: process CPU (every thread, getrusage) while one checkout waits 2 s for a "
      "server that does not exist (every connect fails at once; min_idle = 1 keeps "
      "housekeeping retrying with its backoff), against the same process idle for 2 s; "
      "%% of one core, median (min–max) of %d round(s). Goal: below 2%%.\n\n"
      "| idle process | one checkout waiting out the outage | checkout failed with the "
      "timeout |\n|---|---|---|\n",
      s.rounds);
  auto pct_range = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f%% (%.2f–%.2f)", median(v), v.front(), v.back());
    return std::string(buf);
  };
  std::printf("| %s | %s | %s |\n\n", pct_range(outage_idle).c_str(),
              pct_range(outage_waiting).c_str(), outage_ok ? "yes, every round" : "NO");
  return 0;
}
