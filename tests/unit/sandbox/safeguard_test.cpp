// The safeguard's judgement, without a server: database name patterns,
// local and allowed server addresses (exact and CIDR, IPv4 and IPv6,
// IPv4-mapped IPv6), allow_any, option validation, and refusal messages that
// name the database, the server, what was checked and how to allow it.
#include <doctest/doctest.h>

#include <string>

#include "sandpool/sandbox/safeguard.hpp"

namespace sandpool {
namespace {

std::string text(const absl::Status& s) { return std::string(s.message()); }

server_identity at(std::string db, std::optional<std::string> addr = std::nullopt) {
  return {std::move(db), std::move(addr)};
}

}  // namespace

TEST_CASE("test databases on local servers pass") {
  const safeguard_options o;
  CHECK(judge_safeguard(at("sandpool_test"), o).ok());
  CHECK(judge_safeguard(at("TEST_orders"), o).ok());
  CHECK(judge_safeguard(at("app_test", "127.0.0.1"), o).ok());
  CHECK(judge_safeguard(at("app_test", "127.10.0.3"), o).ok());
  CHECK(judge_safeguard(at("app_test", "::1"), o).ok());
  CHECK(judge_safeguard(at("app_test", "::ffff:127.0.0.1"), o).ok());
}

TEST_CASE("a database whose name does not match is refused") {
  const absl::Status s = judge_safeguard(at("orders_prod"), safeguard_options{});
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  const std::string m = text(s);
  CHECK(m.find("refused to sandbox database \"orders_prod\"") != std::string::npos);
  CHECK(m.find("local server (unix socket)") != std::string::npos);
  CHECK(m.find("database_patterns [\"test\"]") != std::string::npos);
  CHECK(m.find("add a pattern that matches \"orders_prod\"") != std::string::npos);
  CHECK(m.find("allow_any = true") != std::string::npos);
  CHECK(m.find("allowed_servers") == std::string::npos);  // the server was fine

  safeguard_options custom;
  custom.database_patterns = {"_ci", "scratch"};
  CHECK(judge_safeguard(at("orders_CI"), custom).ok());
  CHECK_FALSE(judge_safeguard(at("sandpool_test"), custom).ok());
  safeguard_options none;
  none.database_patterns.clear();
  CHECK_FALSE(judge_safeguard(at("sandpool_test"), none).ok());
}

TEST_CASE("a remote server must be allowed") {
  const absl::Status s = judge_safeguard(at("app_test", "10.1.2.3"), safeguard_options{}, "truncate");
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  const std::string m = text(s);
  CHECK(m.find("refused to truncate database \"app_test\" on server 10.1.2.3") !=
        std::string::npos);
  CHECK(m.find("neither local") != std::string::npos);
  CHECK(m.find("add \"10.1.2.3\" (or its range) to allowed_servers") != std::string::npos);

  safeguard_options o;
  o.allowed_servers = {"10.1.0.0/16", "192.168.7.7", "fd00::/8"};
  CHECK(judge_safeguard(at("app_test", "10.1.2.3"), o).ok());
  CHECK_FALSE(judge_safeguard(at("app_test", "10.2.0.1"), o).ok());
  CHECK(judge_safeguard(at("app_test", "192.168.7.7"), o).ok());
  CHECK_FALSE(judge_safeguard(at("app_test", "192.168.7.8"), o).ok());
  CHECK(judge_safeguard(at("app_test", "fd12:3456::1"), o).ok());
  CHECK(judge_safeguard(at("app_test", "::ffff:10.1.9.9"), o).ok());
  CHECK_FALSE(judge_safeguard(at("app_test", "2001:db8::1"), o).ok());
}

TEST_CASE("both failures are reported together; allow_any skips everything") {
  const std::string m = text(judge_safeguard(at("prod", "203.0.113.5"), safeguard_options{}));
  CHECK(m.find("database_patterns") != std::string::npos);
  CHECK(m.find("allowed_servers") != std::string::npos);
  safeguard_options any;
  any.allow_any = true;
  CHECK(judge_safeguard(at("prod", "203.0.113.5"), any).ok());
}

TEST_CASE("malformed allowed_servers entries are rejected") {
  for (const char* bad : {"db.example.com", "10.0.0.0/33", "10.0.0.1/", "::1/129", "1.2.3",
                          "10.0.0.0/x"}) {
    CAPTURE(bad);
    safeguard_options o;
    o.allowed_servers = {bad};
    const absl::Status s = validate_safeguard_options(o);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(text(s).find(bad) != std::string::npos);
  }
  safeguard_options good;
  good.allowed_servers = {"10.0.0.0/8", "::1", "0.0.0.0/0"};
  CHECK(validate_safeguard_options(good).ok());
}

}  // namespace sandpool
