// The statement hook: a seam in pq::connection::exec() through which another
// layer (the test sandbox) runs the statements of the code it wraps. It owns
// one rule: a connection with no hook pays a single pointer test per exec()
// and nothing else, and a hook never re-enters exec() on its connection; it
// reaches the server through exec_direct() and exec_pipeline(), which are
// never hooked, so a hook cannot recurse into itself.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandpool/core/driver.hpp"
#include "sandpool/pq/result.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

class connection;

// A statement as exec() received it.
struct statement {
  std::string_view sql;
  // $1, $2, ... in text form; std::nullopt is SQL NULL.
  std::span<const std::optional<std::string_view>> params;
  // Sent with parameters (exec(sql, params), one statement, extended
  // protocol) rather than as text that may hold several statements.
  bool extended = false;
};

class statement_hook {
 public:
  virtual ~statement_hook() = default;
  // Runs `s` on behalf of `c`, in place of exec(). Returns what exec() would
  // return: the last statement's result or the error. Called by whoever is
  // using `c` (one thread at a time, like the connection itself).
  [[nodiscard]] virtual absl::StatusOr<result> run(connection& c, const statement& s) = 0;
  // What connection::transaction_status() reports while the hook is
  // installed, given the server's status: the state the hook presents to
  // the code it wraps (the sandbox: idle while that code has no transaction
  // block open, though the server is inside the sandbox's transaction).
  [[nodiscard]] virtual tx_status transaction_status(tx_status server) const noexcept {
    return server;
  }

 protected:
  statement_hook() = default;
  statement_hook(const statement_hook&) = default;
  statement_hook& operator=(const statement_hook&) = default;
};

}  // namespace sandpool::pq

#pragma GCC visibility pop
