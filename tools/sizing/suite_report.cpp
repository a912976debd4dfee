// Rendering the suite report (see suite_report.hpp).
#include "suite_report.hpp"

#include <filesystem>

#include "text_table.hpp"
#include "units.hpp"

namespace sandpool::sizing {
namespace {

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string label_text(const std::string& test) { return test == "-" ? "(outside tests)" : test; }

std::string tests_table(const pool_usage& p, output_format f) {
  text_table t;
  t.headers = {"test", "checkouts", "failed", "wait total", "wait max", "hold total", "hold max"};
  t.aligns = {align::left, align::right, align::right, align::right,
              align::right, align::right, align::right};
  for (const test_usage& u : p.tests) {
    t.rows.push_back({label_text(u.test), std::to_string(u.checkouts), std::to_string(u.failed),
                      format_duration(u.wait_total), format_duration(u.wait_max),
                      format_duration(u.hold_total), format_duration(u.hold_max)});
  }
  return render(t, f);
}

std::string instances_table(const pool_usage& p, output_format f) {
  text_table t;
  t.headers = {"pid",     "max_size", "checkouts",  "timeouts",    "dropped",
               "failed",  "high-water", "peak demand", "file"};
  t.aligns = {align::right, align::right, align::right, align::right, align::right,
              align::right, align::right, align::right, align::left};
  for (const instance_usage& u : p.instances) {
    t.rows.push_back({std::to_string(u.pid), std::to_string(u.max_size),
                      std::to_string(u.checkouts), std::to_string(u.timeouts),
                      std::to_string(u.dropped), std::to_string(u.failed),
                      std::to_string(u.high_water), std::to_string(u.peak_demand),
                      std::filesystem::path(u.path).filename().string()});
  }
  return render(t, f);
}

}  // namespace

std::string shell_words(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    if (!a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

std::string outcome_text(const suite_run& run) {
  if (run.exit_code > 128)
    return "`" + run.command + "` was killed by signal " + std::to_string(run.exit_code - 128);
  return "`" + run.command + "` exited with status " + std::to_string(run.exit_code);
}

std::string no_activity_message(const suite_run& run) {
  return outcome_text(run) + ", and no pool exported activity to " + run.dir +
         ". Was the program built against a sandpool with activity export "
         "(sandpool/core/activity.hpp), did it create a pool, and did the pool get destroyed "
         "before the process ended (a pool still alive at exit, or a crash, writes nothing)? "
         "A command that runs its tests elsewhere (ssh, a container) must pass "
         "SANDPOOL_METRICS_EXPORT on.";
}

std::string suite_report_text(const suite_usage& u, const suite_run& run,
                              const std::vector<std::string>& problems, output_format f) {
  const bool md = f == output_format::markdown;
  const std::string bullet = md ? "- " : "";
  std::string out = "sandpool-size suite: " + outcome_text(run) + "\n";
  if (md) out += "\n";
  out += "activity: " + plural(u.files, "file", "files") + " from " +
         plural(u.processes, "process", "processes") + " in " + run.dir +
         (run.dir_kept ? "" : " (removed afterwards)") + "\n";
  for (const std::string& p : problems) {
    if (md) out += '\n';
    out.append("left out: ").append(p).append("\n");
  }

  for (const pool_usage& p : u.pools) {
    out += "\n";
    out += (md ? "### " : "") + ("pool '" + p.pool + "'") + ": " +
           plural(p.instances.size(), "pool", "pools") + " in " +
           plural(p.processes, "process", "processes") + ", max_size " +
           std::to_string(p.max_size) + ", " + plural(p.checkouts, "checkout", "checkouts") +
           ", " + std::to_string(p.failed) + " failed\n\n";
    out += tests_table(p, f) + "\n";
    out += instances_table(p, f) + "\n";
    out += bullet + "high-water mark: " +
           plural(p.instance_high_water, "connection", "connections") +
           " in use at once in one pool (max_size " + std::to_string(p.max_size) + ")\n";
    std::string avoid = bullet + "pool size that would have avoided waiting: " +
                        std::to_string(p.instance_peak_demand) +
                        " (the most checkouts wanted at once in one pool";
    if (p.instance_peak_demand > p.max_size) {
      avoid += "; max_size " + std::to_string(p.max_size) + " made " +
               std::to_string(p.instance_peak_demand - p.max_size) + " of them wait";
    } else {
      avoid += "; max_size " + std::to_string(p.max_size) + " never made a checkout wait for a "
               "connection to be returned";
    }
    out += avoid + ")\n";
    if (p.instances.size() > 1) {
      out += bullet + "across its " + plural(p.instances.size(), "pool", "pools") + " at once: " +
             plural(p.combined_peak_demand, "connection", "connections") + " wanted, " +
             std::to_string(p.combined_high_water) + " held (the server connections pool '" +
             p.pool + "' needs when these processes run together)\n";
    }
  }
  if (u.pools.size() > 1) {
    out += "\n" + bullet + "all pools together: " +
           plural(u.combined_peak_demand, "connection", "connections") +
           " wanted at once, " + std::to_string(u.combined_high_water) +
           " held at once (the server connections the whole run needs)\n";
  }
  return out;
}

}  // namespace sandpool::sizing
