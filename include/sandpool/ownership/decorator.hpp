// A decorator over explicit checkout and checkin: the hook the sandbox uses
// to wrap an owned connection in a transaction. The ownership layer stays
// SQL-free; a decorator for a given driver's connection does the SQL.
#pragma once

#include "absl/status/status.h"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

// Options of one explicit checkout.
struct checkout_options {
  // Wrap the connection in the decorator's transaction (the sandbox). Off:
  // real commits (pair it with a cleanup strategy).
  bool sandbox = true;
};

template <class Connection>
class checkout_decorator {
 public:
  virtual ~checkout_decorator() = default;
  // After an owner checked `c` out. An error fails the checkout and the
  // connection goes back to the pool (rolled back if it is dirty).
  [[nodiscard]] virtual absl::Status on_checkout(Connection& c, const checkout_options& o) = 0;
  // Before an explicit checkin. An error is returned by checkin(); the
  // connection is returned (and rolled back) either way.
  [[nodiscard]] virtual absl::Status on_checkin(Connection& c) = 0;
  // When the connection leaves its owner for any reason (checkin, owner
  // exit, timeout, mode switch): undo per-owner state without I/O.
  virtual void on_release(Connection& c) noexcept = 0;
};

}  // namespace sandpool

#pragma GCC visibility pop
