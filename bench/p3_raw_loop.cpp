// The raw libpq side of P3's comparisons with pgbench and PgBouncer: the
// same loop P3 measures sandpool against (one PGconn per thread, PQexec
// "SELECT 1", PQclear), pointed at any server or pooler. Connections are
// opened before the timed run, as pgbench excludes its connection time.
//
// Usage: p3_raw_loop --dsn CONNINFO --threads N --seconds S
// Prints one line: the queries per second of the whole run.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "p3_harness.hpp"
#include "p3_subjects.hpp"

namespace {

constexpr const char* usage =
    "usage: p3_raw_loop --dsn CONNINFO --threads N (>= 1) --seconds S (> 0)\n"
    "Runs PQexec(\"SELECT 1\") on N connections, one thread each, for S seconds and prints "
    "the queries per second.\n";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "p3_raw_loop: %s\n%s", why.c_str(), usage);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dsn;
  int threads = 0;
  double seconds = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (i + 1 >= argc) usage_error("missing value after " + arg);
    const std::string value = argv[++i];
    if (arg == "--dsn") {
      dsn = value;
    } else if (arg == "--threads") {
      threads = std::atoi(value.c_str());
    } else if (arg == "--seconds") {
      seconds = std::atof(value.c_str());
    } else {
      usage_error("unknown argument " + arg);
    }
  }
  if (dsn.empty()) usage_error("--dsn is required");
  if (threads < 1) usage_error("--threads must be >= 1");
  if (!(seconds > 0)) usage_error("--seconds must be > 0");

  auto raw = sandpool::bench::raw_libpq::open(dsn, threads);
  if (!raw.ok()) {
    std::fprintf(stderr, "p3_raw_loop: %s\n", raw.status().ToString().c_str());
    return 1;
  }
  const sandpool::bench::tally t =
      sandpool::bench::timed_run(threads, 1, std::chrono::duration<double>(seconds), *raw);
  if (!t.error.ok()) {
    std::fprintf(stderr, "p3_raw_loop: %s\n", t.error.ToString().c_str());
    return 1;
  }
  std::printf("%.0f\n", t.per_second());
  return 0;
}
