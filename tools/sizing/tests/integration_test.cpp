// sandpool-size against the throwaway server: a tiny sweep of each workload
// (report, CSV and SVG contents, no tables left behind), the errors for bad
// input (exit status and a message naming the thing and the fix), and
// suite mode over programs whose pools export their activity. Assertions
// are about what a user sees, never about how fast anything was.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "integration_test.hpp"
#include "pg_env.hpp"
#include "sandpool/core/activity.hpp"
#include "sandpool/sandpool.hpp"

namespace sandpool::test {
namespace {

using namespace std::chrono_literals;

bool has(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The sizes in the first column of the plain results table.
std::vector<std::size_t> table_sizes(const std::string& out) {
  std::vector<std::size_t> sizes;
  bool in_table = false;
  for (const std::string& line : lines_of(out)) {
    if (line.rfind("size  ", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table || line.rfind("----", 0) == 0) continue;
    if (line.empty()) break;
    sizes.push_back(std::stoul(line));
  }
  return sizes;
}

std::string line_starting(const std::string& out, std::string_view prefix) {
  for (const std::string& line : lines_of(out))
    if (line.rfind(prefix, 0) == 0) return line;
  return {};
}

std::size_t activity_file_count(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().extension() == ".tsv";
  return n;
}

long leftover_tables() {
  pq::connection c = connect();
  auto r = c.exec("SELECT count(*) FROM pg_class WHERE relname LIKE 'sandpool_size_%'");
  REQUIRE_MESSAGE(r.ok(), text(r.status()));
  return std::stol(std::string(r->get(0, 0)));
}

PG_TEST_CASE("a tiny select-1 sweep: a row per size, the recommendation beside both rules, "
             "CSV and SVG") {
  (void)dsn();
  scratch_dir dir;
  const std::string csv = dir.file("sweep.csv"), svg = dir.file("sweep.svg");
  const program_run r =
      run_tool({"--sizes", "1,2", "--seconds", "0.3", "--warmup", "0.1", "--threads", "1",
                "--fibers", "2", "--progress", "lines", "--csv", csv, "--svg", svg});
  REQUIRE(r.status == 0);

  // What was measured, and how.
  CHECK(has(r.out, "sandpool-size: workload select-1 on host="));
  CHECK(has(r.out, "(PostgreSQL 15"));
  CHECK(has(r.out, "1 thread x 2 fibers = 2 concurrent callers"));
  CHECK(has(r.out, "checkout_timeout 5.00 s"));
  const std::string head = line_starting(r.out, "size  ");
  std::string columns;
  for (std::istringstream words(head); words;) {
    std::string w;
    if (words >> w) columns += (columns.empty() ? "" : " ") + w;
  }
  CHECK(columns == "size ops/s ops/s min\u2013max wait p50 wait p95 wait p99 wait p99 "
                   "min\u2013max query p99 query p99 min\u2013max high-water timeouts drops note");
  CHECK(has(r.out, "3 repeats in rounds across the sizes, each a fresh pool with 0.0333 s "
                   "warm-up, then 0.1 s measured (0.3 s measured per size)"));

  // The requested sizes plus the rules of thumb: 2 x 1 x 1.5 = 3, and
  // 2 x cores + 1 (cores of this machine, measured when at most 64).
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t by_cores = 2 * cores + 1;
  std::set<std::size_t> expected = {1, 2, 3};
  if (by_cores <= 64) expected.insert(by_cores);
  const std::vector<std::size_t> sizes = table_sizes(r.out);
  CHECK(std::set<std::size_t>(sizes.begin(), sizes.end()) == expected);
  CHECK(std::is_sorted(sizes.begin(), sizes.end()));

  const std::string rec = line_starting(r.out, "recommended pool size: ");
  REQUIRE_FALSE(rec.empty());
  const std::string seed = line_starting(r.out, "rule of thumb (seed): ");
  CHECK(seed.rfind("rule of thumb (seed): 2 concurrent tests x 1 repo per test x 1.5 = 3 -> ",
                   0) == 0);
  CHECK((has(seed, " ops/s (") || has(seed, "size itself")));
  // Whether noise could flip it: warnings naming two sizes and their ranges,
  // then how to narrow them; or that it cannot.
  const std::string noise = line_starting(r.out, "noise: ");
  if (has(r.out, "warning: noise could flip the ")) {
    // Sizes at or above the callers, counted as one, may add a parenthesis.
    CHECK(noise.rfind("noise: the ranges are the lowest to highest of 3 repeats per size", 0) ==
          0);
    CHECK(has(noise, "; to narrow them, measure 3x longer: --seconds 0.9 (longer repeats) or "
                     "--seconds 0.9 --repeats 9 (more repeats)"));
    CHECK(has(line_starting(r.out, "warning: noise could flip the "), " ops/s, p99 wait "));
  } else {
    CHECK(noise.rfind("noise: cannot flip the ", 0) == 0);
  }
  const std::string folk = line_starting(r.out, "2 x cores + spindles: ");
  CHECK(has(folk, "2 x " + std::to_string(cores) + (cores == 1 ? " core" : " cores") +
                      " + 1 spindle = " + std::to_string(by_cores) + " -> "));

  // Progress went to stderr, one line as each measurement starts and ends:
  // three rounds across the sizes.
  const std::string of = std::to_string(expected.size());
  CHECK(has(r.err, "size 1 (1/" + of + "), repeat 1/3: measuring for 0.133 s\n"
                   "sandpool-size: size 1 (1/" + of + "), repeat 1/3: "));
  CHECK(has(r.err, "size 1 (1/" + of + "), repeat 3/3: measuring for 0.133 s"));
  CHECK(occurrences(r.err, " ops/s, p99 wait ") == 3 * expected.size());
  CHECK(r.err.find("size 2 (2/" + of + "), repeat 1/3") <
        r.err.find("size 1 (1/" + of + "), repeat 2/3"));
  CHECK_FALSE(has(r.out, "measuring for"));

  // CSV: a header and a line per size, in order, with work done at each.
  const auto csv_lines = lines_of(slurp(csv));
  REQUIRE(csv_lines.size() == expected.size() + 1);
  CHECK(csv_lines[0].rfind("pool_size,throughput_ops_per_s,operations,seconds,wait_p50_us,", 0) ==
        0);
  std::size_t row = 1;
  for (std::size_t size : expected) {
    const std::string& l = csv_lines[row++];
    CHECK(l.rfind(std::to_string(size) + ",", 0) == 0);
    CHECK(has(l, ",select-1,1,2"));
    const std::string ops = l.substr(l.find(',', l.find(',') + 1) + 1);
    CHECK(std::stoul(ops) > 0);  // operations completed at this size
  }

  // SVG: one self-contained document, a point per size on both series.
  const std::string chart = slurp(svg);
  CHECK(chart.rfind("<?xml", 0) == 0);
  CHECK(chart.size() > 7);
  CHECK(chart.substr(chart.size() - 7) == "</svg>\n");
  CHECK(occurrences(chart, "<polyline") == 2);
  CHECK(occurrences(chart, "<circle") == expected.size());
  CHECK(has(chart, "throughput (ops/s, left axis)"));
  CHECK_FALSE(has(chart, "href"));
  if (rec.rfind("recommended pool size: none", 0) != 0) {
    const std::string n = rec.substr(std::string("recommended pool size: ").size());
    CHECK(has(chart, "recommended: " + n.substr(0, n.find(' '))));
  }
}

PG_TEST_CASE("the rw, sandbox and script workloads run and leave no table behind") {
  (void)dsn();
  scratch_dir dir;
  const std::string script = dir.file("bench.sql");
  std::ofstream(script) << "-- two statements\nSELECT 1;\nSELECT count(*)\n  FROM pg_class;\n";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--workload", "rw"}, "workload rw (BEGIN; UPDATE one of 1000 rows; SELECT it; COMMIT)"},
      {{"--workload", "sandbox"}, "workload sandbox (per test: checkout with BEGIN"},
      {{"--script", script}, "workload script " + script + " (2 statements)"},
  };
  for (const auto& one_case : cases) {
    const auto& [flags, description] = one_case;
    CAPTURE(one_case.second);  // clang 14 cannot capture a structured binding
    // Measured once: the table of a single run, without spread columns.
    std::vector<std::string> args = {"--sizes", "2", "--seconds", "0.2", "--warmup", "0",
                                     "--repeats", "1", "--threads", "2", "--fibers", "2",
                                     "--format", "markdown", "--progress", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    const program_run r = run_tool(args);
    REQUIRE(r.status == 0);
    CHECK(has(r.out, description));
    CHECK(has(r.out, "| size | ops/s | wait p50 | wait p95 | wait p99 | query p99 | "
                     "high-water | timeouts | drops | note |"));
    CHECK(has(r.out, "\n| 2 | "));
    CHECK(has(r.out, "\n- recommended pool size: "));
    CHECK(has(r.out, "\n- noise: not judged, each size was measured once (--repeats 1)"));
    CHECK(has(r.out, "\n- rule of thumb (seed): 4 concurrent tests x 1 repo per test x 1.5 = 6"));
    CHECK(r.err.empty());  // --progress none
    CHECK(leftover_tables() == 0);
  }
}

PG_TEST_CASE("bad input fails with the status and a message naming the thing and the fix") {
  (void)dsn();
  scratch_dir dir;
  const auto fails = [](std::vector<std::string> args, int status,
                        std::vector<std::string> needles, const env_changes& env = {}) {
    const program_run r = run_tool(std::move(args), env);
    CHECK(r.status == status);
    for (const std::string& n : needles) CHECK_MESSAGE(has(r.err, n), n);
    return r;
  };

  fails({"--workload", "nope"}, 2, {"unknown workload 'nope'", "select-1, rw or sandbox"});
  fails({"--script", "/nonexistent/sandpool-size.sql"}, 2,
        {"cannot read script /nonexistent/sandpool-size.sql", "check the path"});
  const std::string empty = dir.file("empty.sql");
  std::ofstream(empty) << "-- nothing to run\n";
  fails({"--script", empty}, 2, {"script " + empty + " holds no SQL statement"});
  fails({"--sizes", "16-1"}, 2, {"'16-1' runs downward", "(1-16)"});
  fails({"--sizes", "0,4"}, 2, {"a pool needs at least 1"});
  fails({"--sizes", "1,5000", "--seconds", "0.1"}, 2,
        {"a pool of 5000 connections is more than the server can give",
         "max_connections", "lower --sizes"});

  const program_run unreachable =
      fails({"--dsn", "host=/nonexistent/sandpool port=5999 dbname=x user=u "
                      "password=hunter2-secret", "--sizes", "1"},
            1, {"cannot connect to the server", "--dsn", "scripts/with-postgres"});
  CHECK_FALSE(has(unreachable.err, "hunter2"));
  CHECK_FALSE(has(unreachable.out, "hunter2"));

  fails({"--sizes", "1"}, 2, {"--dsn", "scripts/with-postgres"},
        {{"SANDPOOL_TEST_DSN", std::nullopt}});

  const std::string broken = dir.file("broken.sql");
  std::ofstream(broken) << "SELECT no_such_column_for_sizing;\n";
  fails({"--script", broken, "--sizes", "1", "--seconds", "0.1", "--progress", "none"}, 1,
        {"script " + broken + " statement 1", "no_such_column_for_sizing", "fix the script"});
  CHECK(leftover_tables() == 0);
}

// A program whose pool exports known activity: run by the suite-mode test
// below as this executable with SANDPOOL_SIZE_CHILD set; skipped otherwise.
TEST_CASE("(helper) a pool with two labelled tests, one of them contended" *
          doctest::skip(std::getenv("SANDPOOL_SIZE_CHILD") == nullptr)) {
  auto driver = pq::driver::create(dsn());
  REQUIRE(driver.ok());
  pool_options o;
  o.name = "size-tool-child";
  o.max_size = 1;
  auto p = pool::create(*driver, o);
  REQUIRE(p.ok());
  set_activity_label("child/alone");
  {
    auto lease = p->checkout();
    REQUIRE(lease.ok());
    REQUIRE((*lease)->exec("SELECT 1").ok());
  }
  set_activity_label("child/contended");
  {
    auto held = p->checkout();
    REQUIRE(held.ok());
    std::thread second([&] { REQUIRE(p->checkout().ok()); });
    while (p->metrics().waiting == 0) std::this_thread::sleep_for(1ms);  // it is queued
    (void)held->checkin();
    second.join();
  }
  set_activity_label({});
}

PG_TEST_CASE("suite mode reports what the command's pools were asked for") {
  (void)dsn();
  scratch_dir dir;
  const env_changes child = {{"SANDPOOL_SIZE_CHILD", "1"}};
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::vector<std::string> helper = {self, "--test-case=(helper)*", "--no-intro"};

  SUBCASE("per test, the high-water mark and the size that would have avoided waiting") {
    std::vector<std::string> args = {"suite", "--dir", dir.file("export"), "--"};
    args.insert(args.end(), helper.begin(), helper.end());
    const program_run r = run_tool(args, child);
    REQUIRE(r.status == 0);
    CHECK(has(r.out, "exited with status 0"));
    CHECK(has(r.out, "activity: 1 file from 1 process in " + dir.file("export")));
    CHECK(has(r.out, "pool 'size-tool-child': 1 pool in 1 process, max_size 1, 3 checkouts, "
                     "0 failed"));
    const std::string contended = line_starting(r.out, "child/contended ");
    CHECK(has(contended, " 2 "));  // two checkouts
    CHECK_FALSE(line_starting(r.out, "child/alone ").empty());
    CHECK(has(r.out, "high-water mark: 1 connection in use at once in one pool (max_size 1)"));
    CHECK(has(r.out, "pool size that would have avoided waiting: 2"));
    CHECK(has(r.out, "max_size 1 made 1 of them wait"));
    // --dir keeps the files; a second run into it is refused.
    CHECK(activity_file_count(dir.file("export")) == 1);
    const program_run again = run_tool(args, child);
    CHECK(again.status == 2);
    CHECK(has(again.err, "already holds 1 activity file(s) from an earlier run"));
  }

  SUBCASE("the command's failing status is kept, after the report") {
    const std::string cmd = "\"$0\" \"$@\"; exit 3";
    std::vector<std::string> args = {"suite", "--", "sh", "-c", cmd};
    args.insert(args.end(), helper.begin(), helper.end());
    const program_run r = run_tool(args, child);
    CHECK(r.status == 3);
    CHECK(has(r.out, "exited with status 3"));
    CHECK(has(r.out, "pool 'size-tool-child'"));
  }

  SUBCASE("an existing doctest suite, its processes' pools reported by name") {
    const char* suites = std::getenv("SANDPOOL_SIZE_SUITE_PROGRAM");
    REQUIRE_MESSAGE(suites != nullptr, "meson sets SANDPOOL_SIZE_SUITE_PROGRAM for this test");
    const program_run r = run_tool({"suite", "--format", "markdown", "--", suites});
    REQUIRE(r.status == 0);
    CHECK(has(r.out, "### pool 'sandbox-it'"));
    CHECK(has(r.out, "| test | checkouts | failed | wait total | wait max | hold total | "));
    CHECK(has(r.out, "- pool size that would have avoided waiting: "));
  }

  SUBCASE("a command without pools, and one that cannot start") {
    const program_run none = run_tool({"suite", "--", "true"});
    CHECK(none.status == 1);
    CHECK(has(none.err, "`true` exited with status 0, and no pool exported activity"));
    CHECK(has(none.err, "did it create a pool"));
    const program_run missing = run_tool({"suite", "--", "/nonexistent/sandpool-tests"});
    CHECK(missing.status == 2);
    CHECK(has(missing.err, "cannot run '/nonexistent/sandpool-tests'"));
    CHECK(has(missing.err, "check the command after --"));
  }
}

}  // namespace
}  // namespace sandpool::test
