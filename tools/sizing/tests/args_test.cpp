// sandpool-size's command line: every flag, its defaults, and the errors
// for bad values (each naming the flag, the value and the fix).
#include <doctest/doctest.h>

#include <string>
#include <variant>
#include <vector>

#include "args.hpp"
#include "units.hpp"

namespace sandpool::sizing {
namespace {

using namespace std::chrono_literals;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

run_args run(std::vector<std::string> args) {
  auto r = parse_args(args);
  REQUIRE_MESSAGE(r.ok(), std::string(r.status().message()));
  REQUIRE(std::holds_alternative<run_args>(*r));
  return std::get<run_args>(*r);
}

std::string error(std::vector<std::string> args) {
  auto r = parse_args(args);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST_CASE("no arguments is a run with the documented defaults") {
  const run_args a = run({});
  CHECK_FALSE(a.dsn.has_value());
  CHECK(a.workload == workload_kind::select_1);
  CHECK(a.threads == 2);
  CHECK(a.fibers == 4);
  CHECK(a.concurrency() == 8);
  CHECK_FALSE(a.sizes.has_value());
  CHECK(a.seconds == 3.0);
  CHECK(a.warmup == 0.5);
  CHECK(a.repeats == 3);
  CHECK(a.wait_target == 1ms);
  CHECK(a.margin_percent == 5.0);
  CHECK(a.repos_per_test == 1);
  CHECK(a.spindles == 1);
  CHECK(a.csv_path.empty());
  CHECK(a.svg_path.empty());
  CHECK(a.format == output_format::table);
  CHECK(a.progress == progress_style::automatic);
  CHECK(run({"run"}).threads == 2);
}

TEST_CASE("every run flag is read, in both --flag value and --flag=value forms") {
  const run_args a =
      run({"run", "--dsn", "host=/tmp dbname=x", "--workload", "rw", "--threads=3", "--fibers",
           "5", "--sizes", "1-4,8", "--seconds", "0.25", "--warmup=0", "--wait-target", "250us",
           "--margin", "10%", "--repeats", "5", "--repos-per-test", "2", "--spindles", "0", "--csv", "out.csv",
           "--svg=out.svg", "--format", "markdown", "--progress", "lines"});
  CHECK(a.dsn == "host=/tmp dbname=x");
  CHECK(a.workload == workload_kind::rw);
  CHECK(a.threads == 3);
  CHECK(a.fibers == 5);
  CHECK(a.sizes == std::vector<std::size_t>{1, 2, 3, 4, 8});
  CHECK(a.seconds == 0.25);
  CHECK(a.warmup == 0.0);
  CHECK(a.wait_target == 250us);
  CHECK(a.margin_percent == 10.0);
  CHECK(a.repeats == 5);
  CHECK(a.repos_per_test == 2);
  CHECK(a.spindles == 0);
  CHECK(a.csv_path == "out.csv");
  CHECK(a.svg_path == "out.svg");
  CHECK(a.format == output_format::markdown);
  CHECK(a.progress == progress_style::lines);
  CHECK(run({"--workload", "sandbox"}).workload == workload_kind::sandbox);
  CHECK(run({"--progress", "bar"}).progress == progress_style::bar);
  CHECK(run({"--progress", "none"}).progress == progress_style::none);
  CHECK(run({"--seconds", "1500ms"}).seconds == doctest::Approx(1.5));
}

TEST_CASE("--script selects the script workload; combining it with --workload is refused") {
  const run_args a = run({"--script", "bench.sql"});
  CHECK(a.workload == workload_kind::script);
  CHECK(a.script_path == "bench.sql");
  const std::string e = error({"--workload", "rw", "--script", "bench.sql"});
  CHECK(contains(e, "--script"));
  CHECK(contains(e, "--workload rw"));
  CHECK(contains(e, "give one of them"));
}

TEST_CASE("--help anywhere asks for help") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"run", "--threads", "2", "--help"},
        {"suite", "--help"}}) {
    auto r = parse_args(args);
    REQUIRE(r.ok());
    CHECK(std::holds_alternative<help_request>(*r));
  }
  const std::string usage = usage_text();
  for (const char* flag : {"--dsn", "--workload", "--script", "--threads", "--fibers", "--sizes",
                           "--seconds", "--warmup", "--repeats", "--wait-target", "--margin",
                           "--repos-per-test", "--spindles", "--csv", "--svg", "--format",
                           "--progress", "--dir", "suite"})
    CHECK_MESSAGE(contains(usage, flag), flag);
}

TEST_CASE("an unknown workload names the choices and --script") {
  const std::string e = error({"--workload", "tpcb"});
  CHECK(contains(e, "unknown workload 'tpcb'"));
  CHECK(contains(e, "select-1, rw or sandbox"));
  CHECK(contains(e, "--script FILE"));
}

TEST_CASE("bad values name the flag, the value and what to give") {
  CHECK(contains(error({"--threads", "0"}), "--threads: value '0' is out of range; give a whole "
                                            "number from 1 to 1024"));
  CHECK(contains(error({"--fibers", "many"}), "--fibers: value 'many' is not a whole number"));
  CHECK(contains(error({"--seconds", "0"}), "--seconds: '0' is out of range"));
  CHECK(contains(error({"--seconds", "soon"}), "'soon' is not a number of seconds"));
  CHECK(contains(error({"--warmup", "-1"}), "negative"));
  CHECK(contains(error({"--repeats", "0"}), "--repeats: value '0' is out of range; give a whole "
                                            "number from 1 to 1000"));
  CHECK(contains(error({"--seconds", "0.1", "--repeats", "20"}),
                 "--seconds 0.1 s over --repeats 20 leaves 0.005 s per repeat, too short to "
                 "measure; give at least 10 ms per repeat (raise --seconds or lower --repeats)"));
  CHECK(contains(error({"--wait-target", "5"}), "write a number with a unit"));
  CHECK(contains(error({"--wait-target", "0"}), "give a positive duration"));
  CHECK(contains(error({"--margin", "100"}), "--margin: '100' is out of range"));
  CHECK(contains(error({"--format", "html"}), "choose table or markdown"));
  CHECK(contains(error({"--progress", "fancy"}), "choose auto, bar, lines or none"));
  CHECK(contains(error({"--sizes", "0"}), "a pool needs at least 1"));
  CHECK(contains(error({"--threads"}), "--threads needs a value"));
  CHECK(contains(error({"--csv", ""}), "--csv needs a file name"));
  CHECK(contains(error({"--frobnicate"}), "unknown option '--frobnicate'"));
  CHECK(contains(error({"select-1"}), "unexpected argument 'select-1'"));
  CHECK(contains(error({"--threads", "1000", "--fibers", "1000"}), "keep it at most 100000"));
}

TEST_CASE("suite takes its options, then the command after -- or at the first non-option") {
  auto r = parse_args({"suite", "--dir", "/tmp/x", "--format=markdown", "--", "meson", "test",
                       "--suite", "integration"});
  REQUIRE(r.ok());
  const auto& s = std::get<suite_args>(*r);
  CHECK(s.dir == "/tmp/x");
  CHECK(s.format == output_format::markdown);
  CHECK(s.command == std::vector<std::string>{"meson", "test", "--suite", "integration"});

  auto bare = parse_args({"suite", "./tests", "-h"});
  REQUIRE(bare.ok());
  CHECK(std::get<suite_args>(*bare).command == std::vector<std::string>{"./tests", "-h"});

  const std::string e = error({"suite", "--dir", "/tmp/x"});
  CHECK(contains(e, "suite needs the test command to run, after --"));
  CHECK(contains(error({"suite", "--"}), "suite needs the test command"));
}

TEST_CASE("the DSN comes from --dsn, else SANDPOOL_TEST_DSN, else an error saying how") {
  CHECK(*resolve_dsn(std::string("host=a"), "host=b") == "host=a");
  CHECK(*resolve_dsn(std::nullopt, "host=b") == "host=b");
  for (const char* env : {static_cast<const char*>(nullptr), ""}) {
    auto r = resolve_dsn(std::nullopt, env);
    REQUIRE_FALSE(r.ok());
    const std::string m(r.status().message());
    CHECK(contains(m, "--dsn"));
    CHECK(contains(m, "scripts/with-postgres"));
  }
}

TEST_CASE("durations carry a unit; printed figures keep three significant digits") {
  CHECK(*parse_duration("1ms") == 1ms);
  CHECK(*parse_duration("250us") == 250us);
  CHECK(*parse_duration("0.5s") == 500ms);
  CHECK(*parse_duration("1.5 ms") == 1500us);
  CHECK(*parse_duration("100ns") == 100ns);
  CHECK(*parse_duration("2m") == 120s);
  CHECK(*parse_duration("0") == 0ns);
  CHECK_FALSE(parse_duration("ms").ok());
  CHECK_FALSE(parse_duration("1 fortnight").ok());
  CHECK_FALSE(parse_duration("").ok());

  CHECK(format_duration(850ns) == "850 ns");
  CHECK(format_duration(12345ns) == "12.3 us");
  CHECK(format_duration(1200us) == "1.20 ms");
  CHECK(format_duration(2500ms) == "2.50 s");
  CHECK(format_duration(0ns) == "0 ns");
  CHECK(format_count(12345.6) == "12,346");
  CHECK(format_count(999) == "999");
  CHECK(format_count(1000000) == "1,000,000");
  CHECK(format_percent_change(100, 104.2) == "+4.2%");
  CHECK(format_percent_change(100, 99.5) == "-0.5%");
  CHECK(microseconds_text(12345ns) == "12.345");
}

}  // namespace
}  // namespace sandpool::sizing
