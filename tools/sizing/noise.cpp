// Whether noise could flip the recommendation (see noise.hpp).
#include "noise.hpp"

#include <algorithm>
#include <cstdio>

#include "repeats.hpp"
#include "units.hpp"

namespace sandpool::sizing {
namespace {

using std::chrono::nanoseconds;

// One considered row, judged three ways: at its medians (as recommend()
// chose), at its worst within the likely ranges (sure) and at its best
// (maybe). For throughput, the best of the *other* sizes sets the margin's
// floor: if this size's throughput is low, so is its own best.
struct judged {
  std::size_t size = 0;
  spread<double> tp;
  spread<nanoseconds> wait;
  bool clean = false;  // no timeouts or drops
  // The other sizes that set the floor: the one with the highest likely
  // throughput (for sure) and the one with the highest lowest (for maybe).
  std::size_t rival_high = 0, rival_low = 0;
  bool tp_median = false, tp_sure = false, tp_maybe = false;
  bool wait_median = false, wait_sure = false, wait_maybe = false;

  [[nodiscard]] bool sure() const { return clean && tp_sure && wait_sure; }
  [[nodiscard]] bool maybe() const { return clean && tp_maybe && wait_maybe; }
};

std::vector<judged> judge(const std::vector<size_result>& rows, double margin_percent,
                          nanoseconds wait_target) {
  const double keep = 1.0 - margin_percent / 100.0;
  std::vector<judged> out;
  for (const size_result& r : rows)
    out.push_back({r.size, throughput_spread(r), wait_p99_spread(r),
                   r.timeouts == 0 && r.drops == 0});
  for (judged& j : out) {
    double best_median = j.tp.median, others_low = 0, others_high = 0;
    for (const judged& o : out) {
      best_median = std::max(best_median, o.tp.median);
      if (&o == &j) continue;
      if (o.tp.likely_low > others_low) {
        others_low = o.tp.likely_low;
        j.rival_low = o.size;
      }
      if (o.tp.likely_high > others_high) {
        others_high = o.tp.likely_high;
        j.rival_high = o.size;
      }
    }
    j.tp_median = j.tp.median >= best_median * keep;
    j.tp_sure = j.tp.likely_low >= others_high * keep;
    j.tp_maybe = j.tp.likely_high >= others_low * keep;
    j.wait_median = j.wait.median <= wait_target;
    j.wait_sure = j.wait.likely_high <= wait_target;
    j.wait_maybe = j.wait.likely_low <= wait_target;
  }
  std::sort(out.begin(), out.end(),
            [](const judged& a, const judged& b) { return a.size < b.size; });
  return out;
}

const judged& find(const std::vector<judged>& all, std::size_t size) {
  return *std::find_if(all.begin(), all.end(), [&](const judged& j) { return j.size == size; });
}

template <class T, class F>
std::string range_text(const spread<T>& s, F format) {
  if (s.likely_low == s.likely_high) return format(s.likely_low);
  return format(s.likely_low) + "\u2013" + format(s.likely_high);
}

std::string ranges(const judged& j) {
  return range_text(j.tp, format_count) + " ops/s, p99 wait " +
         range_text(j.wait, format_duration);
}

std::string figures(const judged& j) { return "size " + std::to_string(j.size) + ": " + ranges(j); }

std::string doubt(const flip_risk& f, bool reaching, double margin_percent,
                  nanoseconds wait_target) {
  const std::string margin = format_percent(margin_percent);
  const std::string target = format_duration(wait_target);
  std::string tp = reaching ? "be within " + margin + " of the best throughput"
                            : "fall more than " + margin + " below the best throughput";
  std::string wait = reaching ? "meet the " + target + " p99 wait target"
                              : "miss the " + target + " p99 wait target";
  if (f.throughput && f.wait) return tp + (reaching ? " and " : " or ") + wait;
  return f.throughput ? tp : wait;
}

// 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, ...
std::string ordinal(std::size_t n) {
  const std::size_t tens = n % 100, ones = n % 10;
  const char* suffix = tens >= 11 && tens <= 13 ? "th"
                       : ones == 1              ? "st"
                       : ones == 2              ? "nd"
                       : ones == 3              ? "rd"
                                                : "th";
  return std::to_string(n) + suffix;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::vector<flip_risk> flip_risks(const recommendation& r, double margin_percent,
                                  nanoseconds wait_target) {
  std::vector<flip_risk> out;
  const std::vector<judged> all = judge(r.considered, margin_percent, wait_target);
  if (!r.size) {
    for (const judged& j : all)
      if (j.maybe())
        out.push_back({flip_kind::none_may_qualify, j.size, std::nullopt, !j.tp_median,
                       !j.wait_median});
    return out;
  }
  for (auto j = all.rbegin(); j != all.rend(); ++j)
    if (j->size < *r.size && j->maybe())
      out.push_back({flip_kind::smaller_may_qualify, j->size, *r.size, !j->tp_median,
                     !j->wait_median});
  const judged& chosen = find(all, *r.size);
  if (!chosen.sure()) {
    flip_risk miss{flip_kind::chosen_may_miss, chosen.size, std::nullopt, !chosen.tp_sure,
                   !chosen.wait_sure};
    for (const judged& j : all)
      if (j.size > chosen.size && j.maybe()) {
        miss.other = j.size;
        break;
      }
    out.push_back(miss);
  }
  return out;
}

std::vector<std::string> noise_lines(const recommendation& r, double margin_percent,
                                     nanoseconds wait_target, int repeats, double seconds) {
  std::vector<std::string> lines;
  if (r.considered.empty()) return lines;
  if (repeats <= 1) {
    lines.push_back("noise: not judged, each size was measured once (--repeats 1); give "
                    "--repeats 3 or more to see the spread and whether noise could flip the "
                    "recommendation");
    return lines;
  }
  const std::string per_size = std::to_string(repeats) + " repeats per size";
  const std::vector<flip_risk> risks = flip_risks(r, margin_percent, wait_target);
  if (risks.empty()) {
    lines.push_back(r.size ? "noise: cannot flip the recommendation: across the spread of " +
                                 per_size + ", size " + std::to_string(*r.size) +
                                 " meets every condition and no smaller size does"
                           : "noise: cannot flip the outcome: across the spread of " +
                                 per_size + ", no size meets every condition");
    return lines;
  }

  const std::vector<judged> all = judge(r.considered, margin_percent, wait_target);
  for (const flip_risk& f : risks) {
    const judged& one = find(all, f.size);
    std::string line = "warning: noise could flip the ";
    std::vector<const judged*> named = {&one};
    switch (f.kind) {
      case flip_kind::smaller_may_qualify:
        line += "recommendation from " + std::to_string(*f.other) + " to " +
                std::to_string(f.size) + ": size " + std::to_string(f.size) + " may also " +
                doubt(f, true, margin_percent, wait_target) +
                ", and being smaller it would be recommended";
        named.push_back(&find(all, *f.other));
        break;
      case flip_kind::chosen_may_miss:
        line += "recommendation from " + std::to_string(f.size) + " to " +
                (f.other ? std::to_string(*f.other) : "none") + ": size " +
                std::to_string(f.size) + " may " + doubt(f, false, margin_percent, wait_target) +
                (f.other ? ", and size " + std::to_string(*f.other) + " would be recommended"
                         : ", and no size would meet every condition");
        if (f.other) named.push_back(&find(all, *f.other));
        break;
      case flip_kind::none_may_qualify:
        line += "outcome from none to " + std::to_string(f.size) + ": size " +
                std::to_string(f.size) + " may " + doubt(f, true, margin_percent, wait_target);
        break;
    }
    line += " (";
    for (const judged* j : named) line += (j == named.front() ? "" : "; ") + figures(*j);
    // The size whose throughput sets the margin's floor, when that is in
    // doubt: the best one a smaller size may reach, or the one that may
    // outrun the recommended size.
    const bool missing = f.kind == flip_kind::chosen_may_miss;
    const std::size_t rival = missing ? one.rival_high : one.rival_low;
    const auto named_already = [&](std::size_t size) {
      return std::any_of(named.begin(), named.end(),
                         [&](const judged* j) { return j->size == size; });
    };
    if (f.throughput && rival != 0 && !named_already(rival)) {
      const judged& by = find(all, rival);
      line += missing ? "; the best throughput may be size " + std::to_string(rival) + "'s: " +
                            ranges(by)
                      : "; best throughput at " + figures(by);
    }
    lines.push_back(line + ")");
  }

  const auto order_range = [](std::size_t n, const std::string& of) {
    const std::size_t lo = likely_range_ranks(n).first;
    return lo == 1 ? "the lowest to highest of " + of
                   : "the " + ordinal(lo) + " lowest to " + ordinal(lo) + " highest of " + of;
  };
  const auto n = static_cast<std::size_t>(repeats);
  std::string what = order_range(n, per_size);
  if (likely_range_ranks(n).first > 1)
    what += ", where each median lies with at least 75% confidence";
  if (r.grouped.size() > 1) {
    std::string list;
    for (std::size_t g : r.grouped) list += (list.empty() ? "" : ", ") + std::to_string(g);
    what += " (sizes " + list + ", counted as one, pool their throughput: " +
            order_range(n * r.grouped.size(), std::to_string(n * r.grouped.size())) + ")";
  }
  const std::string longer = number(std::min(3 * seconds, 86400.0));
  lines.push_back("noise: the ranges are " + what + "; to narrow them, measure 3x longer: "
                  "--seconds " + longer + " (longer repeats) or --seconds " + longer +
                  " --repeats " + std::to_string(3 * repeats) + " (more repeats)");
  return lines;
}

}  // namespace sandpool::sizing
