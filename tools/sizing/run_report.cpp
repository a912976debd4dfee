// The text report of a sizing run (see run_report.hpp).
#include "run_report.hpp"

#include <algorithm>

#include "text_table.hpp"
#include "units.hpp"

namespace sandpool::sizing {

std::string header_text(const run_description& d, output_format f) {
  const std::string concurrency = std::to_string(d.threads * d.fibers);
  std::string out = "sandpool-size: workload " + d.workload + " on " + d.server + "\n";
  if (f == output_format::markdown) out += "\n";
  out += std::to_string(d.threads) + " thread" + (d.threads == 1 ? "" : "s") + " x " +
         std::to_string(d.fibers) + " fiber" + (d.fibers == 1 ? "" : "s") + " = " +
         concurrency + " concurrent callers; per pool size (max_size = min_idle = size, "
         "warm): " + format_seconds(d.warmup) + " warm-up, then " + format_seconds(d.seconds) +
         " measured; checkout_timeout " + format_duration(d.checkout_timeout) + "\n";
  return out;
}

std::string results_table(const std::vector<size_result>& rows, const recommendation& r,
                          const std::vector<rule_of_thumb>& rules, output_format f) {
  text_table t;
  t.headers = {"size",      "ops/s",     "wait p50", "wait p95", "wait p99",
               "query p99", "high-water", "timeouts", "drops",    "note"};
  t.aligns = {align::right, align::right, align::right, align::right, align::right,
              align::right, align::right, align::right, align::right, align::left};
  std::vector<size_result> sorted = rows;
  std::sort(sorted.begin(), sorted.end(),
            [](const size_result& a, const size_result& b) { return a.size < b.size; });
  for (const size_result& s : sorted) {
    std::vector<std::string> notes;
    if (r.size && *r.size == s.size) notes.push_back("recommended");
    if (s.size == r.best_size) notes.push_back("best throughput");
    for (const rule_of_thumb& rule : rules)
      if (rule.size == s.size) notes.push_back(rule.name);
    std::string note;
    for (const std::string& n : notes) note += (note.empty() ? "" : ", ") + n;
    t.rows.push_back({std::to_string(s.size), format_count(s.throughput),
                      format_duration(s.wait_p50), format_duration(s.wait_p95),
                      format_duration(s.wait_p99), format_duration(s.query_p99),
                      std::to_string(s.high_water), std::to_string(s.timeouts),
                      std::to_string(s.drops), note});
  }
  return render(t, f);
}

std::string closing_text(const std::vector<std::string>& lines, output_format f) {
  std::string out;
  for (const std::string& l : lines) out += (f == output_format::markdown ? "- " : "") + l + "\n";
  return out;
}

}  // namespace sandpool::sizing
