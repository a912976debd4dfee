#!/usr/bin/env bash
# pgbench through sandpool-gateway, in each of its protocols (simple,
# extended, prepared): concurrent clients, each on its own thread, run
# transaction blocks, blocks they roll back, single statements and (extended
# protocol) blocks in one pipeline on a table committed beforehand; psql in
# the same command sees exactly the rows of the committed blocks and
# statements, and after the tool exits none is committed.
# Usage: pgbench_test.sh SANDPOOL_GATEWAY [PGBENCH]
set -uo pipefail
tool=$1
pgbench=${2:-pgbench}
dsn=${SANDPOOL_TEST_DSN:?run under scripts/with-postgres}
table="gw_pgbench_$$"
clients=2
tx=25
all=$((clients * tx))
failed=0
check() { if [ "$1" != "$2" ]; then echo "FAIL: $3: got '$1', want '$2'"; failed=1; fi; }
direct() { psql "$dsn" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

dir=$(mktemp -d)
trap 'direct "DROP TABLE IF EXISTS $table" >/dev/null 2>&1; rm -rf "$dir"' EXIT
direct "CREATE TABLE $table (id serial PRIMARY KEY, client int NOT NULL, v int NOT NULL)" || exit 1

# A block that commits: its row counts.
cat >"$dir/block.sql" <<EOF
\\set v random(1, 1000000)
BEGIN;
INSERT INTO $table (client, v) VALUES (:client_id, :v);
SELECT count(*) FROM $table WHERE client = :client_id;
END;
EOF
# A block that rolls back: its row must not count.
cat >"$dir/rollback.sql" <<EOF
\\set v random(1, 1000000)
BEGIN;
INSERT INTO $table (client, v) VALUES (:client_id, -(:v::int));
SELECT count(*) FROM $table WHERE v < 0;
ROLLBACK;
EOF
# Single statements, each its own transaction; a value read back with \gset
# that differs from what was sent fails the client (division by zero).
cat >"$dir/single.sql" <<EOF
\\set v random(1, 1000000)
INSERT INTO $table (client, v) VALUES (:client_id + 100, :v);
SELECT :v::int + 1 AS echoed \\gset
\\if :echoed != :v + 1
SELECT 1/0;
\\endif
SELECT count(*) FROM $table;
EOF
# A block in one pipeline (one Sync for all of it): extended protocol only.
cat >"$dir/pipeline.sql" <<EOF
\\set v random(1, 1000000)
\\startpipeline
BEGIN;
INSERT INTO $table (client, v) VALUES (:client_id + 200, :v);
SELECT count(*) FROM $table;
END;
\\endpipeline
EOF

for mode in simple extended prepared; do
  bench="$pgbench -n -M $mode -c $clients -j $clients -t $tx"
  runs="$bench -f '$dir/block.sql' && $bench -f '$dir/rollback.sql' && $bench -f '$dir/single.sql'"
  benches=3 pipelined=0 kinds=2
  if [ "$mode" != simple ]; then
    runs="$runs && $bench -f '$dir/pipeline.sql'"
    benches=4 pipelined=$all kinds=3
  fi
  out=$("$tool" --dsn "$dsn" -- sh -c "$runs &&
    psql -X -A -t -v ON_ERROR_STOP=1 -c \"SELECT 'rows', count(*) FILTER (WHERE client < 100),
      count(*) FILTER (WHERE client BETWEEN 100 AND 199), count(*) FILTER (WHERE client >= 200),
      count(*) FILTER (WHERE v < 0), count(DISTINCT client) FROM $table\"" 2>&1)
  status=$?
  check "$status" 0 "pgbench -M $mode through the gateway"
  [ "$status" -eq 0 ] || printf '%s\n' "$out" | tail -20
  check "$(printf '%s\n' "$out" | grep -c "number of transactions actually processed: $all/$all")" \
    $benches "pgbench -M $mode: every transaction of each run processed"
  check "$(printf '%s\n' "$out" | grep -c 'number of failed transactions: 0 ')" $benches \
    "pgbench -M $mode: no failed transaction"
  # Committed blocks, single statements, pipelined blocks, rolled-back rows,
  # distinct clients.
  want="rows|$all|$all|$pipelined|0|$((kinds * clients))"
  check "$(printf '%s\n' "$out" | grep '^rows|')" "$want" "pgbench -M $mode: rows in the sandbox"
  check "$(direct "SELECT count(*) FROM $table")" 0 "pgbench -M $mode: nothing committed"
done
exit $failed
