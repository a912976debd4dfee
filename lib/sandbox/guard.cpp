// The commit guard's SQL and its errors (see guard.hpp for the mechanism).
#include "sandbox/guard.hpp"

#include "pq/error.hpp"
#include "sandpool/pq/sqlstate.hpp"
#include "text.hpp"

namespace sandpool::guard {

const std::string_view setup_sql = R"sql(BEGIN;
SET LOCAL client_min_messages = warning;
SELECT pg_advisory_xact_lock(hashtext('sandpool.commit_guard'));
CREATE SCHEMA IF NOT EXISTS sandpool;
COMMENT ON SCHEMA sandpool IS 'sandpool test sandbox: refuses to commit sandboxed transactions';
CREATE OR REPLACE FUNCTION sandpool.refuse_commit_now() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $guard$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '25SB1',
    MESSAGE = 'sandpool: COMMIT refused: this connection is inside a test sandbox; '
              'nothing was committed and the transaction has been rolled back',
    HINT = 'Code under test must not end the sandbox''s transaction through the raw '
           'connection (native(), a client library). Send transaction control through '
           'exec(), which turns it into savepoints, or run this test unsandboxed '
           '(checkout with sandbox = false and a cleanup strategy).';
END
$guard$;
GRANT USAGE ON SCHEMA sandpool TO PUBLIC;
GRANT EXECUTE ON FUNCTION sandpool.refuse_commit_now() TO PUBLIC;
COMMIT)sql";

bool missing(const absl::Status& arm_error) {
  const std::string state = pq::sqlstate(arm_error);
  return state == "42883" || state == "3F000";  // undefined function or schema
}

absl::Status setup_failed(const absl::Status& error, std::string_view target) {
  return pq::internal::annotate(
      error, text::concat("sandbox: could not create its commit guard (schema sandpool) in the "
                          "database of ", target, ", which every sandboxed checkout needs so "
                          "that the server refuses to commit a test's transaction. Create it "
                          "once as the database owner (sandpool::sandbox_guard_sql() holds the "
                          "statements), or grant this role CREATE on the database. The "
                          "server said: "));
}

}  // namespace sandpool::guard
