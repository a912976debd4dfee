// P3: the end-to-end cost of the pool on the shortest real query. For 1, 2
// and 4 connections it measures checkout + SELECT 1 + checkin through
// sandpool::pool against raw libpq on the same number of connections (one
// PGconn per thread), both against the server in SANDPOOL_TEST_DSN, and
// prints a markdown table. A second set of rows runs 8 fibers per thread on
// the pool: more callers than connections, which raw libpq cannot serve, so
// it is compared with raw libpq on the same connection count. A third set
// is the control: raw libpq against a second set of raw libpq connections,
// whose spread shows how much of any difference the machine alone makes.
//
// Noise control: the two subjects of a row alternate (the order flips every
// round), each run lasts --seconds, throughput and latency are medians over
// --rounds runs, and the ratio is the median of the per-round ratios, each
// taken from two back-to-back runs. Client CPU per query (the process's
// user + system time over the run) is reported too, as what the client side
// spends; it rises with contention as well (more wake-ups, colder caches).
//
// Usage: p3_select1 [--seconds S] [--rounds N] [--label TEXT]
#include <libpq-fe.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "p3_harness.hpp"
#include "p3_subjects.hpp"
#include "run_settings.hpp"

namespace {

using namespace sandpool::bench;

using settings = run_settings;

enum class subject {
  pool,      // sandpool::pool, `fibers` callers per thread
  reset_always,  // the same with keep_prepared().always(): a session reset after every lease
  control,   // a second set of raw libpq connections, one caller per thread
};

struct config {
  int threads = 1;  // = connections, for both subjects
  int fibers = 1;   // callers per thread on the pool (raw libpq always has 1)
  subject versus = subject::pool;
};

// Medians over the rounds; `b` is the pool, or the second raw set in a control row.
struct row {
  config cfg;
  double raw_qps = 0, b_qps = 0, raw_us = 0, b_us = 0, raw_cpu = 0, b_cpu = 0, ratio = 0;
  std::vector<double> round_ratios;
};

constexpr const char* usage =
    "usage: p3_select1 [--seconds S (> 0, default 2)] [--rounds N (>= 1, default 3)] "
    "[--label TEXT]\n"
    "Measures checkout + SELECT 1 + checkin through sandpool against raw libpq on the "
    "server in SANDPOOL_TEST_DSN.\n";

[[noreturn]] void fail(const absl::Status& s) {
  std::fprintf(stderr, "p3_select1: %s\n", s.ToString().c_str());
  std::exit(1);
}

std::string describe(const config& c) {
  const std::string n = std::to_string(c.threads);
  std::string text = c.versus == subject::control    ? "control, raw vs raw: "
                     : c.versus == subject::reset_always ? "reset every lease: "
                                                      : "";
  text += n + (c.threads == 1 ? " conn, " : " conns, ") + n +
          (c.threads == 1 ? " thread" : " threads");
  if (c.fibers > 1) text += " x " + std::to_string(c.fibers) + " fibers (pool)";
  return text;
}

template <class Subject>
tally measure(Subject& subject, const config& c, double seconds, int fibers) {
  tally t = timed_run(c.threads, fibers, std::chrono::duration<double>(seconds), subject);
  if (!t.error.ok()) fail(t.error);
  return t;
}

// Warms both subjects up, then runs them back to back, alternating which
// goes first, for the configured number of rounds.
template <class B>
row compare(raw_libpq& raw, B& b, const config& c, const settings& s) {
  const int b_fibers = c.versus == subject::pool ? c.fibers : 1;
  const double warm = std::min(0.25, s.seconds);
  measure(raw, c, warm, 1);
  measure(b, c, warm, b_fibers);

  std::vector<double> raw_qps, b_qps, raw_us, b_us, raw_cpu, b_cpu;
  row r;
  r.cfg = c;
  for (int round = 0; round < s.rounds; ++round) {
    std::fprintf(stderr, "p3_select1 [%s] %s: round %d/%d\n", s.label.c_str(),
                 describe(c).c_str(), round + 1, s.rounds);
    tally x, y;
    if (round % 2 == 0) {
      x = measure(raw, c, s.seconds, 1);
      y = measure(b, c, s.seconds, b_fibers);
    } else {
      y = measure(b, c, s.seconds, b_fibers);
      x = measure(raw, c, s.seconds, 1);
    }
    raw_qps.push_back(x.per_second());
    b_qps.push_back(y.per_second());
    raw_us.push_back(x.mean_us());
    b_us.push_back(y.mean_us());
    raw_cpu.push_back(x.cpu_us());
    b_cpu.push_back(y.cpu_us());
    r.round_ratios.push_back(y.per_second() / x.per_second());
  }
  r.raw_qps = median(raw_qps);
  r.b_qps = median(b_qps);
  r.raw_us = median(raw_us);
  r.b_us = median(b_us);
  r.raw_cpu = median(raw_cpu);
  r.b_cpu = median(b_cpu);
  r.ratio = median(r.round_ratios);
  return r;
}

row run_config(const std::string& dsn, const settings& s, const config& c,
               std::optional<sandpool::metrics>& last_pool_metrics) {
  absl::StatusOr<raw_libpq> raw = raw_libpq::open(dsn, c.threads);
  if (!raw.ok()) fail(raw.status());
  if (c.versus == subject::control) {
    absl::StatusOr<raw_libpq> other = raw_libpq::open(dsn, c.threads);
    if (!other.ok()) fail(other.status());
    return compare(*raw, *other, c, s);
  }
  absl::StatusOr<pooled> pool =
      pooled::open(dsn, static_cast<std::size_t>(c.threads),
                   c.versus == subject::reset_always
                       ? sandpool::pq::session_reset::keep_prepared().always()
                       : sandpool::pq::session_reset::keep_prepared());
  if (!pool.ok()) fail(pool.status());
  row r = compare(*raw, *pool, c, s);
  last_pool_metrics = pool->metrics();
  return r;
}

std::string server_version(const std::string& dsn) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK)
    fail(absl::UnavailableError(std::string("cannot connect to SANDPOOL_TEST_DSN: ") +
                                PQerrorMessage(c)));
  const int n = PQserverVersion(c);
  PQfinish(c);
  return std::to_string(n / 10000) + "." + std::to_string(n % 10000);
}

int allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  return CPU_COUNT(&set);
}

void print_report(const settings& s, const std::string& version, const std::vector<row>& rows,
                  const config& last_pool_cfg, const sandpool::metrics& last) {
  std::printf("### P3 (%s): checkout + SELECT 1 + checkin, sandpool vs raw libpq\n\n",
              s.label.c_str());
  std::printf(
      "PostgreSQL %s over a unix socket; client allowed on %d CPU(s); %.3g s per run, "
      "subjects alternating, medians of %d round(s). Goal: sandpool/raw >= 0.95.\n\n"
      "- sandpool/raw: median of the per-round throughput ratios (back-to-back runs).\n"
      "- us/query: one caller's checkout-to-checkin time (a fiber's includes its wait for a "
      "connection); raw libpq runs one caller per connection.\n"
      "- CPU us/query: the client process's user + system time per query.\n"
      "- The pool runs the default session reset (keep_prepared), owed only after a lease "
      "that may have changed the session: SELECT 1 owes none. \"reset every lease\" rows run "
      "it after every lease (keep_prepared().always()): the cost of a reset.\n"
      "- Control rows compare raw libpq with a second set of raw libpq connections (shown "
      "in the sandpool columns): their spread is the noise of this machine.\n\n",
      version.c_str(), allowed_cpus(), s.seconds, s.rounds);
  std::printf(
      "| config | raw libpq q/s | sandpool q/s | sandpool/raw | raw us/query | "
      "sandpool us/query | raw CPU us/query | sandpool CPU us/query | ratio per round |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (const row& r : rows) {
    std::string rounds;
    for (double x : r.round_ratios) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "%s%.2f", rounds.empty() ? "" : " ", x);
      rounds += buf;
    }
    const bool below = r.cfg.versus == subject::pool && r.ratio < 0.95;
    std::printf("| %s | %.0f | %.0f | %.3f%s | %.1f | %.1f | %.2f | %.2f | %s |\n",
                describe(r.cfg).c_str(), r.raw_qps, r.b_qps, r.ratio, below ? " (below goal)" : "",
                r.raw_us, r.b_us, r.raw_cpu, r.b_cpu, rounds.c_str());
  }
  std::printf("\nPool metrics after the last sandpool run (%s): `%s`\n\n",
              describe(last_pool_cfg).c_str(), last.to_string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const settings s = parse_run_settings(argc, argv, "p3_select1", usage, {.seconds = 2.0});
  const std::string dsn = server_dsn("p3_select1");
  const std::string version = server_version(dsn);
  std::vector<config> matrix;
  for (subject versus : {subject::pool, subject::reset_always, subject::control})
    for (int fibers : {1, 8}) {
      if (versus != subject::pool && fibers > 1) continue;
      for (int threads : {1, 2, 4}) matrix.push_back({threads, fibers, versus});
    }
  std::vector<row> rows;
  std::optional<sandpool::metrics> last;
  config last_pool_cfg{};
  for (const config& c : matrix) {
    rows.push_back(run_config(dsn, s, c, last));
    if (c.versus == subject::pool) last_pool_cfg = c;
  }
  print_report(s, version, rows, last_pool_cfg, *last);
  std::fflush(stdout);
  return 0;
}
