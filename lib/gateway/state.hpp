// The gateway's shared state: the pool, the options, the listening sockets
// and the sessions (their threads, their client sockets, their cancel keys).
// One mutex guards the session table and the counts; nothing runs under it
// but table updates and a session's cancel (which only signals the server).
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "sandpool/gateway/gateway.hpp"

namespace sandpool::gw {
class session;
}  // namespace sandpool::gw

namespace sandpool {

class gateway::state : public std::enable_shared_from_this<gateway::state> {
 public:
  state(pool& p, gateway_options o) : pool_(p), options_(std::move(o)) {}

  pool& pool_;
  const gateway_options options_;
  std::string socket_dir_;
  std::string socket_path_;
  bool made_dir_ = false;
  int unix_fd_ = -1;
  int tcp_fd_ = -1;
  int tcp_port_ = 0;
  int wake_fd_ = -1;  // eventfd: wakes the acceptor and the watchdog at stop
  std::atomic<bool> stopping_{false};
  std::thread acceptor_, watchdog_;
  std::string database_, user_;  // the owner's server's, for conninfo()

  // Registers a session for cancel requests, the watchdog and the limits;
  // false (with the error text) if a limit is reached.
  bool enter(gw::session* s, const std::string& owner_key, std::string& error);
  void leave(gw::session* s, const std::string& owner_key);
  // A CancelRequest: cancels that session's statement, if it runs one.
  void cancel(std::int32_t pid, std::int32_t key);
  std::int32_t next_pid() { return next_pid_.fetch_add(1) + 1; }
  std::size_t count() const;
  // Which session holds the turn on an owner's connection (0: none of the
  // gateway's), for the turn-timeout error.
  void set_turn_holder(const std::string& owner_key, std::int32_t pid);
  void clear_turn_holder(const std::string& owner_key, std::int32_t pid);
  std::int32_t turn_holder(const std::string& owner_key) const;

  void accept_loop();
  void watch_loop();
  // Ends every session as a dying client's and joins the threads.
  void end_sessions();

 private:
  void reap_finished();

  mutable std::mutex lock_;  // guards sessions_, per_owner_, holders_, threads_
  absl::flat_hash_map<std::int32_t, gw::session*> sessions_;  // by pid
  absl::flat_hash_map<std::string, std::size_t> per_owner_;
  absl::flat_hash_map<std::string, std::int32_t> holders_;  // by owner key
  struct worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<worker> threads_;
  std::atomic<std::int32_t> next_pid_{0};
};

}  // namespace sandpool
