// `sandpool-size run` (see run_command.hpp).
#include "run_command.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "csv.hpp"
#include "noise.hpp"
#include "output_file.hpp"
#include "recommend.hpp"
#include "repeats.hpp"
#include "rules_of_thumb.hpp"
#include "run_report.hpp"
#include "runner.hpp"
#include "script.hpp"
#include "svg_chart.hpp"
#include "sweep.hpp"
#include "units.hpp"

namespace sandpool::sizing {
namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) { interrupted.store(true); }

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "sandpool-size: %s\n", message.c_str());
  return code;
}

std::string text_of(const absl::Status& s) { return std::string(s.message()); }

// What the server can give the tool, read on the probe connection.
struct server_facts {
  std::string version;
  std::size_t available = 0;  // connections this role can still open; 0: unknown
  std::string limit_text;     // how `available` was worked out
};

server_facts read_server(pq::connection& c) {
  server_facts f;
  auto r = c.exec(
      "SELECT current_setting('server_version'), current_setting('max_connections')::int, "
      "current_setting('superuser_reserved_connections')::int, "
      "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int, "
      "current_setting('is_superuser') = 'on'");
  if (!r.ok() || r->rows() != 1) return f;
  f.version = std::string(r->get(0, 0));
  f.version = f.version.substr(0, f.version.find(' '));  // "15.2 (Debian ...)" -> "15.2"
  const long max_conn = std::stol(std::string(r->get(0, 1)));
  const long reserved = r->get(0, 4) == "t" ? 0 : std::stol(std::string(r->get(0, 2)));
  const long in_use = std::stol(std::string(r->get(0, 3)));
  const long left = max_conn - reserved - in_use;
  f.available = left > 0 ? static_cast<std::size_t>(left) : 1;
  f.limit_text = "max_connections " + std::to_string(max_conn) + ", " +
                 std::to_string(reserved) + " reserved for superusers, " +
                 std::to_string(in_use) + " in use now (this tool's included)";
  return f;
}

// Drops what the workload created, however the run ends.
struct cleanup_guard {
  workload& w;
  pq::connection& c;
  ~cleanup_guard() { w.cleanup(c); }
};

}  // namespace

int run_sizing(const run_args& args) {
  // Bad input first, before connecting anywhere.
  auto dsn = resolve_dsn(args.dsn, std::getenv("SANDPOOL_TEST_DSN"));
  if (!dsn.ok()) return fail(2, text_of(dsn.status()));
  std::vector<std::string> statements;
  if (args.workload == workload_kind::script) {
    auto loaded = load_script(args.script_path);
    if (!loaded.ok()) return fail(2, "--script: " + text_of(loaded.status()));
    statements = *std::move(loaded);
  }
  auto driver = pq::driver::create(*dsn);
  if (!driver.ok()) return fail(2, "--dsn: " + text_of(driver.status()));

  auto probe = driver->connect();
  if (!probe.ok()) {
    return fail(1, "cannot connect to the server to measure: " + text_of(probe.status()) +
                       "; pass a reachable server with --dsn, or run under "
                       "scripts/with-postgres for a throwaway one");
  }
  // The workloads' DROP TABLE IF EXISTS would print NOTICEs on stderr.
  (void)probe->exec("SET client_min_messages TO warning");
  const server_facts server = read_server(*probe);

  // The sweep, and the rules of thumb measured beside it.
  const std::size_t concurrency = args.concurrency();
  std::vector<std::size_t> requested = args.sizes ? *args.sizes : default_sizes(concurrency);
  if (!args.sizes && server.available > 0 && requested.back() > server.available) {
    std::erase_if(requested, [&](std::size_t s) { return s > server.available; });
    std::fprintf(stderr,
                 "sandpool-size: the default sweep stops at %zu connections, what the server "
                 "can give now (%s)\n",
                 requested.back(), server.limit_text.c_str());
  }
  const std::size_t largest = requested.back();
  if (server.available > 0 && largest > server.available) {
    return fail(2, "--sizes: a pool of " + std::to_string(largest) +
                       " connections is more than the server can give now (" +
                       server.limit_text + ": at most " + std::to_string(server.available) +
                       "); lower --sizes or raise the server's max_connections");
  }
  const std::vector<rule_of_thumb> rules = {
      seed_rule(concurrency, static_cast<std::size_t>(args.repos_per_test)),
      cores_rule(std::thread::hardware_concurrency(), static_cast<std::size_t>(args.spindles))};
  const std::size_t cap = auto_add_cap(requested, server.available);
  std::vector<std::size_t> rule_sizes;
  for (const rule_of_thumb& r : rules) rule_sizes.push_back(r.size);
  const std::vector<std::size_t> sweep = with_sizes(requested, rule_sizes, cap);

  // From here on Ctrl-C stops the run cleanly, so the guard below drops
  // what the workload created.
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  auto w = make_workload(args.workload, args.script_path, std::move(statements));
  if (absl::Status s = w->prepare(*probe); !s.ok())
    return fail(1, "could not prepare the " + w->description() + " workload: " + text_of(s));
  cleanup_guard guard{*w, *probe};

  run_settings settings;
  settings.threads = args.threads;
  settings.fibers = args.fibers;
  // --seconds and --warmup are per size, so repeats split them rather than
  // lengthen the run.
  settings.warmup = args.warmup / args.repeats;
  settings.seconds = args.seconds / args.repeats;

  run_description d;
  d.workload = w->description();
  d.server = driver->describe() + (server.version.empty() ? "" : " (PostgreSQL " +
                                                                     server.version + ")");
  d.threads = args.threads;
  d.fibers = args.fibers;
  d.seconds = args.seconds;
  d.warmup = args.warmup;
  d.checkout_timeout = settings.checkout_timeout;
  d.repeats = args.repeats;
  std::fputs(header_text(d, args.format).c_str(), stdout);
  std::fflush(stdout);

  // Rounds across the sizes rather than all repeats of one size in a row:
  // a slow spell of the machine then widens the spread of every size it
  // touches instead of quietly shifting one size's median.
  progress shown(resolve_style(args.progress, ::isatty(STDERR_FILENO) == 1), sweep.size(),
                 args.repeats, settings.warmup + settings.seconds);
  std::vector<std::vector<size_result>> measured(sweep.size());
  for (int round = 0; round < args.repeats; ++round) {
    for (std::size_t i = 0; i < sweep.size(); ++i) {
      shown.begin_size(i, sweep[i], round);
      auto r = measure_size(*driver, *w, sweep[i], settings, shown, interrupted);
      if (!r.ok()) {
        shown.finish();
        if (r.status().code() == absl::StatusCode::kCancelled)
          return fail(130, "interrupted; the tables this run created were dropped");
        return fail(1, "the " + std::string(workload_name(args.workload)) +
                           " workload failed " + text_of(r.status()));
      }
      shown.end_size(*r);
      measured[i].push_back(*std::move(r));
    }
  }
  shown.finish();
  std::vector<size_result> rows;
  for (const std::vector<size_result>& repeats : measured)
    rows.push_back(summarize_repeats(repeats));

  const recommendation rec =
      recommend(rows, args.margin_percent, args.wait_target, concurrency);
  // Whether noise could flip it goes right under the recommendation.
  std::vector<std::string> closing =
      recommendation_lines(rows, rec, rules, args.margin_percent, args.wait_target, cap,
                           server.available > 0 && cap == server.available);
  const std::vector<std::string> noise =
      noise_lines(rec, args.margin_percent, args.wait_target, args.repeats, args.seconds);
  closing.insert(closing.begin() + 1, noise.begin(), noise.end());
  std::fputs(("\n" + results_table(rows, rec, rules, args.format) + "\n" +
              closing_text(closing, args.format))
                 .c_str(),
             stdout);
  std::fflush(stdout);

  int status = 0;
  const std::string title = std::string(workload_name(args.workload)) + ", " +
                            std::to_string(args.threads) + " threads x " +
                            std::to_string(args.fibers) + " fibers";
  if (!args.csv_path.empty()) {
    const std::string name = args.workload == workload_kind::script
                                 ? "script " + args.script_path
                                 : std::string(workload_name(args.workload));
    absl::Status s =
        write_file(args.csv_path, to_csv(rows, {name, args.threads, args.fibers}), "CSV file");
    if (!s.ok()) status = fail(1, text_of(s));
  }
  if (!args.svg_path.empty()) {
    absl::Status s = write_file(args.svg_path, svg_chart(rows, {"sandpool-size: " + title,
                                                                rec.size}),
                                "SVG chart");
    if (!s.ok()) status = fail(1, text_of(s));
  }
  return status;
}

}  // namespace sandpool::sizing
