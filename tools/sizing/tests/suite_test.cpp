// sandpool-size suite: parsing the activity files pools export, and the
// per-pool, per-test and cross-process figures computed from synthetic
// ones (times chosen so every overlap is known).
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "activity_file.hpp"
#include "suite_report.hpp"
#include "suite_usage.hpp"

namespace sandpool::sizing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string header(const std::string& pool, int max_size, int pid) {
  return "# sandpool activity v1\n# pool\t" + pool + "\n# max_size\t" +
         std::to_string(max_size) + "\n# pid\t" + std::to_string(pid) +
         "\ntest\trequested_ns\tgranted_ns\treleased_ns\toutcome\n";
}

activity_file parsed(const std::string& text, const std::string& path = "f.tsv") {
  auto f = parse_activity(text, path);
  REQUIRE_MESSAGE(f.ok(), std::string(f.status().message()));
  return *std::move(f);
}

std::string parse_error(const std::string& text) {
  auto f = parse_activity(text, "/x/bad.tsv");
  REQUIRE_FALSE(f.ok());
  return std::string(f.status().message());
}

// Process 1 (pool "app", max_size 2): test a holds 100-400 after asking at
// 100; test b asks at 200, gets it at 200, holds to 300; test b asks again
// at 250 and waits until 400 (pool full), holds to 500; a timeout from 300
// to 450 outside any test.
const std::string process_1 = header("app", 2, 11) +
                              "suite/a\t100\t100\t400\tok\n"
                              "suite/b\t200\t200\t300\tok\n"
                              "suite/b\t250\t400\t500\tok\n"
                              "-\t300\t450\t450\ttimeout\n";
// Process 2 (same pool name, another process, run at the same time).
const std::string process_2 = header("app", 2, 22) + "suite/c\t150\t150\t350\tok\n";
// Another pool in process 1, busy while the app pools are busiest.
const std::string other_pool = header("audit db", 1, 11) + "suite/a\t260\t270\t280\tok\n";

TEST_CASE("an activity file parses into its pool, size, process and checkouts") {
  const activity_file f = parsed(process_1, "/d/app.11.1.tsv");
  CHECK(f.path == "/d/app.11.1.tsv");
  CHECK(f.pool == "app");
  CHECK(f.max_size == 2);
  CHECK(f.pid == 11);
  REQUIRE(f.records.size() == 4);
  CHECK(f.records[0].test == "suite/a");
  CHECK(f.records[2].requested_ns == 250);
  CHECK(f.records[2].granted_ns == 400);
  CHECK(f.records[2].released_ns == 500);
  CHECK(f.records[3].outcome == checkout_outcome::timeout);
  CHECK(parsed(header("p", 1, 1) + "t\t1\t2\t3\tdropped\n").records[0].outcome ==
        checkout_outcome::dropped);
  CHECK(parsed(header("p", 1, 1) + "t\t1\t2\t3\tfailed\r\n").records[0].outcome ==
        checkout_outcome::failed);
  CHECK(parsed(header("p", 1, 1)).records.empty());
  CHECK(parsed(header("name\twith tab", 1, 1)).pool == "name\twith tab");
  // Comment lines a later writer may add are skipped.
  CHECK(parsed("# sandpool activity v1\n# note\n# pool\tp\n# future\t1\n"
               "test\trequested_ns\tgranted_ns\treleased_ns\toutcome\n")
            .pool == "p");
}

TEST_CASE("damaged or foreign files are refused with the path, the line and the reason") {
  CHECK(contains(parse_error("hello\n"), "activity file /x/bad.tsv line 1: this is not a sandpool "
                                         "activity file"));
  CHECK(contains(parse_error("# sandpool activity v2\n"), "format v2 is not the v1"));
  CHECK(contains(parse_error(""), "the file is empty"));
  CHECK(contains(parse_error("# sandpool activity v1\n# pool\tp\n"),
                 "ends before its column line"));
  CHECK(contains(parse_error("# sandpool activity v1\ntest\trequested_ns\tgranted_ns\t"
                             "released_ns\toutcome\n"),
                 "names no pool"));
  CHECK(contains(parse_error(header("p", 1, 1) + "t\t1\t2\n"),
                 "line 6: expected 5 tab-separated fields"));
  CHECK(contains(parse_error(header("p", 1, 1) + "t\t1\tx\t3\tok\n"), "not a whole number"));
  CHECK(contains(parse_error(header("p", 1, 1) + "t\t1\t2\t3\tlost\n"), "unknown outcome 'lost'"));
  CHECK(contains(parse_error(header("p", 1, 1) + "t\t5\t2\t3\tok\n"), "times out of order"));
  CHECK(contains(parse_error("# sandpool activity v1\n# max_size\tmany\n"),
                 "max_size is not a whole number"));
}

TEST_CASE("peak overlap counts half-open intervals and ignores empty ones") {
  CHECK(peak_overlap({}) == 0);
  CHECK(peak_overlap({{0, 10}, {10, 20}}) == 1);  // touching
  CHECK(peak_overlap({{0, 10}, {5, 20}, {6, 7}}) == 3);
  CHECK(peak_overlap({{5, 5}, {5, 5}}) == 0);
  CHECK(peak_overlap({{0, 100}, {10, 20}, {30, 40}, {50, 60}}) == 2);
}

TEST_CASE("per pool: high-water mark, peak demand, per test and per process figures") {
  const suite_usage u = aggregate({parsed(process_1, "/d/app.11.1.tsv"),
                                   parsed(process_2, "/d/app.22.1.tsv"),
                                   parsed(other_pool, "/d/audit_db.11.1.tsv")});
  CHECK(u.files == 3);
  CHECK(u.processes == 2);
  REQUIRE(u.pools.size() == 2);
  const pool_usage& app = u.pools[0];
  CHECK(app.pool == "app");
  CHECK(app.processes == 2);
  CHECK(app.max_size == 2);
  CHECK(app.checkouts == 5);
  CHECK(app.failed == 1);
  REQUIRE(app.instances.size() == 2);
  const instance_usage& p1 = app.instances[0];
  CHECK(p1.pid == 11);
  CHECK(p1.checkouts == 4);
  CHECK(p1.timeouts == 1);
  // Holds: [100,400) [200,300) [400,500): two at once at most.
  CHECK(p1.high_water == 2);
  // Demand: [100,400) [200,300) [250,500) [300,450): three at once (250-300
  // and 300-400), so a pool of 3 would have avoided every wait.
  CHECK(p1.peak_demand == 3);
  CHECK(app.instance_high_water == 2);
  CHECK(app.instance_peak_demand == 3);
  // With process 2's [150,350) at the same time: 3 held, 4 wanted at once.
  CHECK(app.combined_high_water == 3);
  CHECK(app.combined_peak_demand == 4);

  // Tests, most total wait first.
  REQUIRE(app.tests.size() == 4);
  CHECK(app.tests[0].test == "-");  // the timeout waited 150
  CHECK(app.tests[0].wait_total == 150ns);
  CHECK(app.tests[0].failed == 1);
  CHECK(app.tests[0].hold_total == 0ns);
  const test_usage& b = app.tests[1];
  CHECK(b.test == "suite/b");
  CHECK(b.checkouts == 2);
  CHECK(b.wait_total == 150ns);
  CHECK(b.wait_max == 150ns);
  CHECK(b.hold_total == 200ns);
  CHECK(b.hold_max == 100ns);
  CHECK(app.tests[2].test == "suite/a");
  CHECK(app.tests[2].hold_max == 300ns);
  CHECK(app.tests[3].test == "suite/c");

  const pool_usage& audit = u.pools[1];
  CHECK(audit.pool == "audit db");
  CHECK(audit.instance_peak_demand == 1);
  // Every pool at once: app's 4 plus audit's [260,280) among them.
  CHECK(u.combined_peak_demand == 5);
  CHECK(u.combined_high_water == 4);
}

TEST_CASE("the report shows the command's status, each pool's figures and the totals") {
  const suite_usage u = aggregate({parsed(process_1, "/d/app.11.1.tsv"),
                                   parsed(process_2, "/d/app.22.1.tsv"),
                                   parsed(other_pool, "/d/audit_db.11.1.tsv")});
  suite_run run{"meson test -C build", 0, "/d", true};
  const std::string t = suite_report_text(u, run, {"/d/bad.tsv: damaged"}, output_format::table);
  CHECK(contains(t, "sandpool-size suite: `meson test -C build` exited with status 0"));
  CHECK(contains(t, "activity: 3 files from 2 processes in /d\n"));
  CHECK(contains(t, "left out: /d/bad.tsv: damaged"));
  CHECK(contains(t, "pool 'app': 2 pools in 2 processes, max_size 2, 5 checkouts, 1 failed"));
  CHECK(contains(t, "(outside tests)"));
  CHECK(contains(t, "suite/b"));
  CHECK(contains(t, "app.11.1.tsv"));
  CHECK(contains(t, "high-water mark: 2 connections in use at once in one pool (max_size 2)"));
  CHECK(contains(t, "pool size that would have avoided waiting: 3"));
  CHECK(contains(t, "max_size 2 made 1 of them wait"));
  CHECK(contains(t, "across its 2 pools at once: 4 connections wanted, 3 held"));
  CHECK(contains(t, "pool 'audit db': 1 pool in 1 process, max_size 1"));
  CHECK(contains(t, "never made a checkout wait"));
  CHECK(contains(t, "all pools together: 5 connections wanted at once, 4 held at once"));

  const std::string md = suite_report_text(u, run, {}, output_format::markdown);
  CHECK(contains(md, "### pool 'app'"));
  CHECK(contains(md, "| test | checkouts | failed | wait total | wait max | hold total | "
                    "hold max |"));
  CHECK(contains(md, "- pool size that would have avoided waiting: 3"));
}

TEST_CASE("the command's end, and the message when no pool exported anything") {
  CHECK(outcome_text({"t", 3, "/d", false}) == "`t` exited with status 3");
  CHECK(outcome_text({"t", 137, "/d", false}) == "`t` was killed by signal 9");
  const std::string m = no_activity_message({"./tests", 0, "/tmp/e", false});
  CHECK(contains(m, "no pool exported activity to /tmp/e"));
  CHECK(contains(m, "sandpool/core/activity.hpp"));
  CHECK(contains(m, "did it create a pool"));
  CHECK(shell_words({"meson", "test", "a b", "it's"}) == "meson test 'a b' 'it'\\''s'");
}

TEST_CASE("a directory of exports is read in name order; damaged files are left out") {
  const fs::path dir = fs::temp_directory_path() /
                       ("sandpool-size-suite-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "app.22.1.tsv") << process_2;
  std::ofstream(dir / "app.11.1.tsv") << process_1;
  std::ofstream(dir / "cut.33.1.tsv") << "# sandpool activity v1\n# pool\tcut\n";
  std::ofstream(dir / "notes.txt") << "not an export";
  auto set = read_activity_dir(dir.string());
  const auto listed = activity_files_in(dir.string());
  fs::remove_all(dir);
  REQUIRE(set.ok());
  REQUIRE(set->files.size() == 2);
  CHECK(set->files[0].pid == 11);
  CHECK(set->files[1].pid == 22);
  REQUIRE(set->problems.size() == 1);
  CHECK(contains(set->problems[0], "cut.33.1.tsv"));
  CHECK(contains(set->problems[0], "left out"));
  CHECK(listed.size() == 3);

  auto missing = read_activity_dir("/nonexistent/sandpool-size");
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(std::string(missing.status().message()),
                 "/nonexistent/sandpool-size does not exist"));
}

}  // namespace
}  // namespace sandpool::sizing
