// The libpq driver. create() does all parsing and defaulting up front, so
// connect() only hands libpq the already-split keyword/value arrays (no
// re-quoting, no second parse) and the shared config never changes after
// create() returns, which is what makes the driver safe to share.
#include "sandpool/pq/driver.hpp"

#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "pq/error.hpp"
#include "pq/wait.hpp"
#include "text.hpp"
#include "sandpool/pq/redact.hpp"

namespace sandpool::pq {

struct driver::config {
  std::string conninfo;  // as given; holds the password, used only to scrub
  std::vector<std::string> keywords;
  std::vector<std::string> values;
  std::string description;
  session_reset reset = session_reset::none();
  std::shared_ptr<const notice_sink> notices;  // null: libpq's default
};

namespace {

struct options_deleter {
  void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
using options_ptr = std::unique_ptr<PQconninfoOption, options_deleter>;

const char* find(const PQconninfoOption* opts, std::string_view key) {
  for (; opts != nullptr && opts->keyword != nullptr; ++opts) {
    if (key == opts->keyword) return opts->val;
  }
  return nullptr;
}

// The value libpq will use for key: conninfo's, else the PG* variable's or
// the built-in default.
std::string effective(const PQconninfoOption* parsed,
                      const PQconninfoOption* defaults, std::string_view key) {
  const char* v = find(parsed, key);
  if (v == nullptr || *v == '\0') v = find(defaults, key);
  return v == nullptr ? std::string() : std::string(v);
}

std::string describe_target(const PQconninfoOption* parsed) {
  const options_ptr defaults(PQconndefaults());
  std::string host = effective(parsed, defaults.get(), "host");
  if (host.empty()) host = effective(parsed, defaults.get(), "hostaddr");
  if (host.empty()) host = "(default socket)";
  std::string port = effective(parsed, defaults.get(), "port");
  if (port.empty()) port = "5432";
  const std::string user = effective(parsed, defaults.get(), "user");
  std::string dbname = effective(parsed, defaults.get(), "dbname");
  if (dbname.empty()) dbname = user;  // libpq's rule
  return text::concat("host=", host, " port=", port, " dbname=", dbname,
                      " user=", user);
}

absl::Status malformed(std::string_view conninfo, std::string_view reason) {
  return absl::InvalidArgumentError(text::concat(
      "invalid connection string \"", redact_conninfo(conninfo), "\": ",
      scrub(reason, conninfo),
      ". Fix: write space-separated key=value pairs, single-quoting values "
      "that hold spaces or quotes (host=db dbname=app password='a b'), or a "
      "URI (postgresql://user@host:5432/dbname)"));
}

}  // namespace

absl::StatusOr<driver> driver::create(std::string conninfo, driver_options options) {
  if (conninfo.find('\0') != std::string::npos) {
    return malformed(conninfo, "it contains a NUL character");
  }
  char* error = nullptr;
  const options_ptr parsed(PQconninfoParse(conninfo.c_str(), &error));
  if (parsed == nullptr) {
    if (error == nullptr) {
      return absl::ResourceExhaustedError(
          "out of memory while parsing a connection string");
    }
    const std::string reason = internal::one_line(error);
    PQfreemem(error);
    return malformed(conninfo, reason);
  }

  auto cfg = std::make_shared<config>();
  for (const PQconninfoOption* o = parsed.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    cfg->keywords.emplace_back(o->keyword);
    cfg->values.emplace_back(o->val);
  }
  auto set = [&](std::string_view key) { return find(parsed.get(), key) != nullptr; };
  if (!set("connect_timeout") && std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    cfg->keywords.emplace_back("connect_timeout");
    cfg->values.emplace_back("10");
  }
  if (!set("application_name") && !set("fallback_application_name")) {
    cfg->keywords.emplace_back("fallback_application_name");
    cfg->values.emplace_back("sandpool");
  }
  cfg->description = describe_target(parsed.get());
  cfg->conninfo = std::move(conninfo);
  cfg->reset = std::move(options.reset);
  return driver(std::move(cfg));
}

absl::StatusOr<driver::connection> driver::connect() const {
  std::vector<const char*> keys;
  std::vector<const char*> vals;
  for (std::size_t i = 0; i < config_->keywords.size(); ++i) {
    keys.push_back(config_->keywords[i].c_str());
    vals.push_back(config_->values[i].c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);

  // connect_timeout bounds the whole connect on a fiber thread, as libpq
  // bounds each attempt with it on any other.
  std::chrono::seconds timeout{0};
  for (std::size_t i = 0; i < config_->keywords.size(); ++i) {
    if (config_->keywords[i] == "connect_timeout") {
      timeout = std::chrono::seconds(std::atoi(config_->values[i].c_str()));
    }
  }
  const internal::connect_outcome made = internal::connect(keys.data(), vals.data(), timeout);
  if (made.timed_out) {
    return internal::connect_error("timeout expired (connect_timeout)", config_->description,
                                   config_->conninfo, "");
  }
  PGconn* conn = made.conn;
  if (conn == nullptr) {
    return absl::ResourceExhaustedError(text::concat(
        "cannot connect to PostgreSQL at ", config_->description,
        ": out of memory"));
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string reason = PQerrorMessage(conn);
    const char* pass = PQpass(conn);
    absl::Status status =
        internal::connect_error(reason, config_->description, config_->conninfo,
                                pass == nullptr ? "" : pass);
    PQfinish(conn);
    return status;
  }
  connection c(conn);
  c.route_notices(config_->notices);
  if (config_->reset.is_custom()) {
    // Run as it will run after a lease: queued together, then read.
    absl::Status checked = c.send_reset(config_->reset.statements(), false);
    if (checked.ok()) checked = c.read_reset();
    if (!checked.ok()) {
      return absl::InvalidArgumentError(text::concat(
          "cannot use the connection to ", config_->description,
          ": the custom session reset failed on it: ", std::string(checked.message()),
          ". Fix: correct the statements given to session_reset::custom (each one statement, "
          "all run in one implicit transaction, so DISCARD ALL only alone)"));
    }
  }
  return c;
}

absl::Status driver::validate(connection& c) const {
  if (!c.ok()) {
    return internal::annotate(
        internal::connection_lost(c.native(), nullptr, config_->description, "",
                                  true),
        "validation failed: ");
  }
  absl::StatusOr<result> r = c.exec_direct("");
  return internal::annotate(r.status(), "validation failed: ");
}

absl::Status driver::reset(connection& c) const {
  const std::span<const std::string> statements =
      owed(c) ? std::span<const std::string>(config_->reset.statements())
              : std::span<const std::string>();
  bool rollback = true;
  switch (c.server_transaction_status()) {
    case tx_status::idle:
      if (statements.empty()) return absl::OkStatus();
      rollback = false;
      break;
    case tx_status::in_transaction:
    case tx_status::in_error:
      break;
    case tx_status::active:
      return absl::FailedPreconditionError(text::concat(
          "cannot reset the connection to ", c.target(),
          ": a command is still in flight on it; close it instead"));
    case tx_status::broken:
      return internal::annotate(
          internal::connection_lost(c.native(), nullptr, config_->description,
                                    "", true),
          "reset failed: ");
  }
  // One round trip: the ROLLBACK and the reset queued, then read.
  c.forget_session_touched();
  if (absl::Status sent = c.send_reset(statements, rollback); !sent.ok()) {
    return internal::annotate(sent, "reset failed: ");
  }
  if (absl::Status read = c.read_reset(); !read.ok()) {
    return internal::annotate(read, "reset failed: ");
  }
  if (c.server_transaction_status() != tx_status::idle) {
    return absl::InternalError(text::concat(
        "reset failed: the connection to ", c.target(),
        " is still inside a transaction after ROLLBACK"));
  }
  return absl::OkStatus();
}

tx_status driver::recycle(connection& c) const noexcept {
  // An opening never sent is for the lease that ends here, not the next.
  (void)c.drop_opening();
  const tx_status status = c.server_transaction_status();
  // A reset already queued or run (the sandbox's checkin) covers this return.
  if (c.take_session_reset_note() || c.reset_pending()) {
    c.forget_session_touched();
    return status;
  }
  if (status != tx_status::idle || !owed(c)) return status;  // reset() does the rest
  c.forget_session_touched();
  try {
    if (!c.send_reset(config_->reset.statements(), false).ok()) return tx_status::broken;
  } catch (...) {  // no memory for the request: the pool replaces the connection
    c.close();
    return tx_status::broken;
  }
  return c.server_transaction_status();
}

bool driver::owed(const connection& c) const noexcept {
  return !config_->reset.statements().empty() &&
         (config_->reset.every_lease() || c.session_touched());
}

const session_reset& driver::reset_policy() const noexcept { return config_->reset; }

driver driver::with_notices(notice_sink sink) const {
  auto cfg = std::make_shared<config>(*config_);
  cfg->notices = std::make_shared<const notice_sink>(std::move(sink));
  return driver(std::move(cfg));
}

void driver::close(connection& c) const noexcept { c.close(); }

absl::Status driver::cancel(connection& c) const { return c.cancel(); }

absl::Status driver::cancel(connection& c, std::string reason) const {
  return c.cancel(std::move(reason));
}

tx_status driver::transaction_status(const connection& c) const noexcept {
  return c.server_transaction_status();
}

std::string driver::describe() const { return config_->description; }

}  // namespace sandpool::pq
