// Command-line parsing for sandpool-size (see args.hpp).
#include "args.hpp"

#include <functional>
#include <map>

#include "sweep.hpp"
#include "units.hpp"

namespace sandpool::sizing {
namespace {

const char* const see_help = "; see sandpool-size --help";

absl::Status bad(const std::string& message) { return absl::InvalidArgumentError(message); }

// Wraps an error from a value parser with the flag it came from.
absl::Status for_flag(std::string_view flag, const absl::Status& s) {
  return bad(std::string(flag) + ": " + std::string(s.message()));
}

absl::StatusOr<output_format> read_format(std::string_view v) {
  if (v == "table") return output_format::table;
  if (v == "markdown") return output_format::markdown;
  return bad("--format: unknown format '" + std::string(v) + "'; choose table or markdown");
}

absl::StatusOr<progress_style> read_progress(std::string_view v) {
  if (v == "auto") return progress_style::automatic;
  if (v == "bar") return progress_style::bar;
  if (v == "lines") return progress_style::lines;
  if (v == "none") return progress_style::none;
  return bad("--progress: unknown style '" + std::string(v) +
             "'; choose auto, bar, lines or none");
}

absl::StatusOr<workload_kind> read_workload(std::string_view v) {
  if (v == "select-1") return workload_kind::select_1;
  if (v == "rw") return workload_kind::rw;
  if (v == "sandbox") return workload_kind::sandbox;
  return bad("--workload: unknown workload '" + std::string(v) +
             "'; choose select-1, rw or sandbox, or run your own SQL with --script FILE");
}

// Splits "--flag=value" into flag and value; the value is nullopt without '='.
std::pair<std::string, std::optional<std::string>> split_flag(const std::string& arg) {
  const std::size_t eq = arg.find('=');
  if (arg.rfind("--", 0) != 0 || eq == std::string::npos) return {arg, std::nullopt};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

// Walks the arguments of one subcommand, handing each flag's value to its
// setter. `stop_at_dashes` ends the walk at "--" (suite mode), leaving `i`
// just past it.
using setter = std::function<absl::Status(const std::string&)>;

absl::Status walk(const std::vector<std::string>& args, std::size_t& i,
                  const std::map<std::string, setter>& flags, bool stop_at_dashes,
                  bool& help) {
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      help = true;
      continue;
    }
    if (stop_at_dashes && arg == "--") {
      ++i;
      return absl::OkStatus();
    }
    if (stop_at_dashes && arg.rfind("-", 0) != 0) return absl::OkStatus();  // the command
    auto [flag, value] = split_flag(arg);
    auto it = flags.find(flag);
    if (it == flags.end()) {
      if (arg.rfind("-", 0) == 0) return bad("unknown option '" + flag + "'" + see_help);
      return bad("unexpected argument '" + arg + "'" + see_help);
    }
    if (!value) {
      if (i + 1 >= args.size()) return bad(flag + " needs a value" + see_help);
      value = args[++i];
    }
    if (absl::Status s = it->second(*value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

template <class T, class F>
setter assign(T& target, F parse) {
  return [&target, parse](const std::string& v) -> absl::Status {
    auto r = parse(v);
    if (!r.ok()) return r.status();
    target = static_cast<T>(*r);
    return absl::OkStatus();
  };
}

setter count_flag(int& target, std::string_view flag, std::int64_t min, std::int64_t max) {
  const std::string name(flag);
  return [&target, name, min, max](const std::string& v) -> absl::Status {
    auto n = parse_count(v, "value", min, max);
    if (!n.ok()) return for_flag(name, n.status());
    target = static_cast<int>(*n);
    return absl::OkStatus();
  };
}

setter path_flag(std::string& target, std::string_view flag) {
  const std::string name(flag);
  return [&target, name](const std::string& v) -> absl::Status {
    if (v.empty()) return bad(name + " needs a file name");
    target = v;
    return absl::OkStatus();
  };
}

absl::StatusOr<command_line> parse_run(const std::vector<std::string>& args, std::size_t i) {
  run_args r;
  bool help = false;
  bool workload_given = false;
  std::map<std::string, setter> flags = {
      {"--dsn", [&](const std::string& v) -> absl::Status {
         if (v.empty()) return bad("--dsn needs a connection string, e.g. 'host=/tmp dbname=app'");
         r.dsn = v;
         return absl::OkStatus();
       }},
      {"--workload", [&](const std::string& v) -> absl::Status {
         workload_given = true;
         return assign(r.workload, read_workload)(v);
       }},
      {"--script", path_flag(r.script_path, "--script")},
      {"--threads", count_flag(r.threads, "--threads", 1, 1024)},
      {"--fibers", count_flag(r.fibers, "--fibers", 1, 10000)},
      {"--sizes", [&](const std::string& v) -> absl::Status {
         auto s = parse_sizes(v);
         if (!s.ok()) return s.status();
         r.sizes = *s;
         return absl::OkStatus();
       }},
      {"--seconds", [&](const std::string& v) -> absl::Status {
         auto s = parse_seconds(v);
         if (!s.ok()) return for_flag("--seconds", s.status());
         if (!(*s > 0) || *s > 86400)
           return bad("--seconds: '" + v + "' is out of range; give a time above 0 and at most "
                      "86400 (e.g. 3 or 0.5)");
         r.seconds = *s;
         return absl::OkStatus();
       }},
      {"--warmup", [&](const std::string& v) -> absl::Status {
         auto s = parse_seconds(v);
         if (!s.ok()) return for_flag("--warmup", s.status());
         if (*s > 3600) return bad("--warmup: '" + v + "' is over an hour; give at most 3600");
         r.warmup = *s;
         return absl::OkStatus();
       }},
      {"--wait-target", [&](const std::string& v) -> absl::Status {
         auto d = parse_duration(v);
         if (!d.ok()) return for_flag("--wait-target", d.status());
         if (d->count() <= 0)
           return bad("--wait-target: '" + v + "' is zero; give a positive duration, e.g. 1ms");
         r.wait_target = *d;
         return absl::OkStatus();
       }},
      {"--margin", [&](const std::string& v) -> absl::Status {
         std::string text = v;
         if (!text.empty() && text.back() == '%') text.pop_back();
         auto m = parse_decimal(text, "value");
         if (!m.ok()) return for_flag("--margin", m.status());
         if (*m < 0 || *m >= 100)
           return bad("--margin: '" + v + "' is out of range; give a percentage from 0 to "
                      "below 100, e.g. 5");
         r.margin_percent = *m;
         return absl::OkStatus();
       }},
      {"--repeats", count_flag(r.repeats, "--repeats", 1, 1000)},
      {"--repos-per-test", count_flag(r.repos_per_test, "--repos-per-test", 1, 1000)},
      {"--spindles", count_flag(r.spindles, "--spindles", 0, 1000)},
      {"--csv", path_flag(r.csv_path, "--csv")},
      {"--svg", path_flag(r.svg_path, "--svg")},
      {"--format", assign(r.format, read_format)},
      {"--progress", assign(r.progress, read_progress)},
  };
  if (absl::Status s = walk(args, i, flags, false, help); !s.ok()) return s;
  if (help) return help_request{};
  if (!r.script_path.empty()) {
    if (workload_given) {
      return bad("--script runs your own SQL in place of a built-in workload, so it cannot be "
                 "combined with --workload " + std::string(workload_name(r.workload)) +
                 "; give one of them");
    }
    r.workload = workload_kind::script;
  }
  if (r.seconds / r.repeats < 0.01) {
    return bad("--seconds " + format_seconds(r.seconds) + " over --repeats " +
               std::to_string(r.repeats) + " leaves " + format_seconds(r.seconds / r.repeats) +
               " per repeat, too short to measure; give at least 10 ms per repeat (raise "
               "--seconds or lower --repeats)");
  }
  if (r.concurrency() > 100000) {
    return bad("--threads " + std::to_string(r.threads) + " x --fibers " +
               std::to_string(r.fibers) + " makes " + std::to_string(r.concurrency()) +
               " callers; keep it at most 100000");
  }
  return r;
}

absl::StatusOr<command_line> parse_suite(const std::vector<std::string>& args, std::size_t i) {
  suite_args s;
  bool help = false;
  std::map<std::string, setter> flags = {
      {"--dir", path_flag(s.dir, "--dir")},
      {"--format", assign(s.format, read_format)},
  };
  if (absl::Status st = walk(args, i, flags, true, help); !st.ok()) return st;
  if (help) return help_request{};
  s.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (s.command.empty()) {
    return bad("suite needs the test command to run, after --, e.g. sandpool-size suite -- "
               "meson test -C build");
  }
  return s;
}

}  // namespace

absl::StatusOr<command_line> parse_args(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "suite") return parse_suite(args, 1);
  if (!args.empty() && args[0] == "run") return parse_run(args, 1);
  return parse_run(args, 0);
}

absl::StatusOr<std::string> resolve_dsn(const std::optional<std::string>& flag,
                                        const char* env_dsn) {
  if (flag) return *flag;
  if (env_dsn != nullptr && *env_dsn != '\0') return std::string(env_dsn);
  return bad("no server to measure: pass --dsn 'host=... dbname=...' for a server of your own, "
             "or run under scripts/with-postgres (it starts a throwaway PostgreSQL and sets "
             "SANDPOOL_TEST_DSN)");
}

std::string_view workload_name(workload_kind w) {
  switch (w) {
    case workload_kind::select_1: return "select-1";
    case workload_kind::rw: return "rw";
    case workload_kind::sandbox: return "sandbox";
    case workload_kind::script: return "script";
  }
  return "?";
}

std::string usage_text() {
  return R"(usage: sandpool-size [run] [options]
       sandpool-size suite [--dir DIR] [--format table|markdown] -- COMMAND [ARGS...]
       sandpool-size --help

Measures which pool size serves a workload best: runs it at a fixed
concurrency (threads x fibers) against PostgreSQL, --repeats times per pool
size (in rounds across the sizes, so that a slow spell of the machine hits
them all), and prints per size the median throughput, checkout wait and
query latency with their spread. From the medians it recommends the
smallest size within --margin of the best throughput whose p99 checkout
wait meets --wait-target, beside two rules of thumb, and warns when the
spread is wide enough that noise could flip that choice. Sizes at or above
threads x fibers are never full, so they count as one (median throughput,
worst p99 wait) and the recommendation never exceeds the concurrency.

run options:
  --dsn DSN             server to measure (default: $SANDPOOL_TEST_DSN, set by
                        scripts/with-postgres); passwords are never printed
  --workload NAME       select-1 (default): checkout, SELECT 1, checkin
                        rw: a short read-write transaction on a table of its own
                        sandbox: a sandboxed test (checkout, INSERT + SELECT, checkin)
  --script FILE         your own SQL instead (like pgbench -f): statements ending
                        in ';', run in order on one connection per iteration
  --threads N           OS threads (default 2)
  --fibers N            Boost.Fiber fibers per thread (default 4); a fiber lets
                        the others run after each statement, holding its
                        connection, as fibers of a server do between queries
  --sizes LIST          pool sizes: 1,2,4,8 or 1-16 or 1-16:2 (default: doubling
                        from 1 to 2 x threads x fibers, with threads x fibers)
  --seconds S           measured time per size (default 3), split over repeats
  --warmup S            unmeasured time per size (default 0.5), split likewise:
                        each repeat opens a fresh pool, warms it, then measures
  --repeats N           measurements per size (default 3): the table shows the
                        median and lowest-highest; 1 measures once
  --wait-target D       p99 checkout wait the recommendation must meet (default 1ms)
  --margin PCT          how far below the best throughput still counts (default 5)
  --repos-per-test N    for the rule of thumb concurrency x N x 1.5 (default 1)
  --spindles N          for the rule of thumb 2 x cores + spindles (default 1)
  --csv FILE            also write the figures as CSV
  --svg FILE            also write a chart: throughput and p99 wait against size
  --format F            table (default) or markdown
  --progress P          auto (default: a bar on a terminal), bar, lines or none

suite: runs COMMAND (e.g. a test suite) with SANDPOOL_METRICS_EXPORT set, so
every sandpool pool in it records its checkouts, then reports per pool and
per test the checkout waits and hold times, the high-water mark, and the pool
size that would have avoided waiting. COMMAND's exit status is kept.
  --dir DIR             keep the activity files in DIR (default: a temporary
                        directory, removed afterwards)

Exit status: 0 done, 1 the run failed, 2 bad arguments.
)";
}

}  // namespace sandpool::sizing
