// Aggregating activity files into per-pool and per-test usage (see
// suite_usage.hpp).
#include "suite_usage.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace sandpool::sizing {
namespace {

using std::chrono::nanoseconds;

void add_intervals(const activity_file& f, std::vector<interval>& holds,
                   std::vector<interval>& demand) {
  for (const checkout_record& r : f.records) {
    demand.push_back({r.requested_ns, r.released_ns});
    if (r.outcome == checkout_outcome::ok) holds.push_back({r.granted_ns, r.released_ns});
  }
}

instance_usage instance_of(const activity_file& f) {
  instance_usage u;
  u.path = f.path;
  u.pid = f.pid;
  u.max_size = f.max_size;
  std::vector<interval> holds, demand;
  add_intervals(f, holds, demand);
  u.high_water = peak_overlap(std::move(holds));
  u.peak_demand = peak_overlap(std::move(demand));
  for (const checkout_record& r : f.records) {
    ++u.checkouts;
    u.timeouts += r.outcome == checkout_outcome::timeout;
    u.dropped += r.outcome == checkout_outcome::dropped;
    u.failed += r.outcome == checkout_outcome::failed;
  }
  return u;
}

void count_test(test_usage& t, const checkout_record& r) {
  ++t.checkouts;
  const nanoseconds wait(r.granted_ns - r.requested_ns);
  t.wait_total += wait;
  t.wait_max = std::max(t.wait_max, wait);
  if (r.outcome != checkout_outcome::ok) {
    ++t.failed;
    return;
  }
  const nanoseconds hold(r.released_ns - r.granted_ns);
  t.hold_total += hold;
  t.hold_max = std::max(t.hold_max, hold);
}

}  // namespace

std::size_t peak_overlap(std::vector<interval> intervals) {
  // +1 at each begin, -1 at each end; at equal times ends come first, so
  // touching intervals do not overlap.
  std::vector<std::pair<std::int64_t, int>> events;
  events.reserve(intervals.size() * 2);
  for (const interval& i : intervals) {
    if (i.end <= i.begin) continue;
    events.emplace_back(i.begin, +1);
    events.emplace_back(i.end, -1);
  }
  std::sort(events.begin(), events.end());
  std::size_t now = 0, peak = 0;
  for (const auto& [time, delta] : events) {
    (void)time;
    if (delta > 0) peak = std::max(peak, ++now);
    else --now;
  }
  return peak;
}

suite_usage aggregate(const std::vector<activity_file>& files) {
  suite_usage out;
  out.files = files.size();
  std::map<std::string, std::vector<const activity_file*>> by_name;
  std::set<std::int64_t> all_pids;
  std::vector<interval> all_holds, all_demand;
  for (const activity_file& f : files) {
    by_name[f.pool].push_back(&f);
    all_pids.insert(f.pid);
    add_intervals(f, all_holds, all_demand);
  }
  out.processes = all_pids.size();
  out.combined_high_water = peak_overlap(std::move(all_holds));
  out.combined_peak_demand = peak_overlap(std::move(all_demand));

  for (auto& [name, group] : by_name) {
    pool_usage p;
    p.pool = name;
    std::sort(group.begin(), group.end(),
              [](const activity_file* a, const activity_file* b) { return a->path < b->path; });
    std::set<std::int64_t> pids;
    std::vector<interval> holds, demand;
    std::map<std::string, test_usage> tests;
    for (const activity_file* f : group) {
      instance_usage u = instance_of(*f);
      pids.insert(f->pid);
      p.max_size = std::max(p.max_size, u.max_size);
      p.instance_high_water = std::max(p.instance_high_water, u.high_water);
      p.instance_peak_demand = std::max(p.instance_peak_demand, u.peak_demand);
      p.checkouts += u.checkouts;
      p.failed += u.timeouts + u.dropped + u.failed;
      p.instances.push_back(std::move(u));
      add_intervals(*f, holds, demand);
      for (const checkout_record& r : f->records) {
        test_usage& t = tests[r.test];
        t.test = r.test;
        count_test(t, r);
      }
    }
    p.processes = pids.size();
    p.combined_high_water = peak_overlap(std::move(holds));
    p.combined_peak_demand = peak_overlap(std::move(demand));
    for (auto& [label, t] : tests) p.tests.push_back(std::move(t));
    std::stable_sort(p.tests.begin(), p.tests.end(), [](const test_usage& a, const test_usage& b) {
      return a.wait_total > b.wait_total;
    });
    out.pools.push_back(std::move(p));
  }
  return out;
}

}  // namespace sandpool::sizing
