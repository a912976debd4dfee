// An in-memory driver for unit tests and micro-benchmarks. A fake server
// holds the shared state (which connections are open, which were "killed",
// how many connects to fail) and counts every driver call, so tests assert
// what the pool did without a database. Connections carry a settable
// transaction status to model dirty and broken returns.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "sandpool/core/driver.hpp"
#include "sandpool/core/statement_gate.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::fake {

struct server {
  std::mutex mutex;
  int next_id = 1;
  std::set<int> open;    // ids of open connections
  std::set<int> killed;  // ids whose "backend" was terminated
  int fail_connects = 0; // the next N connects fail
  bool down = false;     // every connect fails while set
  // What a failing connect returns (transient by default).
  absl::Status connect_error = absl::UnavailableError("fake server refused the connection");
  int connects = 0, closes = 0, validations = 0, resets = 0, cancels = 0;
  // Run inside connect() / validate(), e.g. to advance a manual clock
  // (latency), yield, or act while the pool waits on the driver.
  std::function<void()> on_connect;
  std::function<void()> on_validate;

  // Marks an open connection's backend dead: validate and reset then fail.
  void kill(int id) {
    std::lock_guard lk(mutex);
    killed.insert(id);
  }
  int open_count() {
    std::lock_guard lk(mutex);
    return static_cast<int>(open.size());
  }
};

// A test runs a "statement" by passing the gate: gate_pass p(c.gate()).
struct connection_state {
  int id = 0;
  tx_status status = tx_status::idle;  // what the next checkin will see
  statement_gate gate_{};
  statement_gate& gate() noexcept { return gate_; }
};

class driver {
 public:
  using connection = connection_state;

  explicit driver(std::shared_ptr<fake::server> server = std::make_shared<fake::server>())
      : server_(std::move(server)) {}

  absl::StatusOr<connection> connect() {
    if (server_->on_connect) server_->on_connect();
    std::lock_guard lk(server_->mutex);
    if (server_->down || server_->fail_connects > 0) {
      if (server_->fail_connects > 0) --server_->fail_connects;
      return server_->connect_error;
    }
    ++server_->connects;
    const int id = server_->next_id++;
    server_->open.insert(id);
    return connection{id};
  }
  absl::Status validate(connection& c) {
    if (server_->on_validate) server_->on_validate();
    std::lock_guard lk(server_->mutex);
    ++server_->validations;
    if (server_->killed.contains(c.id))
      return absl::UnavailableError(absl::StrCat("fake connection ", c.id, " was terminated"));
    return absl::OkStatus();
  }
  absl::Status reset(connection& c) {
    std::lock_guard lk(server_->mutex);
    ++server_->resets;
    if (server_->killed.contains(c.id) || c.status == tx_status::broken)
      return absl::UnavailableError(absl::StrCat("fake connection ", c.id, " is broken"));
    c.status = tx_status::idle;
    return absl::OkStatus();
  }
  void close(connection& c) noexcept {
    std::lock_guard lk(server_->mutex);
    ++server_->closes;
    server_->open.erase(c.id);
  }
  absl::Status cancel(connection&) {
    std::lock_guard lk(server_->mutex);
    ++server_->cancels;
    return absl::OkStatus();
  }
  tx_status transaction_status(const connection& c) const noexcept { return c.status; }
  std::string describe() const { return "fake server"; }

  fake::server& server() const noexcept { return *server_; }

 private:
  std::shared_ptr<fake::server> server_;
};

static_assert(sandpool::driver<driver>);

}  // namespace sandpool::fake

#pragma GCC visibility pop
