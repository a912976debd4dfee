// Password redaction without a server: redact_conninfo() on key=value and URI
// strings (well-formed and not), scrub() on messages that echo parts of a
// connection string, and redact_sql() on statements that hold passwords.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <random>
#include <string>
#include <vector>

#include "sandpool/pq/redact.hpp"

namespace sandpool::pq {
namespace {

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// What libpq makes of conninfo: its error message, or the password it read.
struct parsed {
  bool ok = false;
  std::string error;
  std::string password;
};

parsed parse(const std::string& conninfo) {
  parsed out;
  char* error = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) {
    out.error = error;
    PQfreemem(error);
  }
  out.ok = opts != nullptr;
  for (PQconninfoOption* o = opts; o != nullptr && o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr) {
      out.password = o->val;
    }
  }
  PQconninfoFree(opts);
  return out;
}

}  // namespace

TEST_CASE("redact_conninfo masks key=value passwords exactly") {
  CHECK(redact_conninfo("host=db password=secret dbname=app") ==
        "host=db password=*** dbname=app");
  CHECK(redact_conninfo("password = 'se cret' host=x") == "password = *** host=x");
  CHECK(redact_conninfo(R"(password='it\'s \\ x' host=y)") == "password=*** host=y");
  CHECK(redact_conninfo(R"(password=se\ cret host=z)") == "password=*** host=z");
  CHECK(redact_conninfo("host=a\tpassword=one password=two") ==
        "host=a\tpassword=*** password=***");
  CHECK(redact_conninfo("PASSWORD=shout") == "PASSWORD=***");
  CHECK(redact_conninfo("host=db password=") == "host=db password=***");
  CHECK(redact_conninfo("host=db dbname=app") == "host=db dbname=app");
  CHECK(redact_conninfo("") == "");
  CHECK(redact_conninfo("passfile=/x/pgpass host=db") == "passfile=/x/pgpass host=db");
}

TEST_CASE("redact_conninfo masks everything after a password it cannot delimit") {
  CHECK(redact_conninfo("host=x password='unterminated and more") ==
        "host=x password=***");
  CHECK(redact_conninfo("host=x password secret more") == "host=x password ***");
  CHECK(redact_conninfo("host=x password") == "host=x password");
  // An unterminated quote elsewhere swallows the rest, which may hold one.
  const std::string s = redact_conninfo("host='unterminated password=secret x");
  CHECK_FALSE(contains(s, "secret"));
  // Words after an unquoted password that are not options belong to it.
  CHECK(redact_conninfo("password=ab cd ef dbname=x") == "password=*** dbname=x");
  CHECK(redact_conninfo("password='ab'cd port = 5") == "password=*** port = 5");
  // A stray word before the password does not stop the scan.
  CHECK(redact_conninfo("host=x stray password=secret") ==
        "host=x stray password=***");
}

TEST_CASE("redact_conninfo masks URI passwords") {
  CHECK(redact_conninfo("postgresql://user:secret@host/db") ==
        "postgresql://user:***@host/db");
  CHECK(redact_conninfo("postgres://user:secret@host:5432/db?sslmode=require") ==
        "postgres://user:***@host:5432/db?sslmode=require");
  CHECK(redact_conninfo("postgresql://user@host/db?password=secret&sslmode=disable") ==
        "postgresql://user@host/db?password=***&sslmode=disable");
  CHECK(redact_conninfo("postgresql://u:p%40ss@host/db?pass%77ord=x") ==
        "postgresql://u:***@host/db?pass%77ord=***");
  CHECK(redact_conninfo("postgresql://host:5432/db") == "postgresql://host:5432/db");
  CHECK(redact_conninfo("postgresql://user@host/db") == "postgresql://user@host/db");
  CHECK(redact_conninfo("POSTGRESQL://u:secret@h") == "POSTGRESQL://u:***@h");
  // An unencoded '&' in a password: mask up to the next real option.
  CHECK(redact_conninfo("postgresql://h/d?password=a&b&c=d&sslmode=x") ==
        "postgresql://h/d?password=***&sslmode=x");
}

TEST_CASE("redact_conninfo masks URI passwords holding reserved characters") {
  // Unencoded '@', '/' or '?' in a password: mask the widest reading.
  for (const char* uri : {"postgresql://user:pa@ss@host/db",
                          "postgresql://user:pa/ss@host/db",
                          "postgresql://user:pa?ss@host/db",
                          "postgresql://user:pa:ss@host/db"}) {
    CAPTURE(uri);
    const std::string out = redact_conninfo(uri);
    CHECK_FALSE(contains(out, "pa"));
    CHECK_FALSE(contains(out, "ss@"));
    CHECK(contains(out, "***"));
  }
}

TEST_CASE("redact_conninfo masks URIs where libpq would read key=value") {
  CHECK(redact_conninfo("  postgresql://u:secret@h/db") == "  postgresql://u:***@h/db");
  CHECK(redact_conninfo("dbname=postgresql://u:secret@h/db host=x") ==
        "dbname=postgresql://u:***@h/db host=x");
}

TEST_CASE("scrub removes passwords in written and decoded form") {
  CHECK(scrub("auth failed: secret here", "host=h password=secret") ==
        "auth failed: *** here");
  CHECK(scrub("x se cret y 'se cret'", "password='se cret'") == "x *** y ***");
  CHECK(scrub(R"(a it's b it\'s)", R"(password='it\'s')") == "a *** b ***");
  CHECK(scrub("raw p%40ss decoded p@ss", "postgresql://u:p%40ss@h/db") ==
        "raw *** decoded ***");
  CHECK(scrub("q=s3cr3t", "postgresql://u@h/db?password=s3cr3t") == "q=***");
  CHECK(scrub("two: one and two", "password=one password=two") ==
        "***: *** and ***");
  CHECK(scrub("nothing to hide", "host=h dbname=d") == "nothing to hide");
  CHECK(scrub("", "password=x") == "");
}

TEST_CASE("scrub masks a password that contains another whole") {
  CHECK(scrub("abc abcdef", "password=abc password=abcdef") == "*** ***");
}

TEST_CASE("scrub is robust to malformed connection strings") {
  // Unterminated quote: the whole rest after `password` counts as secret.
  const std::string conninfo = "host=h password='abc def";
  CHECK(scrub("echo: 'abc def", conninfo) == "echo: ***");
  CHECK(scrub("echo: abc def", conninfo) == "echo: ***");
  CHECK_FALSE(contains(scrub("see: abc def", "host=h password abc def"), "abc def"));
  // An invalid percent escape is echoed by libpq as written.
  CHECK(scrub("invalid percent-encoded token: \"pw%zzx\"",
              "postgresql://u:pw%zzx@h/db") ==
        "invalid percent-encoded token: \"***\"");
}

TEST_CASE("no password libpq reads or reports survives redaction") {
  // Random passwords over the characters that matter to the two grammars,
  // written correctly (quoted, percent-encoded) and carelessly (raw).
  std::mt19937 rng(20240601);
  const std::string alphabet = "abcXYZ019 '\\\"@/?:&=%#$!~[]";
  for (int i = 0; i < 20000; ++i) {
    std::string pw;
    for (std::size_t k = 0, n = 5 + rng() % 10; k < n; ++k) {
      pw += alphabet[rng() % alphabet.size()];
    }
    std::string quoted;
    std::string encoded;
    for (char c : pw) {
      if (c == '\'' || c == '\\') quoted += '\\';
      quoted += c;
      static constexpr char hex[] = "0123456789ABCDEF";
      encoded += {'%', hex[(c >> 4) & 15], hex[c & 15]};
    }
    for (const std::string& conninfo :
         {"host=h password='" + quoted + "' dbname=d",
          "postgresql://u:" + encoded + "@h/d",
          "postgresql://u@h/d?password=" + encoded + "&sslmode=disable",
          "host=h password='" + pw + " dbname=d", "host=h password=" + pw + " port=1",
          "postgresql://u:" + pw + "@h:5/d?x=1",
          "postgresql://u@h/d?password=" + pw + "&x=1", "password=" + pw}) {
      const parsed p = parse(conninfo);
      const std::string redacted = redact_conninfo(conninfo);
      const std::string scrubbed = scrub(p.error, conninfo);
      for (const std::string& secret : {pw, p.password}) {
        if (secret.size() < 3) continue;
        INFO(conninfo << " -> " << redacted << " / " << scrubbed);
        REQUIRE_FALSE(contains(redacted, secret));
        REQUIRE_FALSE(contains(scrubbed, secret));
      }
    }
  }
}

TEST_CASE("redact_sql masks password literals") {
  CHECK(redact_sql("ALTER ROLE x PASSWORD 'secret'") == "ALTER ROLE x PASSWORD ***");
  CHECK(redact_sql("create role x login password 'it''s' valid until 'x'") ==
        "create role x login password *** valid until 'x'");
  CHECK(redact_sql(R"(ALTER ROLE x PASSWORD E'a\'b' LOGIN)") ==
        "ALTER ROLE x PASSWORD *** LOGIN");
  CHECK(redact_sql("CREATE ROLE r PASSWORD $p$sec$p$ LOGIN") ==
        "CREATE ROLE r PASSWORD *** LOGIN");
  CHECK(redact_sql("ALTER ROLE x PASSWORD 'unterminated") == "ALTER ROLE x PASSWORD ***");
  CHECK(redact_sql("SELECT dblink_connect('host=h password=secret dbname=d')") ==
        "SELECT dblink_connect('host=h password=*** dbname=d')");
  CHECK(redact_sql("SELECT 'postgresql://u:secret@h/db'") ==
        "SELECT 'postgresql://u:***@h/db'");
}

TEST_CASE("redact_sql leaves statements without passwords alone") {
  for (const char* sql : {"SELECT password FROM users", "SHOW password_encryption",
                          "SELECT 'postgresql://h/db'", "SELECT 1", "",
                          "SELECT my_password FROM t"}) {
    CHECK(redact_sql(sql) == sql);
  }
}

}  // namespace sandpool::pq
