// may_change_session: which statements owe the pool's session reset. It may
// say yes too often (one reset), never no to a statement that leaves session
// state in its text; random and mutated input never crashes it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "sandpool/pq/session_reset.hpp"

using sandpool::pq::may_change_session;

TEST_CASE("statements that leave session state are seen, wherever they are in the string") {
  for (const char* sql :
       {"SET search_path = app", "set statement_timeout = 5", "  RESET ALL", "PREPARE p AS SELECT 1",
        "LISTEN jobs", "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "LOAD 'auto_explain'",
        "DISCARD PLANS", "DO $$ BEGIN PERFORM 1; END $$", "CALL refresh()",
        "CREATE TEMP TABLE t (x int)", "create temporary table t (x int)",
        "CREATE TABLE pg_temp.t (x int)", "SELECT 1 INTO TEMP t",
        "SELECT set_config('search_path', 'x', false)", "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock(1)", "SELECT 1; SET x.y = 1", "SELECT 1;SET x.y = 1",
        "SELECT 1; /* note */ -- line\n  SET x.y = 1", "SELECT ';/*'; SET x.y = 1",
        "/* a /* nested */ comment */ SET x.y = 1", "BEGIN; SET LOCAL x.y = 1; COMMIT"}) {
    CAPTURE(sql);
    CHECK(may_change_session(sql));
  }
}

TEST_CASE("ordinary queries and transaction control do not owe a reset") {
  for (const char* sql :
       {"SELECT 1", "SELECT id FROM accounts WHERE owner = $1",
        "INSERT INTO orders (qty) VALUES ($1) RETURNING id", "UPDATE t SET x = 1 WHERE id = 2",
        "DELETE FROM t", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s",
        "SELECT pg_advisory_xact_lock(1)", "WITH x AS (SELECT 1) SELECT * FROM x",
        "SELECT 'SET x = 1'", "", ";;;", "-- SET x = 1", "/* SET x = 1 */ SELECT 1"}) {
    CAPTURE(sql);
    CHECK_FALSE(may_change_session(sql));
  }
}

TEST_CASE("random and mutated text never crashes the scan") {
  const char* env = std::getenv("SANDPOOL_TOUCH_CASES");
  const int cases = env != nullptr ? std::atoi(env) : 100'000;
  std::mt19937_64 rng(20261202);
  const std::string alphabet = "SETsetRLOAD;/*-\n '$x_(){}\\\"\0";
  const std::string seeds[] = {"SELECT 1; SET x = 1", "/* /* */ */ --", "SELECT ';/*'"};
  int yes = 0;
  for (int i = 0; i < cases; ++i) {
    std::string s;
    if (i % 2 == 0) {
      const std::size_t n = rng() % 48;
      for (std::size_t k = 0; k < n; ++k) s += alphabet[rng() % alphabet.size()];
    } else {
      s = seeds[rng() % 3];
      for (int m = 0; m < 3 && !s.empty(); ++m) s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    }
    yes += may_change_session(s) ? 1 : 0;
  }
  MESSAGE(cases << " cases, " << yes << " owed a reset");
  CHECK(yes > 0);
}
