// The sandbox gateway: a PostgreSQL wire-protocol (3.0) endpoint, run by the
// test process, whose sessions run on a test's sandboxed connection. Any
// client (psql, pgbench, libpq, libpqxx, psycopg2, another process of the
// application) connects to it like to a server and joins the sandbox of the
// owner its connection string names; everything it writes is rolled back
// with the owner's sandbox.
//
// It owns these rules:
//  - a session names its owner with the owner's token (ownership().token())
//    in the startup parameter `options`: `options=-csandpool.token=<token>`
//    in a libpq connection string (or PGOPTIONS); conninfo() writes it. In
//    shared mode a session without a token joins the shared owner; in any
//    other mode it is refused with the unowned-caller error;
//  - every session is a caller on the owner's connection: sessions take
//    turns (FIFO, as the ownership layer grants them), a turn lasts one
//    Simple Query or one extended-protocol segment up to Sync, and a session
//    inside its own transaction block keeps the turn until it ends it; a
//    session that waits longer than turn_timeout gets the turn-timeout
//    error naming the holder, and goes on;
//  - a session sees a plain PostgreSQL session: the sandbox's translation
//    of transaction control, its own ReadyForQuery state (I/T/E), its own
//    prepared statements and portals (named per session on the shared
//    backend), the server's ParameterStatus values, ErrorResponse and
//    NoticeResponse with every field the server sent; SQL DEALLOCATE reaches
//    its protocol statements under its own names, DEALLOCATE ALL and CLOSE
//    ALL only its own statements and cursors;
//  - a client that dies never harms the owner's sandbox: its statement is
//    cancelled, its open work rolled back to where it began (its block's or
//    its statement's own savepoint) and its prepared statements and
//    cursors dropped;
//  - a revoked token, the owner's checkin or its ownership timeout end the
//    session with a FATAL ErrorResponse that says which;
//  - malformed input (a bad length, an unknown message, an oversized one,
//    another protocol version, replication) gets an ErrorResponse and a
//    closed session, never a crash or a hang.
// What differs from a plain server: COPY is refused with a clear error;
// settings (SET) are the owner's backend's, shared by all its sessions
// until checkin; statements of one extended-protocol segment outside a block
// are each their own implicit transaction, as are the statements before a
// BEGIN in one Simple Query string; FunctionCall is refused; temporary
// tables, advisory locks and LISTEN are the backend's, shared by the
// sandbox's sessions; SQL EXECUTE reaches only statements PREPAREd in SQL.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandpool/pool.hpp"

#pragma GCC visibility push(default)  // the public API: exported from libsandpool

namespace sandpool {

struct gateway_options {
  // Where the Unix socket (.s.PGSQL.<port>) is created; empty: a private
  // directory made with mkdtemp under $TMPDIR (or /tmp), mode 0700, removed
  // by stop().
  std::string socket_dir;
  // The port number in the socket's name; with tcp, the TCP port on
  // 127.0.0.1 (0 there: one the kernel picks).
  int port = 5432;
  bool tcp = false;
  // Limits, each refused with an error that names it when exceeded.
  std::size_t max_sessions = 64;            // sessions at once, all owners
  std::size_t max_sessions_per_owner = 32;  // sessions at once on one owner
  std::size_t max_message_bytes = std::size_t{64} << 20;
  // How long a session waits for its turn on the owner's connection.
  std::chrono::milliseconds turn_timeout{30000};
};

class gateway {
 public:
  // Starts listening; sessions run on threads of the gateway's own. pool
  // must outlive the gateway (stop it, or destroy it, first). Errors:
  // InvalidArgument for a bad option; the socket's (naming the path).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<gateway>> start(pool& p,
                                                                      gateway_options o = {});
  ~gateway();  // stop()
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Stops accepting, ends every session as a dying client's (cancel,
  // rollback) and waits for them; removes a directory it made. Idempotent.
  void stop() noexcept;

  // The directory holding the socket (libpq's host), and the port.
  [[nodiscard]] const std::string& socket_dir() const noexcept;
  [[nodiscard]] int port() const noexcept;
  // The TCP port on 127.0.0.1, 0 without options.tcp.
  [[nodiscard]] int tcp_port() const noexcept;
  // A libpq connection string for a session on the owner named by token
  // (empty: the shared owner): host, port, dbname, user and, with a token,
  // options=-csandpool.token=<token>.
  [[nodiscard]] std::string conninfo(std::string_view token = {}) const;
  // Sessions connected now.
  [[nodiscard]] std::size_t sessions() const;

  class state;  // shared with the session threads

 private:
  explicit gateway(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

}  // namespace sandpool

#pragma GCC visibility pop
