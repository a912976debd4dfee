// Picking a pool size from measurements (see recommend.hpp).
#include "recommend.hpp"

#include <algorithm>

#include "repeats.hpp"
#include "units.hpp"

namespace sandpool::sizing {
namespace {

const size_result* find_size(const std::vector<size_result>& rows, std::size_t size) {
  for (const size_result& r : rows)
    if (r.size == size) return &r;
  return nullptr;
}

std::string signed_duration(std::chrono::nanoseconds d) {
  std::string out = d.count() >= 0 ? "+" : "";
  return out.append(format_duration(d));
}

}  // namespace

recommendation recommend(const std::vector<size_result>& rows, double margin_percent,
                         std::chrono::nanoseconds wait_target, std::size_t concurrency) {
  recommendation out;
  if (rows.empty()) return out;
  std::vector<size_result> by_size = rows;
  std::sort(by_size.begin(), by_size.end(),
            [](const size_result& a, const size_result& b) { return a.size < b.size; });

  // Sizes the callers can never fill count as one.
  const auto first_full = std::find_if(by_size.begin(), by_size.end(), [&](const size_result& r) {
    return concurrency > 0 && r.size >= concurrency;
  });
  if (std::distance(first_full, by_size.end()) > 1) {
    // Their repeats are repeats of one pool, so they pool: the median of
    // all of them. The wait is the worst member's, with its own spread.
    size_result group = *first_full;
    std::vector<double> throughputs;
    const size_result* slowest = &*first_full;
    for (auto it = first_full; it != by_size.end(); ++it) {
      out.grouped.push_back(it->size);
      if (it->throughput_repeats.empty()) {
        throughputs.push_back(it->throughput);
      } else {
        throughputs.insert(throughputs.end(), it->throughput_repeats.begin(),
                           it->throughput_repeats.end());
      }
      if (it->wait_p99 > slowest->wait_p99) slowest = &*it;
      if (it != first_full) {
        group.timeouts += it->timeouts;
        group.drops += it->drops;
      }
    }
    group.throughput = median_of(throughputs);
    if (std::any_of(first_full, by_size.end(),
                    [](const size_result& r) { return !r.throughput_repeats.empty(); }))
      group.throughput_repeats = std::move(throughputs);
    group.wait_p99 = slowest->wait_p99;
    group.wait_p99_repeats = slowest->wait_p99_repeats;
    by_size.erase(first_full, by_size.end());
    by_size.push_back(group);
  }
  out.considered = by_size;

  const size_result* best = &by_size.front();
  const size_result* calmest = &by_size.front();
  for (const size_result& r : by_size) {
    if (r.throughput > best->throughput) best = &r;
    if (r.wait_p99 < calmest->wait_p99) calmest = &r;
  }
  out.best_size = best->size;
  out.best_throughput = best->throughput;
  out.lowest_wait_size = calmest->size;

  const double floor = best->throughput * (1.0 - margin_percent / 100.0);
  for (const size_result& r : by_size) {
    if (r.throughput >= floor && r.wait_p99 <= wait_target && r.timeouts == 0 && r.drops == 0) {
      out.size = r.size;
      break;
    }
  }
  return out;
}

std::size_t reference_size(const recommendation& r) { return r.size ? *r.size : r.best_size; }

std::vector<std::string> recommendation_lines(const std::vector<size_result>& rows,
                                              const recommendation& r,
                                              const std::vector<rule_of_thumb>& rules,
                                              double margin_percent,
                                              std::chrono::nanoseconds wait_target,
                                              std::size_t cap, bool cap_is_server_limit) {
  std::vector<std::string> lines;
  if (rows.empty()) {
    lines.push_back("recommended pool size: none (nothing was measured)");
    return lines;
  }
  const std::vector<size_result>& considered = r.considered.empty() ? rows : r.considered;
  const size_result& best = *find_size(considered, r.best_size);
  const std::string best_text = format_count(best.throughput) + " ops/s at size " +
                                std::to_string(best.size);
  if (r.size) {
    const size_result& chosen = *find_size(considered, *r.size);
    const std::string throughput =
        chosen.size == best.size
            ? "the best throughput, " + best_text
            : "the smallest within " + format_percent(margin_percent) + " of the best throughput (" +
                  best_text + "): " + format_count(chosen.throughput) + " ops/s";
    lines.push_back("recommended pool size: " + std::to_string(*r.size) + " (" + throughput +
                    ", with p99 checkout wait " + format_duration(chosen.wait_p99) +
                    " <= " + format_duration(wait_target) + " and no timeouts or drops)");
  } else {
    const size_result& calmest = *find_size(considered, r.lowest_wait_size);
    lines.push_back(
        "recommended pool size: none met the target: no size within " +
        format_percent(margin_percent) + " of the best throughput had p99 checkout wait <= " +
        format_duration(wait_target) + " without timeouts or drops; best throughput: " +
        best_text + " (p99 wait " + format_duration(best.wait_p99) +
        "); lowest p99 wait: " + format_duration(calmest.wait_p99) + " at size " +
        std::to_string(calmest.size) + ". Raise --wait-target or --margin to choose among these "
        "sizes");
  }

  const std::size_t ref_size = reference_size(r);
  if (r.grouped.size() > 1) {
    const size_result& group = *find_size(considered, r.grouped.front());
    std::string list;
    for (std::size_t s : r.grouped) list += (list.empty() ? "" : ", ") + std::to_string(s);
    lines.push_back("sizes " + list + " are at or above the number of concurrent callers, so "
                    "their pools were never full and they differ only by noise: they count as "
                    "one, size " + std::to_string(group.size) + ", with the median throughput (" +
                    format_count(group.throughput) + " ops/s) and the worst p99 wait (" +
                    format_duration(group.wait_p99) + ")");
  }
  const size_result& ref = *find_size(considered, ref_size);
  const std::string versus = r.size ? "the recommended size " : "the best size ";
  for (const rule_of_thumb& rule : rules) {
    std::string line = rule.name + ": " + rule.formula + " -> ";
    if (rule.size == ref_size) {
      line += format_count(ref.throughput) + " ops/s, p99 wait " +
              format_duration(ref.wait_p99) + ": the " + (r.size ? "recommended" : "best") +
              " size itself";
    } else if (const size_result* at = find_size(rows, rule.size)) {
      line += format_count(at->throughput) + " ops/s (" +
              format_percent_change(ref.throughput, at->throughput) + "), p99 wait " +
              format_duration(at->wait_p99) + " (" +
              signed_duration(at->wait_p99 - ref.wait_p99) + ") vs " + versus +
              std::to_string(ref_size);
      if (at->size != ref_size) {
        const std::size_t more = at->size > ref_size ? at->size - ref_size : 0;
        const std::size_t fewer = at->size < ref_size ? ref_size - at->size : 0;
        line.append("; ").append(std::to_string(more + fewer));
        line.append(more ? " more connection" : " fewer connection");
        if (more + fewer != 1) line += 's';
      }
    } else if (rule.size > cap && cap_is_server_limit) {
      line += "not measured (more than the " + std::to_string(cap) +
              " connections the server can give now)";
    } else if (rule.size > cap) {
      line += "not measured (above the cap of " + std::to_string(cap) +
              " connections for sizes added automatically; add it with --sizes)";
    } else {
      line += "not measured";
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace sandpool::sizing
