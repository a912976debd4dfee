// The text report of a sizing run (see run_report.hpp).
#include "run_report.hpp"

#include <algorithm>

#include "repeats.hpp"
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
         "warm): ";
  if (d.repeats > 1) {
    const double n = d.repeats;
    out += std::to_string(d.repeats) + " repeats in rounds across the sizes, each a fresh pool "
           "with " + format_seconds(d.warmup / n) + " warm-up, then " +
           format_seconds(d.seconds / n) + " measured (" + format_seconds(d.seconds) +
           " measured per size); figures are the repeats' medians";
  } else {
    out += format_seconds(d.warmup) + " warm-up, then " + format_seconds(d.seconds) +
           " measured";
  }
  out += "; checkout_timeout " + format_duration(d.checkout_timeout) + "\n";
  return out;
}

namespace {

// "58,100–63,900": the lowest and highest repeat.
template <class T, class F>
std::string min_max(const spread<T>& s, F format) {
  return format(s.low) + "\u2013" + format(s.high);
}

}  // namespace

std::string results_table(const std::vector<size_result>& rows, const recommendation& r,
                          const std::vector<rule_of_thumb>& rules, output_format f) {
  const bool repeated = std::any_of(rows.begin(), rows.end(), [](const size_result& s) {
    return s.throughput_repeats.size() > 1;
  });
  text_table t;
  t.headers = {"size", "ops/s"};
  if (repeated) t.headers.push_back("ops/s min\u2013max");
  t.headers.insert(t.headers.end(), {"wait p50", "wait p95", "wait p99"});
  if (repeated) t.headers.push_back("wait p99 min\u2013max");
  t.headers.push_back("query p99");
  if (repeated) t.headers.push_back("query p99 min\u2013max");
  t.headers.insert(t.headers.end(), {"high-water", "timeouts", "drops", "note"});
  t.aligns.assign(t.headers.size() - 1, align::right);
  t.aligns.push_back(align::left);

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
    std::vector<std::string> cells = {std::to_string(s.size), format_count(s.throughput)};
    if (repeated) cells.push_back(min_max(throughput_spread(s), format_count));
    cells.insert(cells.end(), {format_duration(s.wait_p50), format_duration(s.wait_p95),
                               format_duration(s.wait_p99)});
    if (repeated) cells.push_back(min_max(wait_p99_spread(s), format_duration));
    cells.push_back(format_duration(s.query_p99));
    if (repeated) cells.push_back(min_max(query_p99_spread(s), format_duration));
    cells.insert(cells.end(), {std::to_string(s.high_water), std::to_string(s.timeouts),
                               std::to_string(s.drops), note});
    t.rows.push_back(std::move(cells));
  }
  return render(t, f);
}

std::string closing_text(const std::vector<std::string>& lines, output_format f) {
  std::string out;
  for (const std::string& l : lines) out += (f == output_format::markdown ? "- " : "") + l + "\n";
  return out;
}

}  // namespace sandpool::sizing
