// P9: what sandpool::fiber_io_scheduler gives one thread, against the
// server in SANDPOOL_TEST_DSN, as ratios measured in the same run.
//  (a) checkout + exec("SELECT pg_sleep(0.002)") + checkin in a loop:
//      1 thread x 8 fibers on a pool of 8 under fiber_io_scheduler, and
//      the same under Boost.Fiber's default scheduler (a query blocks the
//      thread there: what fibers got before), against the baseline of one
//      plain thread on a pool of 1. Goal: fiber_io >= 6x the baseline.
//  (b) the same loop with SELECT 1: 1 thread x 8 fibers x 8 connections
//      under fiber_io_scheduler, against raw libpq async on one thread
//      with 8 connections, and (with --pgbench) against
//      `pgbench -n -f SELECT-1 -c 8 -j 1`, the same shape. Goal: fiber_io
//      >= 0.9x pgbench.
// Methodology: the subjects of a comparison run back to back in each round,
// the order rotating (and reversing every other cycle of rotations) so each
// subject takes each position equally often; a ratio only compares runs of
// the same round, so drift in the machine's load cancels out. The report
// shows min / median / max of the per-round ratios and medians of the
// absolute figures.
//
// Usage: p9_fibers [--seconds S] [--select1-seconds S] [--rounds N] [--label TEXT]
//                  [--pgbench PATH] [--pgbench-seconds N] [--pgbench-rounds N]
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "p3_harness.hpp"
#include "p8_rounds.hpp"
#include "p9_subjects.hpp"
#include "run_settings.hpp"

namespace {

using namespace sandpool::bench;

constexpr const char* usage =
    "usage: p9_fibers [--seconds S (> 0, default 0.25: a pg_sleep round)]\n"
    "                 [--select1-seconds S (> 0, default 0.1: a SELECT 1 round)]\n"
    "                 [--rounds N (>= 1, default 40)] [--label TEXT]\n"
    "                 [--pgbench PATH] [--pgbench-seconds N (default 1)]\n"
    "                 [--pgbench-rounds N (default 3)]\n"
    "Measures 8 fibers of one thread on fiber_io_scheduler against one plain thread, the\n"
    "default scheduler, raw libpq async and (with --pgbench) pgbench -c 8 -j 1, on the\n"
    "server in SANDPOOL_TEST_DSN.\n";

constexpr int fibers = 8;  // and the pool's connections
constexpr const char* sleep_sql = "SELECT pg_sleep(0.002)";
constexpr const char* select1_sql = "SELECT 1";
constexpr double sleep_goal = 6.0, pgbench_goal = 0.9;

struct settings {
  run_settings run;
  double select1_seconds = 0.1;
  std::string pgbench;  // empty: the pgbench comparison does not run
  int pgbench_seconds = 1;
  int pgbench_rounds = 3;
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "p9_fibers: %s\n%s", why.c_str(), usage);
  std::exit(2);
}

settings parse(int argc, char** argv) {
  settings s;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool ours = arg == "--select1-seconds" || arg == "--pgbench" ||
                      arg == "--pgbench-seconds" || arg == "--pgbench-rounds";
    if (!ours || i + 1 >= argc) {
      rest.push_back(argv[i]);
      continue;
    }
    const std::string value = argv[++i];
    if (arg == "--pgbench") {
      s.pgbench = value;
    } else if (arg == "--select1-seconds") {
      s.select1_seconds = std::atof(value.c_str());
      if (!(s.select1_seconds > 0)) usage_error(arg + " must be > 0, got " + value);
    } else {
      const int n = std::atoi(value.c_str());
      if (n < 1) usage_error(arg + " must be a whole number >= 1, got " + value);
      (arg == "--pgbench-seconds" ? s.pgbench_seconds : s.pgbench_rounds) = n;
    }
  }
  s.run = parse_run_settings(static_cast<int>(rest.size()), rest.data(), "p9_fibers", usage,
                             {.seconds = 0.25, .rounds = 40});
  return s;
}

[[noreturn]] void fail(const absl::Status& s) {
  std::fprintf(stderr, "p9_fibers: %s\n", std::string(s.message()).c_str());
  std::exit(1);
}

// One subject of a comparison and every round's figures.
struct subject {
  using runner = std::function<absl::StatusOr<figures>()>;
  subject(std::string n, runner r, double g = 0) : name(std::move(n)), run(std::move(r)), goal(g) {}

  std::string name;
  runner run;
  double goal = 0;  // the throughput ratio to the baseline it should reach; 0: none
  std::vector<double> ops, us, cpu_us;
  std::vector<double> ratio;  // ops / the baseline's ops of the same round
};

// A comparison: subjects[0] is the baseline.
struct comparison {
  std::string title;
  std::vector<subject> subjects;
};

// Runs every subject once per round. Round r starts at subject r % n and
// goes round; every other cycle of n rounds goes the other way, so each
// subject runs in each position and after each other subject equally
// often. Stops at the first error.
absl::Status rotate(const std::string& label, int rounds, comparison& c) {
  std::vector<subject>& subs = c.subjects;
  const int n = static_cast<int>(subs.size());
  for (subject& x : subs)  // a warm-up run each: connections, plans, caches
    if (auto w = x.run(); !w.ok()) return w.status();
  for (int round = 0; round < rounds; ++round) {
    if (round == 0 || (round + 1) % 10 == 0 || round + 1 == rounds)
      std::fprintf(stderr, "p9_fibers [%s] %s: round %d/%d\n", label.c_str(), c.title.c_str(),
                   round + 1, rounds);
    std::vector<figures> got(static_cast<std::size_t>(n));
    const bool backwards = (round / n) % 2 == 1;
    for (int k = 0; k < n; ++k) {
      const int step = backwards ? n - 1 - k : k;
      const auto i = static_cast<std::size_t>((round + step) % n);
      absl::StatusOr<figures> f = subs[i].run();
      if (!f.ok()) return f.status();
      got[i] = *f;
    }
    for (std::size_t i = 0; i < subs.size(); ++i) {
      subs[i].ops.push_back(got[i].ops);
      subs[i].us.push_back(got[i].us);
      subs[i].cpu_us.push_back(got[i].cpu_us);
      subs[i].ratio.push_back(got[i].ops / got[0].ops);
    }
  }
  return absl::OkStatus();
}

void print_comparison(const comparison& c) {
  std::printf("#### %s\n\n", c.title.c_str());
  std::printf(
      "| subject | ops/s | us/op | client CPU us/op | ops/s ratio to %s (min / median / max) "
      "| goal | met |\n|---|---|---|---|---|---|---|\n",
      c.subjects.front().name.c_str());
  for (const subject& x : c.subjects) {
    const double cpu = median(x.cpu_us);
    char cpu_text[32] = "-";
    if (cpu >= 0) std::snprintf(cpu_text, sizeof cpu_text, "%.1f", cpu);
    const bool base = &x == &c.subjects.front();
    char ratio_text[64] = "1 (baseline)";
    if (!base) {
      const spread r = spread_of(x.ratio);
      std::snprintf(ratio_text, sizeof ratio_text, "%.2f / **%.2f** / %.2f", r.min, r.median,
                    r.max);
    }
    char goal_text[16] = "-";
    if (x.goal > 0) std::snprintf(goal_text, sizeof goal_text, ">= %.1f", x.goal);
    const char* met = x.goal <= 0 ? "-" : median(x.ratio) >= x.goal ? "yes" : "**no**";
    std::printf("| %s | %.0f | %.1f | %s | %s | %s | %s |\n", x.name.c_str(), median(x.ops),
                median(x.us), cpu_text, ratio_text, goal_text, met);
  }
  std::printf("\n");
}

int server_version(const std::string& dsn) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK)
    fail(absl::UnavailableError(
        absl::StrCat("cannot connect to SANDPOOL_TEST_DSN: ", PQerrorMessage(c))));
  const int v = PQserverVersion(c);
  PQfinish(c);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const settings s = parse(argc, argv);
  const std::string dsn = server_dsn("p9_fibers");
  const int version = server_version(dsn);

  auto eight = pool_cycle::open(dsn, fibers);
  if (!eight.ok()) fail(eight.status());
  auto one = pool_cycle::open(dsn, 1);
  if (!one.ok()) fail(one.status());
  auto raw = raw_async::open(dsn, fibers);
  if (!raw.ok()) fail(raw.status());

  // A subject that runs `sql` through a pool from callers of one thread.
  auto on_pool = [](pool_cycle& p, scheduling how, int callers, const char* sql, double secs) {
    return [&p, how, callers, sql, secs]() -> absl::StatusOr<figures> {
      auto cycle = [&p, sql] { return p(sql); };
      tally t = run_on_one_thread(how, callers, std::chrono::duration<double>(secs), cycle);
      if (!t.error.ok()) return t.error;
      return figures_of(t);
    };
  };
  const double sleep_s = s.run.seconds, select1_s = s.select1_seconds;
  const std::string f8 = "1 thread x 8 fibers x 8 conns, ";

  comparison sleeping{
      "(a) checkout + SELECT pg_sleep(0.002) + checkin",
      {{"1 plain thread x 1 conn", on_pool(*one, scheduling::plain, 1, sleep_sql, sleep_s)},
       {f8 + "fiber_io_scheduler",
        on_pool(*eight, scheduling::fiber_io, fibers, sleep_sql, sleep_s), sleep_goal},
       {f8 + "default scheduler",
        on_pool(*eight, scheduling::boost_default, fibers, sleep_sql, sleep_s)}}};
  if (auto st = rotate(s.run.label, s.run.rounds, sleeping); !st.ok()) fail(st);

  comparison selecting{
      "(b) SELECT 1: checkout + SELECT 1 + checkin vs raw libpq async",
      {{"raw libpq async, 1 thread x 8 conns",
        [&]() -> absl::StatusOr<figures> {
          tally t = raw->run(select1_sql, std::chrono::duration<double>(select1_s));
          if (!t.error.ok()) return t.error;
          return figures_of(t);
        }},
       {f8 + "fiber_io_scheduler",
        on_pool(*eight, scheduling::fiber_io, fibers, select1_sql, select1_s)}}};
  if (auto st = rotate(s.run.label, s.run.rounds, selecting); !st.ok()) fail(st);

  comparison against_pgbench{"(b) SELECT 1 vs pgbench -n -f SELECT-1 -c 8 -j 1", {}};
  std::string pgbench_note;
  if (s.pgbench.empty()) {
    pgbench_note = "Not run: no --pgbench PATH was given (pgbench comes with postgresql-15).";
  } else {
    char dir_template[] = "/tmp/sandpool-p9.XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) fail(absl::InternalError("p9: mkdtemp failed"));
    const std::filesystem::path script = std::filesystem::path(dir_template) / "select1.sql";
    std::ofstream(script) << "SELECT 1;\n";
    against_pgbench.subjects = {
        {"pgbench -c 8 -j 1",
         [&] {
           return run_pgbench_one_thread(s.pgbench, script.string(), fibers, s.pgbench_seconds,
                                         dsn);
         }},
        {f8 + "fiber_io_scheduler",
         on_pool(*eight, scheduling::fiber_io, fibers, select1_sql, s.pgbench_seconds),
         pgbench_goal}};
    const absl::Status st = rotate(s.run.label, s.pgbench_rounds, against_pgbench);
    std::error_code ignored;
    std::filesystem::remove_all(dir_template, ignored);
    if (!st.ok()) fail(st);
  }

  std::printf("### P9 (%s): 8 fibers of one thread on fiber_io_scheduler\n\n",
              s.run.label.c_str());
  std::printf(
      "PostgreSQL %d.%d over a unix socket. Each fiber (or the plain thread) loops over "
      "checkout, exec, checkin on a sandpool::pool of as many connections as callers, all "
      "open beforehand, default session reset. Each round runs every subject of a table "
      "back to back, the order rotating every round; ratios are to the first row of the "
      "same round, shown as min / median / max; absolute figures are medians. pg_sleep "
      "rounds %.3g s, SELECT 1 rounds %.3g s, %d rounds; pgbench rounds -T %d, %d rounds, "
      "the fiber subject running %d s beside each. us/op: one caller's checkout-to-checkin "
      "time (pgbench: its \"latency average\"). Client CPU: this process's user + system "
      "time per operation (pgbench: its own over its whole run, connecting included).\n\n",
      version / 10000, version % 10000, sleep_s, select1_s, s.run.rounds, s.pgbench_seconds,
      s.pgbench_rounds, s.pgbench_seconds);
  print_comparison(sleeping);
  print_comparison(selecting);
  if (against_pgbench.subjects.empty()) {
    std::printf("#### %s\n\n%s\n\n", against_pgbench.title.c_str(), pgbench_note.c_str());
  } else {
    print_comparison(against_pgbench);
  }
  std::printf("Pool metrics at the end: 8 connections `%s`; 1 connection `%s`\n\n",
              eight->metrics().to_string().c_str(), one->metrics().to_string().c_str());
  std::fflush(stdout);
  return 0;
}
