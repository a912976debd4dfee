// The select-1, rw and script workloads (see workload.hpp); the sandbox
// workload is in sandbox_workload.cpp.
#include <unistd.h>

#include <boost/fiber/operations.hpp>

#include "workload.hpp"

namespace sandpool::sizing {
namespace {

// Checks a status-or out, or returns its status from the enclosing function.
#define SIZING_TRY(expr)                         \
  do {                                           \
    if (auto sizing_s = (expr); !sizing_s.ok())  \
      return absl::Status(sizing_s.status());    \
  } while (false)

class select_one final : public workload {
 public:
  std::string description() const override { return "select-1"; }

  absl::Status iterate(pool& p, caller_state&, iteration& it) override {
    it.requested = steady::now();
    auto lease = p.checkout();
    if (!lease.ok()) return lease.status();
    it.granted = steady::now();
    SIZING_TRY((*lease)->exec("SELECT 1"));
    between_statements(**lease);
    (void)lease->checkin();
    it.done = steady::now();
    return absl::OkStatus();
  }
};

// A short read-write transaction on a small table of its own: four round
// trips, a row lock held from UPDATE to COMMIT, as a typical request does.
// The table has `rows` rows; ids are drawn uniformly, so with many callers
// two of them sometimes want the same row, as in real traffic.
class read_write final : public workload {
 public:
  static constexpr int rows = 1000;

  read_write() : table_(table_for_this_process("sandpool_size_rw")) {}

  std::string description() const override {
    return "rw (BEGIN; UPDATE one of " + std::to_string(rows) + " rows; SELECT it; COMMIT)";
  }

  absl::Status prepare(pq::connection& c) override {
    SIZING_TRY(c.exec("DROP TABLE IF EXISTS " + table_ + "; CREATE TABLE " + table_ +
                      " (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0); INSERT INTO " +
                      table_ + " (id) SELECT generate_series(1, " + std::to_string(rows) +
                      ")"));
    return absl::OkStatus();
  }

  void cleanup(pq::connection& c) noexcept override {
    (void)c.exec("DROP TABLE IF EXISTS " + table_);
  }

  absl::Status iterate(pool& p, caller_state& me, iteration& it) override {
    me.scratch = std::to_string(me.rng() % rows + 1);
    const pq::connection::param id = me.scratch;
    it.requested = steady::now();
    auto lease = p.checkout();
    if (!lease.ok()) return lease.status();
    it.granted = steady::now();
    pq::connection& c = **lease;
    SIZING_TRY(c.exec("BEGIN"));
    SIZING_TRY(c.exec(update_, {id}));
    SIZING_TRY(c.exec(select_, {id}));
    SIZING_TRY(c.exec("COMMIT"));
    between_statements(c);
    (void)lease->checkin();
    it.done = steady::now();
    return absl::OkStatus();
  }

 private:
  std::string table_;
  std::string update_ = "UPDATE " + table_ + " SET n = n + 1 WHERE id = $1";
  std::string select_ = "SELECT n FROM " + table_ + " WHERE id = $1";
};

// The user's statements, in order, on one connection per iteration.
class script final : public workload {
 public:
  script(std::string path, std::vector<std::string> statements)
      : path_(std::move(path)), statements_(std::move(statements)) {}

  std::string description() const override {
    return "script " + path_ + " (" + std::to_string(statements_.size()) +
           (statements_.size() == 1 ? " statement)" : " statements)");
  }

  absl::Status iterate(pool& p, caller_state&, iteration& it) override {
    it.requested = steady::now();
    auto lease = p.checkout();
    if (!lease.ok()) return lease.status();
    it.granted = steady::now();
    for (std::size_t i = 0; i < statements_.size(); ++i) {
      auto r = (*lease)->exec(statements_[i]);
      if (!r.ok()) {
        return absl::Status(r.status().code(),
                            "script " + path_ + " statement " + std::to_string(i + 1) + ": " +
                                std::string(r.status().message()) +
                                "; fix the script (it must run again and again on any "
                                "connection)");
      }
      between_statements(**lease);
    }
    (void)lease->checkin();
    it.done = steady::now();
    return absl::OkStatus();
  }

 private:
  std::string path_;
  std::vector<std::string> statements_;
};

}  // namespace

void between_statements(pq::connection& c) {
  if (c.transaction_status() == tx_status::idle) boost::this_fiber::yield();
}

std::string table_for_this_process(const std::string& prefix) {
  return prefix + "_" + std::to_string(::getpid());
}

std::unique_ptr<workload> make_workload(workload_kind kind, const std::string& script_path,
                                        std::vector<std::string> statements) {
  switch (kind) {
    case workload_kind::select_1: return std::make_unique<select_one>();
    case workload_kind::rw: return std::make_unique<read_write>();
    case workload_kind::sandbox: return make_sandbox_workload();
    case workload_kind::script:
      return std::make_unique<script>(script_path, std::move(statements));
  }
  return nullptr;
}

}  // namespace sandpool::sizing
