// sandpool-size's --script: statements split like psql does, and the
// errors for files that cannot be a workload, before anything connects.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "script.hpp"

namespace sandpool::sizing {
namespace {

namespace fs = std::filesystem;
using statements = std::vector<std::string>;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

TEST_CASE("statements end at semicolons outside quotes and comments, and may span lines") {
  CHECK(*parse_script("SELECT 1;", "s.sql") == statements{"SELECT 1"});
  CHECK(*parse_script("SELECT 1", "s.sql") == statements{"SELECT 1"});
  CHECK(*parse_script("-- a comment\nSELECT 1;\n\n/* another */ SELECT\n  2;\n", "s.sql") ==
        statements{"-- a comment\nSELECT 1", "/* another */ SELECT\n  2"});
  CHECK(*parse_script("SELECT ';'; SELECT $$;$$;", "s.sql") ==
        statements{"SELECT ';'", "SELECT $$;$$"});
  // A pgbench-style transaction.
  CHECK(*parse_script("BEGIN;\nUPDATE t SET n = n + 1 WHERE id = 1;\nEND;\n", "s.sql") ==
        statements{"BEGIN", "UPDATE t SET n = n + 1 WHERE id = 1", "END"});
}

TEST_CASE("a script with no statement is refused, naming the file") {
  for (const char* text : {"", "   \n", "-- only a comment\n", ";;"}) {
    auto r = parse_script(text, "empty.sql");
    REQUIRE_FALSE(r.ok());
    const std::string m(r.status().message());
    CHECK(contains(m, "script empty.sql holds no SQL statement"));
    CHECK(contains(m, "ending in ';'"));
  }
}

TEST_CASE("pgbench meta-commands are refused with the line and what to do") {
  auto r = parse_script("SELECT 1;\n  \\set aid random(1, 1000)\nSELECT :aid;", "bench.sql");
  REQUIRE_FALSE(r.ok());
  const std::string m(r.status().message());
  CHECK(contains(m, "script bench.sql line 2"));
  CHECK(contains(m, "meta-command \\set is not supported"));
  CHECK(contains(m, "plain SQL"));
}

TEST_CASE("an unreadable file or a directory is reported with its path") {
  auto missing = load_script("/nonexistent/sandpool/bench.sql");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  const std::string why(missing.status().message());
  CHECK(contains(why, "cannot read script /nonexistent/sandpool/bench.sql"));
  CHECK(contains(why, "No such file or directory"));

  auto dir = load_script(fs::temp_directory_path().string());
  REQUIRE_FALSE(dir.ok());
  CHECK(contains(std::string(dir.status().message()), "is a directory"));

  const fs::path file = fs::temp_directory_path() /
                        ("sandpool-size-script-" + std::to_string(::getpid()) + ".sql");
  std::ofstream(file) << "SELECT 1;\nSELECT 2;\n";
  auto ok = load_script(file.string());
  fs::remove(file);
  REQUIRE(ok.ok());
  CHECK(*ok == statements{"SELECT 1", "SELECT 2"});
}

}  // namespace
}  // namespace sandpool::sizing
