// The libpq driver's connection setup against a real server: parsing errors,
// connect failures and their codes, and the rule that no password ever shows
// up in a message, for key=value and URI connection strings alike.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "pg_env.hpp"
#include "sandpool/core/driver.hpp"
#include "sandpool/pq/driver.hpp"
#include "sandpool/pq/sqlstate.hpp"

namespace sandpool::test {
namespace {

static_assert(sandpool::driver<pq::driver>);

const std::string password(test_password);

// Checks that nothing in the status's message gives away a secret.
void check_no_secret(const absl::Status& s,
                     std::vector<std::string> secrets = {password}) {
  for (const std::string& secret : secrets) {
    CHECK_MESSAGE(text(s).find(secret) == std::string::npos,
                  "secret '" << secret << "' leaked in: " << text(s));
  }
  CHECK_MESSAGE(text(s).find("secret") == std::string::npos, text(s));
}

// Percent-encodes a URI component.
std::string uri_encode(std::string_view in) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// A URI for the test server with the given userinfo, e.g. "u:pw@".
std::string uri(std::string_view userinfo, std::string_view dbname = "sandpool_test") {
  return "postgresql://" + std::string(userinfo) + "/" + std::string(dbname) +
         "?host=" + uri_encode(dsn_option("host")) +
         "&port=" + uri_encode(dsn_option("port"));
}

absl::Status create_error(const std::string& conninfo) {
  absl::StatusOr<pq::driver> d = pq::driver::create(conninfo);
  REQUIRE_FALSE(d.ok());
  return d.status();
}

absl::Status connect_error(const std::string& conninfo) {
  absl::StatusOr<pq::connection> c = make_driver(conninfo).connect();
  REQUIRE_FALSE(c.ok());
  return c.status();
}

}  // namespace

TEST_CASE("malformed connection strings are InvalidArgument with the reason") {
  struct example {
    std::string conninfo;
    std::string reason;  // what libpq's explanation must mention
  };
  const std::vector<example> examples = {
      {"host=localhost dbname", "missing \"=\" after \"dbname\""},
      {"host='localhost dbname=x", "unterminated quoted string"},
      {"host=localhost hots=x", "invalid connection option \"hots\""},
      {"postgresql://[::1/db", "IPv6"},
      {"postgresql://u@h/db?sslmode", "missing key/value separator"},
  };
  for (const example& e : examples) {
    CAPTURE(e.conninfo);
    const absl::Status s = create_error(e.conninfo);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(text(s).find("invalid connection string") != std::string::npos);
    CHECK(text(s).find(e.reason) != std::string::npos);
    CHECK(text(s).find("Fix:") != std::string::npos);
  }
}

TEST_CASE("a malformed connection string never shows its password") {
  const std::vector<std::string> examples = {
      "host=h password='" + password + " dbname=x",      // unterminated quote
      "host=h password=" + password + " dbname",         // later key without =
      "host=h password=" + password + " bogus=1",        // unknown key
      "host=h password " + password,                     // password without =
      "  postgresql://u:" + password + "@h/db",          // URI after blanks
      "postgresql://u:" + password + "@h/db?sslmode",    // bad query
      "postgresql://u@h/db?password=" + password + "&x", // bad query
      "postgresql://u:sandpool%zz-secret-pw@h/db",       // bad escape
      "postgresql://u:" + password + "@[::1/db",         // bad IPv6
  };
  for (const std::string& conninfo : examples) {
    CAPTURE(conninfo);
    const absl::Status s = create_error(conninfo);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    check_no_secret(s, {password, "sandpool%zz-secret-pw", "zz-secret"});
    CHECK(text(s).find("***") != std::string::npos);
  }
}

PG_TEST_CASE("describe names the target without the password") {
  const pq::driver d = make_driver(dsn_with("user=sandpool_pw password=" + password));
  const std::string described = d.describe();
  CHECK(described.find("host=" + dsn_option("host")) != std::string::npos);
  CHECK(described.find("port=" + dsn_option("port")) != std::string::npos);
  CHECK(described.find("dbname=" + dsn_option("dbname")) != std::string::npos);
  CHECK(described.find("user=sandpool_pw") != std::string::npos);
  CHECK(described.find(password) == std::string::npos);
  CHECK(make_driver(uri("sandpool_pw:" + password + "@")).describe().find(password) ==
        std::string::npos);
}

PG_TEST_CASE("an unreachable server is Unavailable, quickly") {
  const std::vector<std::string> examples = {
      // A socket directory that does not exist.
      "host=/nonexistent/sandpool-test port=5432 dbname=x user=postgres "
      "password=" + password,
      // The test server's directory, but a port nobody listens on.
      dsn_with("port=1 password=" + password),
      // TCP to a closed port.
      "host=127.0.0.1 port=1 dbname=x user=postgres password=" + password,
      "postgresql://postgres:" + password + "@127.0.0.1:1/x",
  };
  for (const std::string& conninfo : examples) {
    CAPTURE(conninfo);
    const auto start = std::chrono::steady_clock::now();
    const absl::Status s = connect_error(conninfo);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    CHECK(s.code() == absl::StatusCode::kUnavailable);
    CHECK(text(s).find("cannot connect to PostgreSQL at host=") != std::string::npos);
    CHECK(text(s).find("Fix: check that the server is running") != std::string::npos);
    check_no_secret(s);
  }
}

PG_TEST_CASE("a database that does not exist is NotFound") {
  for (const std::string& conninfo :
       {dsn_with("dbname=sandpool_no_such_db password=" + password),
        uri("postgres:" + password + "@", "sandpool_no_such_db")}) {
    CAPTURE(conninfo);
    const absl::Status s = connect_error(conninfo);
    CHECK(s.code() == absl::StatusCode::kNotFound);
    CHECK(pq::sqlstate(s) == "3D000");
    CHECK(text(s).find("dbname=sandpool_no_such_db") != std::string::npos);
    CHECK(text(s).find("database \"sandpool_no_such_db\" does not exist") !=
          std::string::npos);
    CHECK(text(s).find("Fix: create the database") != std::string::npos);
    check_no_secret(s);
  }
}

PG_TEST_CASE("failed authentication is PermissionDenied without the password") {
  const std::string wrong = "wrong-secret-xyz";
  for (const std::string& conninfo :
       {dsn_with("user=sandpool_pw password=" + wrong),
        dsn_with("user=sandpool_pw password='" + wrong + "'"),
        uri("sandpool_pw:" + wrong + "@"),
        uri("sandpool_pw@") + "&password=" + wrong}) {
    CAPTURE(conninfo);
    const absl::Status s = connect_error(conninfo);
    CHECK(s.code() == absl::StatusCode::kPermissionDenied);
    CHECK(pq::sqlstate(s) == "28P01");
    CHECK(text(s).find(behind_pgbouncer() ? wrong_password_text()
                                          : "password authentication failed for user \"sandpool_pw\"") !=
          std::string::npos);
    CHECK(text(s).find("user=sandpool_pw") != std::string::npos);
    check_no_secret(s, {wrong});
  }
  // No password at all (and no password file to fall back on).
  const absl::Status s =
      connect_error(dsn_with("user=sandpool_pw passfile=/nonexistent/pgpass"));
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK(text(s).find("no password supplied") != std::string::npos);
  // A role that does not exist.
  CHECK(connect_error(dsn_with("user=sandpool_nobody")).code() ==
        absl::StatusCode::kPermissionDenied);
}

PG_TEST_CASE("the right password connects, in key=value and URI form") {
  for (const std::string& conninfo :
       {dsn_with("user=sandpool_pw password=" + password),
        dsn_with("user=sandpool_pw password = '" + password + "'"),
        uri("sandpool_pw:" + password + "@"),
        uri("sandpool_pw@") + "&password=" + password}) {
    CAPTURE(conninfo);
    pq::connection c = connect(conninfo);
    absl::StatusOr<pq::result> r = c.exec("SELECT current_user");
    REQUIRE_MESSAGE(r.ok(), text(r));
    CHECK(r->get(0, 0) == "sandpool_pw");
    CHECK(c.target().find(password) == std::string::npos);
  }
}

PG_TEST_CASE("create adds connect_timeout and application_name defaults") {
  pq::connection c = connect();
  absl::StatusOr<pq::result> r = c.exec("SHOW application_name");
  REQUIRE(r.ok());
  CHECK(r->get(0, 0) == "sandpool");
  bool saw_timeout = false;
  PQconninfoOption* used = PQconninfo(c.native());
  for (const PQconninfoOption* o = used; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "connect_timeout") {
      saw_timeout = o->val != nullptr && std::string_view(o->val) == "10";
    }
  }
  PQconninfoFree(used);
  CHECK(saw_timeout);

  pq::connection named = connect(dsn_with("application_name=my_app"));
  r = named.exec("SHOW application_name");
  REQUIRE(r.ok());
  CHECK(r->get(0, 0) == "my_app");
}

PG_TEST_CASE("copies of one driver connect from several threads at once") {
  const pq::driver d = make_driver(dsn());
  std::vector<int> pids(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    threads.emplace_back([d, &pids, i] {
      absl::StatusOr<pq::connection> c = d.connect();
      if (c.ok() && d.validate(*c).ok()) pids[i] = c->backend_pid();
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t i = 0; i < pids.size(); ++i) {
    CHECK(pids[i] != 0);
    for (std::size_t j = 0; j < i; ++j) CHECK(pids[i] != pids[j]);
  }
}

}  // namespace sandpool::test
