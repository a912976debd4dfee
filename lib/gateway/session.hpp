// One client of the gateway: its startup, its messages and its emulated
// session. It owns the session's state: its prepared statements and portals
// (named on the backend per session), whether it holds a turn on the
// owner's connection, whether its statements of the current segment run
// under the gateway's savepoint (sandpool_tx, opened outside a block), and
// whether it skips messages until Sync after an error. Used by the
// session's own thread, except cancel() and client_gone(), which other
// threads call under lock_.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/backend.hpp"
#include "gateway/state.hpp"
#include "sandbox/sql_parser.hpp"
#include "sandpool/core/statement_gate.hpp"
#include "sandpool/gateway/wire.hpp"
#include "sandpool/pool.hpp"

namespace sandpool::gw {

class session {
 public:
  session(gateway::state& g, int fd) : g_(g), fd_(fd) {}
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // The thread's body: startup, then messages until the client leaves.
  void run();

  std::int32_t pid() const noexcept { return pid_; }
  std::int32_t key() const noexcept { return key_; }
  int fd() const noexcept { return fd_; }
  // Cancels the statement this session runs now, if any. Thread-safe.
  void cancel();
  // The client's socket closed: cancel what runs; the thread cleans up.
  void client_gone();
  // The watchdog has seen this client hang up (guarded by the gateway
  // state's lock): its socket is not watched again, so a hang-up is
  // reported once.
  bool hung_up = false;

 private:
  struct statement {
    std::string name;  // the client's
    std::string sql;
    std::vector<std::uint32_t> types;
    std::string server;    // the backend's name for it; empty: not prepared yet
    bool control = false;  // transaction control: run through the sandbox
    bool empty = false;    // no statement at all
  };
  struct portal {
    std::shared_ptr<statement> stmt;
    std::vector<std::optional<std::string>> values;
    std::vector<std::int16_t> formats;
    int result_format = 0;
    result_ptr result;  // executed; rows from `next` still to send
    int next = 0;
  };

  // Startup: false if the session ends.
  bool startup();
  bool read_packet(bool startup, std::string& packet);
  bool send_out();
  void fatal(std::string_view state, std::string_view message);

  // What the client sent after the message being handled, as far as it has
  // arrived: whether Sync comes next; whether Execute does, and Sync after it.
  struct following {
    bool sync = false, execute = false, sync_after_execute = false;
    std::string_view execute_portal;  // the next Execute's portal (into in_)
  };
  bool handle(const wire::message& m, following next);
  following following_messages() const;
  // Runs a portal that has not run yet; `close` ends the segment's savepoint
  // in the same trip. False: the error was written.
  bool run_portal(portal& p, bool close);
  void simple_query(std::string_view sql);
  void on_parse(const wire::parse& p);
  void on_bind(const wire::bind& b);
  void on_describe(const wire::describe& d, following next);
  void on_execute(const wire::execute& e, bool sync_next);
  void on_close(const wire::close& c);
  void on_sync();

  // Takes a turn on the owner's connection and passes its gate for this
  // message (false: the error was written, and `ended_` says whether the
  // session ends). A turn may outlast a message (a transaction block, an
  // unsynced extended-protocol segment); the gate is passed per message, so
  // the reaper or the owner's checkin can take the connection back between
  // them, and the next message then ends the session saying why.
  bool take_turn();
  void end_turn_if_idle();
  // The gate pass for one message's statements: while it is held the pool
  // cannot take the connection back (it cancels what runs and waits), and
  // the connection's notices reach this session's client. Refused once the
  // pool took the connection back: the status says why.
  absl::Status use_connection();
  void release_connection();
  pq::connection& conn() { return **turn_; }
  bool sandboxed() { return conn().hook() != nullptr; }
  bool in_block() { return conn().transaction_status() != tx_status::idle; }
  char status_byte();
  // Runs a pipeline with the session's savepoint as needed: `close` ends
  // the implicit savepoint in the same trip. Marks the statement running
  // for cancel().
  pipeline_outcome pipeline(std::span<const call> calls, bool close);
  // Undoes the session's savepoint after a failed statement.
  void undo_implicit();
  void release_implicit();
  // Runs transaction control through the sandbox (exec()).
  bool control(std::string_view sql, std::size_t offset);  // false: it failed
  bool ensure_prepared(statement& s);
  void error(const absl::Status& s, std::size_t offset = 0);
  void error(std::string_view state, std::string_view message);
  void sync_parameters();
  // Ends the turn, first rolling back what the client left open and
  // dropping what it prepared (clean_up()).
  void abandon();
  void clean_up();
  // Named server objects made in SQL (session_names.cpp): whether the
  // gateway runs the statement itself (DEALLOCATE of a protocol statement,
  // DEALLOCATE ALL, CLOSE ALL, PREPARE of a name Parse took) and running it
  // (false: the error was written); tracking one that ran on the server;
  // the statement a name refers to (Parse's or PREPARE's; null if none);
  // the session's cursors still open; and the statements that drop what
  // the session leaves behind.
  bool runs_itself(const sql::named_object& o, bool alone);
  bool run_itself(const sql::named_object& o, bool answer = true);
  void track(const sql::named_object& o);
  std::shared_ptr<statement> find_statement(const std::string& name);
  std::vector<std::string> open_cursors(bool only_transaction);
  std::vector<std::string> cleanup_statements();
  // The client's transaction ended: its cursors without HOLD close, as the
  // server closes them at commit (a RELEASE SAVEPOINT does not).
  void end_transaction();
  // DISCARD ALL for this session: its statements and cursors, and RESET
  // ALL; refused inside a block as the server refuses it.
  bool discard_all();
  static void on_notice(void* arg, const PGresult* res);

  gateway::state& g_;
  int fd_;
  std::int32_t pid_ = 0, key_ = 0;
  std::string owner_key_;  // the token, or "" for the shared owner
  bool entered_ = false, ended_ = false, skipping_ = false, implicit_ = false;
  std::string in_, out_;
  std::optional<pool::lease_type> turn_;
  std::optional<gate_pass> pass_;      // see use_connection()
  pq::connection* passed_ = nullptr;  // the connection pass_ is on
  std::map<std::string, std::shared_ptr<statement>> statements_;
  std::map<std::string, portal> portals_;
  std::vector<std::string> server_names_;  // every statement Parse prepared on the backend
  std::set<std::string> sql_prepared_;   // made by PREPARE
  std::map<std::string, bool> cursors_;  // made by DECLARE: name -> WITH HOLD
  std::uint64_t names_ = 0;
  std::map<std::string, std::string> parameters_;  // ParameterStatus values sent

  std::mutex lock_;  // guards running_ and gone_
  pq::connection* running_ = nullptr;
  bool gone_ = false;
};

}  // namespace sandpool::gw
