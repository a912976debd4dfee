// The gateway with libpq as its client: sessions join the owner's sandbox by
// token, see a plain session (transaction state, errors with every field,
// binary results, their own statement names), and leave nothing behind:
// not when they end their work, not when they die in the middle of it.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gateway_env.hpp"

namespace sandpool::test {
namespace {

TEST_CASE("a session joins the owner's sandbox by token and commits nothing") {
  {
    gateway_env env;
    client a(env.gw->conninfo(env.token));
    REQUIRE_MESSAGE(a.ok(), a.error());
    CHECK(a.run("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-a', 1)") == "INSERT 0 1");
    CHECK(env.owner_count("tag = 'gw-a'") == 1);
    CHECK(std::string(PQparameterStatus(a.c, "server_version")).size() > 1);
    CHECK(PQparameterStatus(a.c, "standard_conforming_strings") == std::string("on"));
    CHECK(PQbackendPID(a.c) > 0);
    // Its own block: the state a plain session reports, and its rollback.
    CHECK(a.run("BEGIN") == "BEGIN");
    CHECK(PQtransactionStatus(a.c) == PQTRANS_INTRANS);
    CHECK(a.run("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-b', 1)") == "INSERT 0 1");
    CHECK(a.run("SELECT 1/0") == "ERROR 22012");
    CHECK(PQtransactionStatus(a.c) == PQTRANS_INERROR);
    CHECK(a.run("ROLLBACK") == "ROLLBACK");
    CHECK(PQtransactionStatus(a.c) == PQTRANS_IDLE);
    CHECK(env.owner_count("tag = 'gw-b'") == 0);
    CHECK(a.run("COMMIT") == "COMMIT");  // with the server's warning, no block
    env.gw->stop();
    REQUIRE(env.checkin().ok());
  }
  CHECK(count_committed("tag LIKE 'gw-%'") == 0);
}

TEST_CASE("errors carry every field; several statements answer each") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  PGresult* r = PQexec(a.c, "SELECT 1; SELECT nosuchcolumn FROM pg_class");
  REQUIRE(PQresultStatus(r) == PGRES_FATAL_ERROR);
  CHECK(std::string(PQresultErrorField(r, PG_DIAG_SQLSTATE)) == "42703");
  CHECK(std::string(PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED)) == "ERROR");
  // The position counts in the client's string, not the gateway's.
  CHECK(std::string(PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION)) == "18");
  CHECK(PQresultErrorField(r, PG_DIAG_SOURCE_FUNCTION) != nullptr);
  PQclear(r);
  CHECK(PQtransactionStatus(a.c) == PQTRANS_IDLE);
  CHECK(a.run("SELECT 2") == "2");
}

TEST_CASE("extended protocol: parameters, binary results, per-session statement names") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  client b(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  REQUIRE_MESSAGE(b.ok(), b.error());
  const char* v[] = {"41"};
  PGresult* r = PQexecParams(a.c, "SELECT $1::int4 + 1", 1, nullptr, v, nullptr, nullptr, 1);
  REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
  REQUIRE(PQgetlength(r, 0, 0) == 4);
  const auto* bytes = reinterpret_cast<const unsigned char*>(PQgetvalue(r, 0, 0));
  CHECK((bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]) == 42);
  PQclear(r);
  // The same name in two sessions on one backend: no collision.
  PQclear(PQprepare(a.c, "q", "SELECT 'a' || $1", 1, nullptr));
  r = PQprepare(b.c, "q", "SELECT 'b' || $1", 1, nullptr);
  CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
  PQclear(r);
  const char* x[] = {"x"};
  r = PQexecPrepared(a.c, "q", 1, x, nullptr, nullptr, 0);
  CHECK(std::string(PQgetvalue(r, 0, 0)) == "ax");
  PQclear(r);
  r = PQexecPrepared(b.c, "q", 1, x, nullptr, nullptr, 0);
  CHECK(std::string(PQgetvalue(r, 0, 0)) == "bx");
  PQclear(r);
  r = PQdescribePrepared(a.c, "q");
  CHECK(PQnparams(r) == 1);
  CHECK(PQnfields(r) == 1);
  PQclear(r);
}

TEST_CASE("a client that dies inside its block leaves the owner's sandbox as it was") {
  gateway_env env;
  {
    client a(env.gw->conninfo(env.token));
    REQUIRE_MESSAGE(a.ok(), a.error());
    CHECK(a.run("BEGIN") == "BEGIN");
    CHECK(a.run("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-dead', 1)") == "INSERT 0 1");
  }  // PQfinish: the socket closes mid-transaction
  CHECK(eventually([&] { return env.gw->sessions() == 0; }, std::chrono::seconds(10)));
  CHECK(env.owner_count("tag = 'gw-dead'") == 0);
  client b(env.gw->conninfo(env.token));
  CHECK(b.run("SELECT 3") == "3");
}

TEST_CASE("without a token outside shared mode a session is refused with the ways to join") {
  gateway_env env;
  client a(env.gw->conninfo());
  CHECK_FALSE(a.ok());
  CHECK(contains(a.error(), "owns no connection"));
  CHECK(contains(a.error(), "sandpool.token"));
  client bad(env.gw->conninfo("sp1.1.00000000000000000000000000000000"));
  CHECK_FALSE(bad.ok());
}

TEST_CASE("a revoked token ends the session at its next turn; shared mode needs none") {
  gateway_env env;
  client a(env.gw->conninfo(env.token));
  REQUIRE_MESSAGE(a.ok(), a.error());
  CHECK(a.run("SELECT 1") == "1");
  REQUIRE(env.p.ownership().revoke(env.token).ok());
  PGresult* r = PQexec(a.c, "SELECT 2");
  CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
  CHECK(contains(PQerrorMessage(a.c), "revoked"));
  PQclear(r);
  REQUIRE(env.p.ownership().set_mode(shared_mode{current_owner()}).ok());
  client b(env.gw->conninfo());
  REQUIRE_MESSAGE(b.ok(), b.error());
  CHECK(b.run("INSERT INTO " + ledger() + " (tag, n) VALUES ('gw-shared', 1)") == "INSERT 0 1");
  CHECK(env.owner_count("tag = 'gw-shared'") == 1);
}

TEST_CASE("a malformed message gets an ErrorResponse and a closed session") {
  gateway_env env;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = env.gw->socket_dir() + "/.s.PGSQL." + std::to_string(env.gw->port());
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const char junk[] = {0, 0, 0, 8, 0, 2, 0, 0};  // protocol 2.0
  REQUIRE(::send(fd, junk, sizeof junk, 0) == 8);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  REQUIRE_FALSE(got.empty());
  CHECK(got[0] == 'E');
  CHECK(contains(got, "0A000"));
  CHECK(contains(got, "protocol 3.0"));
}

}  // namespace
}  // namespace sandpool::test
