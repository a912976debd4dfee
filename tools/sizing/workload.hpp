// What the callers of a run do, one iteration at a time: the built-in
// workloads (select-1, rw, sandbox) and a user's script. Each iteration
// reports three instants: when it asked for a connection, when it got one
// and when it was done with it, so the runner can tell checkout wait from
// the work itself. It owns the rule that a workload cleans up after itself:
// what prepare() creates (a table whose name holds the process id), cleanup()
// drops, also after a failed run.
//
// Thread safety: prepare, configure and cleanup run on the main thread;
// iterate runs concurrently on every caller, each with its own caller_state.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "args.hpp"
#include "sandpool/sandpool.hpp"

namespace sandpool::sizing {

using steady = std::chrono::steady_clock;

// Called after each statement while the connection is still held: lets the
// other fibers of the thread run, as a fiber-based server does between
// queries (libpq itself blocks the thread for the length of a query, so
// without it the fibers of a thread would never hold two connections at
// once). It yields only when `c` is outside a transaction: a fiber that
// yielded holding row locks could be waited for by another fiber of its own
// thread, whose blocked query would stop the thread for good. A no-op for a
// thread without other fibers.
void between_statements(pq::connection& c);

// Per caller, never shared.
struct caller_state {
  int id = 0;               // unique within the run
  std::minstd_rand rng;     // seeded from id
  std::string scratch;      // reused parameter text
};

// One iteration's instants. `granted` is unset when the checkout failed.
struct iteration {
  steady::time_point requested{};
  std::optional<steady::time_point> granted;
  steady::time_point done{};
};

class workload {
 public:
  virtual ~workload() = default;

  // For the report: "select-1", "script bench.sql (3 statements)".
  [[nodiscard]] virtual std::string description() const = 0;

  // Before the sweep, on a plain connection: creates what iterations use.
  [[nodiscard]] virtual absl::Status prepare(pq::connection&) { return absl::OkStatus(); }

  // After the sweep, or after it failed: drops what prepare() created.
  virtual void cleanup(pq::connection&) noexcept {}

  // A fresh pool was made for one size: sets its mode, installs decorators.
  [[nodiscard]] virtual absl::Status configure(pool&) { return absl::OkStatus(); }

  // One iteration. A failed checkout returns its error with it.granted
  // unset; any other error has it set.
  [[nodiscard]] virtual absl::Status iterate(pool& p, caller_state& me, iteration& it) = 0;
};

// The workload of a run. `script` holds the statements for workload_kind::script.
[[nodiscard]] std::unique_ptr<workload> make_workload(workload_kind kind,
                                                      const std::string& script_path,
                                                      std::vector<std::string> script);

// The sandboxed-test simulation (sandbox_workload.cpp).
[[nodiscard]] std::unique_ptr<workload> make_sandbox_workload();

// A table name unique to this process: prefix + "_" + pid.
[[nodiscard]] std::string table_for_this_process(const std::string& prefix);

}  // namespace sandpool::sizing
