// sandpool-size: which pool size serves a workload best, measured; and what
// a real test suite asks of its pools. See usage_text() in args.cpp, or run
// `sandpool-size --help`.
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "args.hpp"
#include "run_command.hpp"
#include "suite_command.hpp"

int main(int argc, char** argv) {
  using namespace sandpool::sizing;
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_args(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "sandpool-size: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (std::holds_alternative<help_request>(*parsed)) {
    std::fputs(usage_text().c_str(), stdout);
    return 0;
  }
  if (const auto* suite = std::get_if<suite_args>(&*parsed)) return run_suite(*suite);
  return run_sizing(std::get<run_args>(*parsed));
}
