#!/usr/bin/env bash
# sandpool-gateway with psql as the command: its writes are seen inside the
# sandbox, nothing is committed, the command's status is the tool's, and bad
# input exits non-zero with a message. Usage: tool_test.sh SANDPOOL_GATEWAY
set -uo pipefail
tool=$1
dsn=${SANDPOOL_TEST_DSN:?run under scripts/with-postgres}
table="gw_tool_$$"
failed=0
check() { if [ "$1" != "$2" ]; then echo "FAIL: $3: got '$1', want '$2'"; failed=1; fi; }

out=$("$tool" --dsn "$dsn" -- psql -X -A -t -v ON_ERROR_STOP=1 \
  -c "CREATE TABLE $table (x int)" -c "INSERT INTO $table VALUES (1), (2)" \
  -c "SELECT count(*) FROM $table" 2>&1)
check "$?" 0 "psql through the gateway"
check "$(printf '%s\n' "$out" | tail -1)" 2 "rows seen inside the sandbox"
check "$(psql "$dsn" -X -A -t -c "SELECT to_regclass('$table') IS NULL")" t "nothing committed"
"$tool" --dsn "$dsn" -- sh -c 'exit 7'
check "$?" 7 "the command's status"
"$tool" --dsn "$dsn" -- psql -X -c "SELECT 1/0" >/dev/null 2>&1
check "$?" 1 "psql's failure"
"$tool" --dsn "$dsn" -- sandpool-no-such-command 2>/dev/null
check "$?" 127 "a command not found"
msg=$("$tool" -- true 2>&1)
check "$?" 2 "no --dsn"
case "$msg" in *"--dsn DSN is required"*) ;; *) echo "FAIL: message: $msg"; failed=1 ;; esac
"$tool" --help | grep -q "example:" || { echo "FAIL: --help has no example"; failed=1; }
exit $failed
