// The gateway's endpoint: the listening sockets, the acceptor that starts a
// thread per session, the watchdog that notices a client gone mid-statement
// and cancels its statement, cancel requests, limits, and stop.
#include "sandpool/gateway/gateway.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "gateway/session.hpp"
#include "gateway/state.hpp"
#include "text.hpp"

namespace sandpool {
namespace {

absl::Status socket_error(std::string_view what, std::string_view where) {
  return absl::UnavailableError(text::to_absl(
      text::concat("sandbox gateway: cannot ", what, " ", where, ": ", std::strerror(errno))));
}

// libpq's quoting of a conninfo value.
std::string conn_value(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

bool gateway::state::enter(gw::session* s, const std::string& owner_key, std::string& error) {
  std::lock_guard lk(lock_);
  if (sessions_.size() >= options_.max_sessions) {
    error = text::concat("sorry, too many clients: the sandbox gateway serves at most ",
                         std::to_string(options_.max_sessions),
                         " sessions at once (gateway_options::max_sessions)");
    return false;
  }
  std::size_t& n = per_owner_[owner_key];
  if (n >= options_.max_sessions_per_owner) {
    error = text::concat("sorry, too many clients on this owner's connection: the sandbox "
                         "gateway serves at most ",
                         std::to_string(options_.max_sessions_per_owner),
                         " sessions per owner (gateway_options::max_sessions_per_owner)");
    return false;
  }
  ++n;
  sessions_[s->pid()] = s;
  return true;
}

void gateway::state::leave(gw::session* s, const std::string& owner_key) {
  std::lock_guard lk(lock_);
  sessions_.erase(s->pid());
  if (auto it = per_owner_.find(owner_key); it != per_owner_.end() && --it->second == 0) {
    per_owner_.erase(it);
  }
}

void gateway::state::cancel(std::int32_t pid, std::int32_t key) {
  std::lock_guard lk(lock_);
  auto it = sessions_.find(pid);
  if (it != sessions_.end() && it->second->key() == key) it->second->cancel();
}

void gateway::state::set_turn_holder(const std::string& owner_key, std::int32_t pid) {
  std::lock_guard lk(lock_);
  holders_[owner_key] = pid;
}

void gateway::state::clear_turn_holder(const std::string& owner_key, std::int32_t pid) {
  std::lock_guard lk(lock_);
  if (auto it = holders_.find(owner_key); it != holders_.end() && it->second == pid) {
    holders_.erase(it);
  }
}

std::int32_t gateway::state::turn_holder(const std::string& owner_key) const {
  std::lock_guard lk(lock_);
  auto it = holders_.find(owner_key);
  return it == holders_.end() ? 0 : it->second;
}

std::size_t gateway::state::count() const {
  std::lock_guard lk(lock_);
  return sessions_.size();
}

void gateway::state::reap_finished() {
  std::lock_guard lk(lock_);
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

void gateway::state::accept_loop() {
  std::vector<pollfd> fds{{unix_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  if (tcp_fd_ >= 0) fds.push_back({tcp_fd_, POLLIN, 0});
  while (!stopping_.load()) {
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (stopping_.load()) break;
    reap_finished();
    for (const pollfd& p : fds) {
      if (p.fd == wake_fd_ || (p.revents & POLLIN) == 0) continue;
      const int fd = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      auto done = std::make_shared<std::atomic<bool>>(false);
      auto self = shared_from_this();
      std::lock_guard lk(lock_);
      threads_.push_back({std::thread([self, fd, done] {
                            gw::session s(*self, fd);
                            s.run();
                            done->store(true);
                          }),
                          done});
    }
  }
}

void gateway::state::watch_loop() {
  // Only hang-ups are watched (POLLRDHUP), so a client's pending input
  // never wakes this thread; the set is refreshed every 200 ms.
  while (!stopping_.load()) {
    std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
    std::vector<std::int32_t> pids{0};
    {
      std::lock_guard lk(lock_);
      for (const auto& [pid, s] : sessions_) {
        if (s->hung_up) continue;
        fds.push_back({s->fd(), POLLRDHUP, 0});
        pids.push_back(pid);
      }
    }
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    if (stopping_.load()) break;
    std::lock_guard lk(lock_);
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) continue;
      if (auto it = sessions_.find(pids[i]); it != sessions_.end()) {
        it->second->hung_up = true;
        it->second->client_gone();
      }
    }
  }
}

void gateway::state::end_sessions() {
  {
    std::lock_guard lk(lock_);
    for (const auto& [pid, s] : sessions_) {
      ::shutdown(s->fd(), SHUT_RDWR);
      s->client_gone();
    }
  }
  std::list<worker> all;
  {
    std::lock_guard lk(lock_);
    all.swap(threads_);
  }
  for (worker& w : all) w.thread.join();
}

absl::StatusOr<std::unique_ptr<gateway>> gateway::start(pool& p, gateway_options o) {
  if (o.port <= 0 && !o.tcp) {
    return absl::InvalidArgumentError(
        "sandbox gateway: option port must be 1-65535 (it names the socket .s.PGSQL.<port>)");
  }
  if (o.port < 0 || o.port > 65535) {
    return absl::InvalidArgumentError("sandbox gateway: option port must be 0-65535");
  }
  if (o.max_sessions == 0 || o.max_sessions_per_owner == 0 || o.max_message_bytes < 1024) {
    return absl::InvalidArgumentError(
        "sandbox gateway: options max_sessions and max_sessions_per_owner must be at least "
        "1 and max_message_bytes at least 1024");
  }
  auto s = std::make_shared<state>(p, std::move(o));
  const gateway_options& opt = s->options_;
  if (opt.socket_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = text::concat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                     "/sandpool-gateway-XXXXXX");
    if (::mkdtemp(templ.data()) == nullptr) return socket_error("create a directory in", templ);
    s->socket_dir_ = templ;
    s->made_dir_ = true;
  } else {
    s->socket_dir_ = opt.socket_dir;
  }
  const int port = opt.port > 0 ? opt.port : 5432;
  s->socket_path_ = text::concat(s->socket_dir_, "/.s.PGSQL.", std::to_string(port));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (s->socket_path_.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(text::to_absl(text::concat(
        "sandbox gateway: the socket path ", s->socket_path_, " is longer than ",
        std::to_string(sizeof addr.sun_path - 1), " bytes; choose a shorter socket_dir")));
  }
  std::memcpy(addr.sun_path, s->socket_path_.c_str(), s->socket_path_.size() + 1);
  s->unix_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->unix_fd_ < 0) return socket_error("create a socket for", s->socket_path_);
  if (::bind(s->unix_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s->unix_fd_, 64) != 0) {
    absl::Status e = socket_error("listen on", s->socket_path_);
    ::close(s->unix_fd_);
    return e;
  }
  if (opt.tcp) {
    s->tcp_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in.sin_port = htons(static_cast<std::uint16_t>(opt.port));
    const int one = 1;
    ::setsockopt(s->tcp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof in;
    if (s->tcp_fd_ < 0 || ::bind(s->tcp_fd_, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 ||
        ::listen(s->tcp_fd_, 64) != 0 ||
        ::getsockname(s->tcp_fd_, reinterpret_cast<sockaddr*>(&in), &len) != 0) {
      absl::Status e = socket_error("listen on", "127.0.0.1");
      gateway g(s);  // its destructor closes what is open
      return e;
    }
    s->tcp_port_ = ntohs(in.sin_port);
  }
  s->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  // The server's database and user, for conninfo(): the owner's connection's.
  if (auto l = p.checkout(std::chrono::seconds(5)); l.ok()) {
    s->database_ = std::string((*l)->database());
    s->user_ = std::string((*l)->user());
  }
  s->acceptor_ = std::thread([s] { s->accept_loop(); });
  s->watchdog_ = std::thread([s] { s->watch_loop(); });
  return std::unique_ptr<gateway>(new gateway(std::move(s)));
}

gateway::gateway(std::shared_ptr<state> s) : state_(std::move(s)) {}

gateway::~gateway() { stop(); }

void gateway::stop() noexcept {
  state& s = *state_;
  if (s.stopping_.exchange(true)) return;
  if (s.wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(s.wake_fd_, &one, sizeof one);
  }
  if (s.acceptor_.joinable()) s.acceptor_.join();
  if (s.watchdog_.joinable()) s.watchdog_.join();
  if (s.unix_fd_ >= 0) ::close(s.unix_fd_);
  if (s.tcp_fd_ >= 0) ::close(s.tcp_fd_);
  s.end_sessions();
  if (s.wake_fd_ >= 0) ::close(s.wake_fd_);
  ::unlink(s.socket_path_.c_str());
  if (s.made_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(s.socket_dir_, ec);
  }
}

const std::string& gateway::socket_dir() const noexcept { return state_->socket_dir_; }
int gateway::port() const noexcept { return state_->options_.port > 0 ? state_->options_.port : 5432; }
int gateway::tcp_port() const noexcept { return state_->tcp_port_; }
std::size_t gateway::sessions() const { return state_->count(); }

std::string gateway::conninfo(std::string_view token) const {
  std::string out = text::concat("host=", conn_value(state_->socket_dir_),
                                 " port=", std::to_string(port()));
  if (!state_->database_.empty()) out += " dbname=" + conn_value(state_->database_);
  if (!state_->user_.empty()) out += " user=" + conn_value(state_->user_);
  if (!token.empty()) out += " options=" + conn_value(text::concat("-csandpool.token=", token));
  return out;
}

}  // namespace sandpool
