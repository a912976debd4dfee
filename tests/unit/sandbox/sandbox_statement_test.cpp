// The sandbox's statement classifier and splitter, without a server: every
// spelling of transaction control PostgreSQL accepts is recognised (case,
// whitespace, comments, WORK / TRANSACTION, modes, AND CHAIN, semicolons),
// look-alikes inside quotes, comments and identifiers are not, malformed
// control is `other` (sent as written, for the server's own syntax error),
// and splitting respects quoting, parentheses and BEGIN ATOMIC bodies, reads
// text up to its first NUL byte and follows standard_conforming_strings, as
// the server does.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sandpool/sandbox/statement.hpp"

namespace sandpool {
namespace {

statement_kind kind(std::string_view sql) { return classify_statement(sql).kind; }

std::vector<std::string> split(std::string_view sql) {
  std::vector<std::string> out;
  for (std::string_view p : split_statements(sql)) out.emplace_back(p);
  return out;
}

}  // namespace

TEST_CASE("BEGIN and START TRANSACTION in every spelling") {
  for (const char* sql : {"BEGIN", "begin", "Begin;", "  \n\tBEGIN  ", "BEGIN WORK",
                          "begin transaction;;", "-- open\nBEGIN", "/* a */ BEGIN /* b */",
                          "/* nested /* inner */ still comment */ begin", "BEGIN -- trailing",
                          "START TRANSACTION", "start\ntransaction ;", "BEGIN READ WRITE",
                          "BEGIN NOT DEFERRABLE", "BEGIN DEFERRABLE"}) {
    CAPTURE(sql);
    CHECK(kind(sql) == statement_kind::begin);
  }
  CHECK(classify_statement("start transaction").command == "START TRANSACTION");
  CHECK(classify_statement("begin work").command == "BEGIN");
}

TEST_CASE("transaction modes are parsed") {
  auto i = classify_statement("BEGIN ISOLATION LEVEL SERIALIZABLE");
  CHECK(i.kind == statement_kind::begin);
  CHECK(i.modes.isolation == "SERIALIZABLE");
  i = classify_statement("begin transaction isolation level repeatable read, read only");
  CHECK(i.modes.isolation == "REPEATABLE READ");
  CHECK(i.modes.read_only);
  i = classify_statement("START TRANSACTION READ WRITE ISOLATION LEVEL read   committed");
  CHECK(i.modes.isolation == "READ COMMITTED");
  CHECK(i.modes.read_write);
  i = classify_statement("BEGIN ISOLATION /* x */ LEVEL -- y\n READ UNCOMMITTED, DEFERRABLE");
  CHECK(i.modes.isolation == "READ UNCOMMITTED");
  CHECK(i.modes.deferrable);
  i = classify_statement("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
  CHECK(i.kind == statement_kind::set_transaction);
  CHECK(i.modes.isolation == "SERIALIZABLE");
  CHECK(kind("set local transaction read only") == statement_kind::set_transaction);
  CHECK(kind("SET SESSION TRANSACTION READ WRITE") == statement_kind::set_transaction);
  i = classify_statement("SET TRANSACTION SNAPSHOT '00000003-0000001B-1'");
  CHECK(i.kind == statement_kind::set_transaction);
  CHECK(i.modes.snapshot);
}

TEST_CASE("COMMIT, END, ROLLBACK, ABORT with their options") {
  for (const char* sql : {"COMMIT", "commit;", "Commit Work", "COMMIT TRANSACTION",
                          "END", "end transaction", " END WORK ; ", "COMMIT AND NO CHAIN"}) {
    CAPTURE(sql);
    CHECK(kind(sql) == statement_kind::commit);
  }
  for (const char* sql : {"ROLLBACK", "rollback work", "ABORT", "abort transaction;",
                          "ROLLBACK AND NO CHAIN", "/*x*/rollback"}) {
    CAPTURE(sql);
    CHECK(kind(sql) == statement_kind::rollback);
  }
  CHECK(classify_statement("COMMIT AND CHAIN").chain);
  CHECK(classify_statement("rollback work and chain").chain);
  CHECK_FALSE(classify_statement("COMMIT AND NO CHAIN").chain);
  CHECK(classify_statement("END").command == "END");
  CHECK(classify_statement("abort").command == "ABORT");
}

TEST_CASE("savepoint statements carry the folded name") {
  auto i = classify_statement("SAVEPOINT MyPoint");
  CHECK(i.kind == statement_kind::savepoint);
  CHECK(i.savepoint == "mypoint");
  i = classify_statement("RELEASE SAVEPOINT \"Mixed\"\"Case\"");
  CHECK(i.kind == statement_kind::release);
  CHECK(i.savepoint == "Mixed\"Case");
  i = classify_statement("release sp1");
  CHECK(i.kind == statement_kind::release);
  CHECK(i.savepoint == "sp1");
  i = classify_statement("RELEASE savepoint");  // a savepoint named "savepoint"
  CHECK(i.kind == statement_kind::release);
  CHECK(i.savepoint == "savepoint");
  for (const char* sql : {"ROLLBACK TO sp", "rollback to savepoint sp", "ROLLBACK WORK TO sp",
                          "ROLLBACK TRANSACTION TO SAVEPOINT sp;"}) {
    CAPTURE(sql);
    i = classify_statement(sql);
    CHECK(i.kind == statement_kind::rollback_to);
    CHECK(i.savepoint == "sp");
  }
}

TEST_CASE("two-phase commit and COPY") {
  CHECK(kind("PREPARE TRANSACTION 'gid'") == statement_kind::two_phase);
  CHECK(kind("commit prepared 'gid'") == statement_kind::two_phase);
  CHECK(kind("ROLLBACK PREPARED 'gid';") == statement_kind::two_phase);
  CHECK(classify_statement("COMMIT PREPARED 'x'").command == "COMMIT PREPARED");
  CHECK(kind("PREPARE q AS SELECT 1") == statement_kind::other);
  CHECK(kind("COPY t FROM STDIN") == statement_kind::copy);
}

TEST_CASE("look-alikes are ordinary statements") {
  for (const char* sql : {"SELECT 'BEGIN'", "SELECT 1 -- COMMIT", "/* ROLLBACK */ SELECT 1",
                          "\"begin\"", "SELECT commit FROM t", "begins", "committed",
                          "INSERT INTO t VALUES ('COMMIT')", "SELECT $$COMMIT$$",
                          "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                          "SET transaction_isolation = 'serializable'", "CALL p()",
                          "DO $body$ BEGIN COMMIT; END $body$", "UPDATE t SET rollback = 1",
                          "SET search_path = public"}) {
    CAPTURE(sql);
    CHECK(kind(sql) == statement_kind::other);
  }
  for (const char* sql : {"", "   ", ";", "-- only a comment", "/* c */ ;;"}) {
    CAPTURE(sql);
    CHECK(kind(sql) == statement_kind::empty);
  }
}

TEST_CASE("control that does not parse is `other`: the server rejects it, runs nothing") {
  for (const char* sql : {"BEGIN garbage", "COMMIT NOW", "START", "START WORK",
                          "BEGIN ISOLATION LEVEL SOMETIMES", "ROLLBACK TO", "SAVEPOINT",
                          "COMMIT AND", "BEGIN READ", "BEGIN ISOLATION LEVEL SERIALIZABLE,",
                          "END IF", "ABORT ALL", "SET TRANSACTION", "COMMIT PREPARED gid",
                          "RELEASE 'x'"}) {
    CAPTURE(sql);
    CHECK(kind(sql) == statement_kind::other);
  }
}

TEST_CASE("DISCARD ALL is recognised; the other DISCARD forms are ordinary statements") {
  CHECK(kind("DISCARD ALL") == statement_kind::discard_all);
  CHECK(kind("/* reset */ discard all;") == statement_kind::discard_all);
  for (const char* sql : {"DISCARD PLANS", "DISCARD TEMP", "DISCARD TEMPORARY", "DISCARD SEQUENCES"}) {
    CAPTURE(sql);
    CHECK(kind(sql) == statement_kind::other);
  }
}

TEST_CASE("the text is read as the server reads it") {
  // A -- comment ends at a carriage return.
  CHECK(kind("-- note\rCOMMIT") == statement_kind::commit);
  CHECK(split("SELECT 1 -- note\r; COMMIT").size() == 2);
  // libpq sends C strings: nothing after a NUL byte reaches the server.
  using namespace std::string_view_literals;
  CHECK(split("SELECT 1\0; COMMIT"sv) == std::vector<std::string>{"SELECT 1"});
  CHECK(kind("SELECT 1\0; COMMIT"sv) == statement_kind::other);
  // A routine named like a keyword is not transaction control.
  CHECK(kind("CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS 'SELECT 1'") ==
        statement_kind::other);
  CHECK(kind("SELECT begin()") == statement_kind::other);
  // standard_conforming_strings = off: backslash escapes a quote.
  const std::string_view escaped = "SELECT 'a\\'; COMMIT; --'";
  CHECK(split_statements(escaped, true).size() == 2);
  CHECK(split_statements(escaped, false).size() == 1);
  CHECK(classify_statement(escaped, false).kind == statement_kind::other);
}

TEST_CASE("canonical_isolation") {
  CHECK(canonical_isolation("serializable") == "SERIALIZABLE");
  CHECK(canonical_isolation("  Repeatable\n READ ") == "REPEATABLE READ");
  CHECK(canonical_isolation("read committed") == "READ COMMITTED");
  CHECK(canonical_isolation("READ UNCOMMITTED") == "READ UNCOMMITTED");
  CHECK_FALSE(canonical_isolation("snapshot").has_value());
  CHECK_FALSE(canonical_isolation("read").has_value());
  CHECK_FALSE(canonical_isolation("serializable read").has_value());
  CHECK_FALSE(canonical_isolation("").has_value());
}

TEST_CASE("split_statements honours quotes, comments and bodies") {
  CHECK(split("").empty());
  CHECK(split(" ;; -- nothing\n").empty());
  CHECK(split("SELECT 1") == std::vector<std::string>{"SELECT 1"});
  CHECK(split("BEGIN; INSERT INTO t VALUES (1);COMMIT;") ==
        std::vector<std::string>{"BEGIN", " INSERT INTO t VALUES (1)", "COMMIT"});
  CHECK(split("SELECT ';'; SELECT E'\\';'; SELECT \"a;b\"").size() == 3);
  CHECK(split("SELECT 1 -- ; not a split\n; SELECT 2").size() == 2);
  CHECK(split("SELECT /* ; /* ; */ ; */ 1").size() == 1);
  CHECK(split("SELECT $$;$$; SELECT $tag$ $$ ; $tag$").size() == 2);
  CHECK(split("SELECT a$b FROM t; SELECT $1").size() == 2);
  CHECK(split("CREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a; NOTIFY b)").size() == 1);
  const auto atomic = split(
      "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC "
      "SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT f()");
  REQUIRE(atomic.size() == 2);
  CHECK(atomic[1] == " SELECT f()");
  CHECK(split("CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END; COMMIT").size() ==
        2);
  // Outside routine definitions, CASE ... END does not hold semicolons back.
  CHECK(split("SELECT CASE WHEN x THEN 1 END; END").size() == 2);
  CHECK(split("SELECT 'unterminated; COMMIT").size() == 1);
}

}  // namespace sandpool
