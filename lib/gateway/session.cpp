// A gateway session's life: startup (encryption refused, trust, the
// owner's connection found by token or shared mode, the backend's
// parameters), the message loop, turns on the owner's connection, and the
// cleanup of a client that left, however it left.
#include "gateway/session.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "sandpool/ownership/detail/messages.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "text.hpp"

namespace sandpool::gw {
namespace {

constexpr const char* reported_parameters[] = {
    "server_version",  "server_encoding",          "client_encoding",
    "application_name", "standard_conforming_strings", "DateStyle",
    "IntervalStyle",   "TimeZone",                 "integer_datetimes",
    "is_superuser",    "session_authorization",    "in_hot_standby"};

constexpr std::string_view token_option = "sandpool.token=";

// The token in a startup `options` value: -csandpool.token=T or
// -c sandpool.token=T (libpq passes PGOPTIONS and options= as written).
std::string token_in(std::string_view options) {
  const std::size_t at = options.find(token_option);
  if (at == std::string_view::npos) return {};
  std::string_view rest = options.substr(at + token_option.size());
  return std::string(rest.substr(0, rest.find_first_of(" \t")));
}

}  // namespace

session::~session() {
  if (fd_ >= 0) ::close(fd_);
}

void session::cancel() {
  std::lock_guard lk(lock_);
  if (running_ != nullptr) (void)running_->cancel();
}

void session::client_gone() {
  std::lock_guard lk(lock_);
  gone_ = true;
  if (running_ != nullptr) (void)running_->cancel();
}

bool session::send_out() {
  std::size_t sent = 0;
  while (sent < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out_.clear();
      ended_ = true;
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  out_.clear();
  return true;
}

bool session::read_packet(bool startup, std::string& packet) {
  for (;;) {
    absl::StatusOr<std::size_t> need =
        startup ? wire::startup_length(in_, g_.options_.max_message_bytes)
                : wire::message_length(in_, g_.options_.max_message_bytes);
    if (!need.ok()) {
      fatal(need.status().code() == absl::StatusCode::kResourceExhausted ? "54000" : "08P01",
            text::from_absl(need.status().message()));
      return false;
    }
    if (*need != 0 && in_.size() >= *need) {
      packet.assign(in_, 0, *need);
      in_.erase(0, *need);
      return true;
    }
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ended_ = true;
      return false;
    }
    in_.append(buf, static_cast<std::size_t>(n));
  }
}

void session::fatal(std::string_view state, std::string_view message) {
  wire::writer(out_).error_response(
      {{'S', "FATAL"}, {'V', "FATAL"}, {'C', std::string(state)}, {'M', std::string(message)}});
  (void)send_out();
  ended_ = true;
}

void session::error(std::string_view state, std::string_view message) {
  wire::writer(out_).error_response(
      {{'S', "ERROR"}, {'V', "ERROR"}, {'C', std::string(state)}, {'M', std::string(message)}});
}

void session::error(const absl::Status& s, std::size_t offset) {
  pq::error_fields f = fields_for(s);
  shift_position(f, offset);
  wire::writer(out_).error_response(f);
}

bool session::startup() {
  std::string packet;
  for (;;) {
    if (!read_packet(true, packet)) return false;
    auto p = wire::parse_startup(std::string_view(packet).substr(4));
    if (!p.ok()) {
      fatal("08P01", text::from_absl(p.status().message()));
      return false;
    }
    if (std::holds_alternative<wire::ssl_request>(*p) ||
        std::holds_alternative<wire::gssenc_request>(*p)) {
      out_ += 'N';  // no encryption: the socket is private to this machine
      if (!send_out()) return false;
      continue;
    }
    if (const auto* c = std::get_if<wire::cancel_request>(&*p)) {
      g_.cancel(c->pid, c->key);
      return false;
    }
    const auto& m = std::get<wire::startup_message>(*p);
    if (m.version >> 16 != 3) {
      fatal("0A000", text::concat("unsupported frontend protocol ", std::to_string(m.version >> 16),
                                  ".", std::to_string(m.version & 0xFFFF),
                                  ": the gateway speaks protocol 3.0"));
      return false;
    }
    if (auto r = m.get("replication"); r && *r != "false" && *r != "off" && *r != "0") {
      fatal("0A000", "the sandbox gateway does not serve replication connections "
                     "(replication=" + std::string(*r) + "); connect without it");
      return false;
    }
    if (auto o = m.get("options")) owner_key_ = token_in(*o);
    break;
  }
  pid_ = g_.next_pid();
  key_ = static_cast<std::int32_t>(std::random_device{}());
  std::string why;
  if (!g_.enter(this, owner_key_, why)) {
    fatal("53300", why);
    return false;
  }
  entered_ = true;
  if (owner_key_.empty()) {
    const mode m = g_.pool_.ownership().current_mode();
    if (!std::holds_alternative<shared_mode>(m)) {
      fatal("28000", text::concat(
          text::from_absl(detail::unowned_error(g_.pool_.options().name, mode_name(m),
                                                "this gateway session").message()),
          " For a gateway session: put the owner's token in the connection string as "
          "options=-csandpool.token=<token> (gateway::conninfo(token) writes it), or run "
          "the pool in shared mode."));
      return false;
    }
  } else if (absl::Status s = g_.pool_.ownership().adopt_token(owner_key_); !s.ok()) {
    fatal("28000", text::from_absl(s.message()));
    return false;
  }
  if (!take_turn()) return false;
  wire::writer w(out_);
  w.authentication_ok();
  for (const char* name : reported_parameters) {
    const std::string_view v = conn().parameter(name);
    if (v.empty() && std::string_view(name) != "application_name") continue;
    parameters_[name] = std::string(v);
    w.parameter_status(name, v);
  }
  w.backend_key_data(pid_, key_);
  w.ready_for_query('I');
  end_turn_if_idle();
  return send_out();
}

bool session::take_turn() {
  if (turn_) {
    if (absl::Status s = use_connection(); !s.ok()) {
      fatal("57P01", text::concat("terminating gateway session: ", text::from_absl(s.message())));
      return false;
    }
    return true;
  }
  if (!owner_key_.empty()) {
    // A revoked token ends the session at its next turn.
    if (absl::Status s = g_.pool_.ownership().adopt_token(owner_key_); !s.ok()) {
      // The token is gone. An owner that ended left this session's
      // allowance saying why (checkin, ownership timeout, exit); a revoked
      // token with its owner still there does not.
      auto l = g_.pool_.checkout(std::chrono::milliseconds(0));
      const bool ended = !l.ok() && l.status().code() != absl::StatusCode::kDeadlineExceeded &&
                         l.status().code() != absl::StatusCode::kResourceExhausted;
      fatal("57P01", text::concat("terminating gateway session: ",
                                  text::from_absl(ended ? l.status().message() : s.message())));
      return false;
    }
  }
  auto l = g_.pool_.checkout(g_.options_.turn_timeout);
  if (!l.ok()) {
    // Waiting too long for the turn is this statement's error; an owner
    // that ended (checkin, timeout, exit) ends the session.
    if (l.status().code() == absl::StatusCode::kDeadlineExceeded ||
        l.status().code() == absl::StatusCode::kResourceExhausted) {
      const std::int32_t holder = g_.turn_holder(owner_key_);
      error("55P03",
            text::concat(
                "sandbox gateway: session ", std::to_string(pid_),
                " waited longer than gateway_options.turn_timeout (",
                std::to_string(g_.options_.turn_timeout.count()),
                " ms) for its turn on the owner's connection, held by ",
                holder != 0 ? text::concat("gateway session ", std::to_string(holder),
                                           " (a session keeps the turn inside its "
                                           "transaction block)")
                            : std::string("the owner or another of its callers"),
                ". Fix: end that transaction sooner, or raise turn_timeout. The pool says: ",
                text::from_absl(l.status().message())));
      return false;
    }
    fatal("57P01", text::concat("terminating gateway session: ",
                                text::from_absl(l.status().message())));
    return false;
  }
  turn_.emplace(std::move(*l));
  g_.set_turn_holder(owner_key_, pid_);
  if (absl::Status s = use_connection(); !s.ok()) {
    fatal("57P01", text::concat("terminating gateway session: ", text::from_absl(s.message())));
    return false;
  }
  (void)conn().read_reset();
  return true;
}

void session::end_turn_if_idle() {
  if (!turn_ || implicit_ || in_block()) return;
  release_connection();
  g_.clear_turn_holder(owner_key_, pid_);
  turn_.reset();
}

absl::Status session::use_connection() {
  if (pass_) return absl::OkStatus();
  pq::connection& c = conn();
  pass_.emplace(c.gate());
  if (!pass_->ok()) {
    absl::Status why = pass_->status();
    pass_.reset();
    return why;
  }
  // The pool may have taken the connection back and handed it on between
  // reading the lease and passing the gate; the lease then reaches a
  // stand-in whose gate says why.
  if (&conn() != &c) {
    pass_.reset();
    const gate_pass again(conn().gate());
    return again.ok() ? absl::UnavailableError(
                            "the pool took the owner's connection back; reconnect once the "
                            "owner holds a connection again")
                      : again.status();
  }
  passed_ = &c;
  c.divert_notices(&session::on_notice, this);
  return absl::OkStatus();
}

void session::release_connection() {
  if (!pass_) return;
  passed_->restore_notices();
  passed_ = nullptr;
  pass_.reset();
}

char session::status_byte() {
  if (!turn_) return 'I';
  switch (conn().transaction_status()) {
    case tx_status::in_transaction: return 'T';
    case tx_status::in_error: return 'E';
    default: return 'I';
  }
}

void session::on_notice(void* arg, const PGresult* res) {
  auto* self = static_cast<session*>(arg);
  pq::error_fields f = pq::fields_of(res);
  // The sandbox raises the server's own warnings from a DO block; the
  // server's have no PL/pgSQL context.
  for (auto it = f.begin(); it != f.end(); ++it) {
    if (it->first == 'W' && it->second.find("inline_code_block") != std::string::npos) {
      f.erase(it);
      break;
    }
  }
  wire::writer(self->out_).notice_response(f);
}

void session::sync_parameters() {
  if (!turn_) return;
  wire::writer w(out_);
  for (auto& [name, sent] : parameters_) {
    const std::string_view now = conn().parameter(name.c_str());
    if (now == sent) continue;
    sent = std::string(now);
    w.parameter_status(name, now);
  }
}

session::following session::following_messages() const {
  following f;
  if (in_.empty()) return f;
  f.sync = in_.front() == 'S';
  f.execute = in_.front() == 'E';
  if (f.execute && in_.size() >= 5) {
    const auto* b = reinterpret_cast<const unsigned char*>(in_.data());
    const std::size_t length = std::size_t{b[1]} << 24 | std::size_t{b[2]} << 16 |
                               std::size_t{b[3]} << 8 | std::size_t{b[4]};
    f.sync_after_execute = in_.size() > 1 + length && in_[1 + length] == 'S';
    if (in_.size() >= 1 + length && length > 4) {
      const std::string_view body(in_.data() + 5, length - 4);
      f.execute_portal = body.substr(0, body.find('\0'));
    } else {
      f.execute = false;  // not all here: described the usual way
    }
  }
  return f;
}

void session::run() {
  if (startup()) {
    std::string packet;
    while (!ended_ && read_packet(false, packet)) {
      auto m = wire::parse_message(packet);
      if (!m.ok()) {
        fatal("08P01", text::from_absl(m.status().message()));
        break;
      }
      if (std::holds_alternative<wire::terminate>(*m)) break;
      // What follows, if already here: before a Sync a statement's
      // savepoint is released in the statement's own round trip.
      const bool going_on = handle(*m, following_messages());
      release_connection();
      if (!going_on) break;
      bool gone;
      {
        std::lock_guard lk(lock_);
        gone = gone_;
      }
      if (gone) break;
    }
  }
  abandon();
  if (entered_) g_.leave(this, owner_key_);
}

void session::abandon() {
  // Roll back what the client left open, and drop what it prepared.
  if (!turn_ && server_names_.empty() && sql_prepared_.empty() && cursors_.empty()) return;
  {
    std::lock_guard lk(lock_);
    gone_ = false;  // the cleanup's own statements must not be cancelled
  }
  if (!turn_) {
    auto l = g_.pool_.checkout(g_.options_.turn_timeout);
    if (!l.ok()) return;  // the owner ended: its rollback covers everything
    turn_.emplace(std::move(*l));
  }
  // A connection the pool took back was rolled back and reset there.
  if (use_connection().ok()) clean_up();
  out_.clear();
  release_connection();
  g_.clear_turn_holder(owner_key_, pid_);
  turn_.reset();
}

void session::clean_up() {
  if (implicit_) undo_implicit();
  if (sandboxed() && in_block()) (void)conn().exec("ROLLBACK");
  const std::vector<std::string> sql = cleanup_statements();
  std::vector<call> drops;
  for (const std::string& s : sql) drops.push_back(call{.sql = s});
  if (!drops.empty()) {
    const bool box = sandboxed() && !in_block();
    (void)run_pipeline(conn().native(), box ? "SAVEPOINT sandpool_tx" : "", drops,
                       box ? "RELEASE SAVEPOINT sandpool_tx" : "");
    // A drop that failed aborted the pipeline: undo the savepoint.
    if (box && conn().server_transaction_status() == tx_status::in_error) undo_implicit();
  }
}

}  // namespace sandpool::gw
