// The command line shared by the end-to-end benchmark programs:
// --seconds S, --rounds N and --label TEXT (the label names the run in the
// report, e.g. "unpinned" or "pinned: ..."). Bad input exits with status 2
// and the program's usage text; --help prints it and exits 0.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sandpool::bench {

struct run_settings {
  double seconds = 1.0;  // length of one timed run
  int rounds = 3;        // timed runs per figure; the report shows medians
  std::string label = "unlabelled";
};

// The server to measure against, SANDPOOL_TEST_DSN; unset, the program
// exits with status 2 and says how to set it.
inline std::string server_dsn(const char* program) {
  const char* dsn = std::getenv("SANDPOOL_TEST_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    std::fprintf(stderr,
                 "%s: SANDPOOL_TEST_DSN is not set; it names the PostgreSQL server to measure "
                 "against. Run under scripts/with-postgres (which starts a throwaway server and "
                 "sets it), or export it, e.g. "
                 "SANDPOOL_TEST_DSN='host=/run/postgresql dbname=postgres'\n",
                 program);
    std::exit(2);
  }
  return dsn;
}

// `usage` is printed after the error; it should start with "usage: ".
inline run_settings parse_run_settings(int argc, char** argv, const char* program,
                                       const char* usage, run_settings defaults) {
  auto usage_error = [&](const std::string& why) {
    std::fprintf(stderr, "%s: %s\n%s", program, why.c_str(), usage);
    std::exit(2);
  };
  run_settings s = std::move(defaults);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("missing value after " + arg);
    const std::string value = argv[++i];
    if (arg == "--seconds") {
      s.seconds = std::atof(value.c_str());
      if (!(s.seconds > 0)) usage_error("--seconds must be > 0, got " + value);
    } else if (arg == "--rounds") {
      s.rounds = std::atoi(value.c_str());
      if (s.rounds < 1) usage_error("--rounds must be >= 1, got " + value);
    } else if (arg == "--label") {
      s.label = value;
    } else {
      usage_error("unknown argument " + arg);
    }
  }
  return s;
}

}  // namespace sandpool::bench
