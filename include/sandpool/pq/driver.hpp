// The libpq driver: models sandpool::driver for PostgreSQL. It owns the
// connection settings, parsed and checked once by create() and immutable
// afterwards, so copies share them and any number of threads may use one
// driver (or its copies) at the same time. It never shows a password: every
// message names the server through describe().
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandpool/core/driver.hpp"
#include "sandpool/pq/connection.hpp"
#include "sandpool/pq/session_reset.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool::pq {

struct driver_options {
  // What a returned connection's session goes through before its next
  // lease (see session_reset.hpp).
  session_reset reset = session_reset::keep_prepared();
};

class driver {
 public:
  using connection = pq::connection;
  // sandpool::sandbox wraps these connections: a sandboxed checkout on a
  // pool without it installed is refused (see sandpool::sandboxable).
  static constexpr bool sandboxable = true;

  // Parses conninfo, in key=value form (`host=db port=5432 dbname=app`) or as
  // a URI (`postgresql://user@db:5432/app`), with libpq's parser. Adds
  // connect_timeout=10 unless conninfo or PGCONNECT_TIMEOUT sets one, so an
  // unreachable server fails in bounded time, and application_name=sandpool
  // unless one is set (as fallback_application_name, so PGAPPNAME still wins).
  // Errors: InvalidArgument for a malformed string, naming the string with
  // its password masked, libpq's reason, and how to write it.
  [[nodiscard]] static absl::StatusOr<driver> create(std::string conninfo,
                                                     driver_options options = {});

  // Opens a connection (blocks up to connect_timeout); with a custom
  // session reset, runs its statements once on it. Errors, each naming
  // the target, libpq's reason and the fix, with the SQLSTATE attached when
  // the server gave a known one:
  //   Unavailable       server unreachable, refusing, starting or stopping
  //   PermissionDenied  authentication failed (28P01, 28000)
  //   NotFound          the database does not exist (3D000)
  //   ResourceExhausted no free connection slots on the server (53300)
  //   InvalidArgument   a connection option has a bad value (e.g. port=abc),
  //                     or a custom session reset statement failed
  [[nodiscard]] absl::StatusOr<connection> connect() const;

  // Ok if c is alive: libpq says it is and an empty query makes a round trip.
  // Unavailable otherwise.
  [[nodiscard]] absl::Status validate(connection& c) const;

  // Rolls back an open or failed transaction and runs the session reset,
  // waiting for both (housekeeping calls it for connections returned inside
  // a transaction). One round trip; none if c is idle with nothing to reset.
  // Unavailable if c is lost, FailedPrecondition if a command is still in
  // flight, the statement's error if the reset fails.
  [[nodiscard]] absl::Status reset(connection& c) const;

  // Called by the pool as a lease returns c idle, on the returning caller's
  // thread: queues the session reset without waiting (connection::
  // send_reset) and returns the state to judge c by (broken if it could not
  // be sent). A connection inside a transaction is left to reset().
  [[nodiscard]] tx_status recycle(connection& c) const noexcept;

  // A copy of this driver whose connections send the server's notices to
  // `sink` (see connection::route_notices); the pool routes them to its
  // event hook this way.
  [[nodiscard]] driver with_notices(notice_sink sink) const;

  // The session reset this driver runs.
  [[nodiscard]] const session_reset& reset_policy() const noexcept;

  // Closes c. Never throws; waits for the server only to read the answer to
  // a session reset sent within the last second (at most 100 ms), so that a
  // proxy in between never hands that answer to its next client.
  void close(connection& c) const noexcept;

  // Asks the server to cancel the query running on c; see
  // connection::cancel(). Safe to call while another thread runs that query.
  [[nodiscard]] absl::Status cancel(connection& c) const;
  // The same; the cancelled query's error says `reason` (see
  // connection::cancel(reason)).
  [[nodiscard]] absl::Status cancel(connection& c, std::string reason) const;

  // c's transaction state, without I/O.
  [[nodiscard]] tx_status transaction_status(const connection& c) const noexcept;

  // `host=... port=... dbname=... user=...`, the target as configured (libpq's
  // defaults and PG* variables filled in), never with a password.
  [[nodiscard]] std::string describe() const;

 private:
  struct config;
  explicit driver(std::shared_ptr<const config> cfg) : config_(std::move(cfg)) {}

  // Whether c's session reset is due (see session_reset::always()).
  bool owed(const connection& c) const noexcept;

  std::shared_ptr<const config> config_;  // never null
};

}  // namespace sandpool::pq

#pragma GCC visibility pop
