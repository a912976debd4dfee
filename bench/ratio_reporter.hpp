// A Google Benchmark reporter that keeps every run's time per iteration so
// the program can print ratios between pools measured in the same run (the
// machine is noisy; only same-run ratios mean anything).
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace sandpool::bench {

class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.run_type == Run::RT_Iteration && !r.error_occurred)
        ns_[r.benchmark_name()] = r.GetAdjustedRealTime();  // time unit is ns
    ConsoleReporter::ReportRuns(runs);
  }
  // ns per iteration of the named run, or a negative value if it did not run.
  double ns(const std::string& name) const {
    auto it = ns_.find(name);
    return it == ns_.end() ? -1.0 : it->second;
  }

 private:
  std::map<std::string, double> ns_;
};

}  // namespace sandpool::bench
