"""The harness of gateway_psycopg2_test.py: sessions through the gateway and
plain connections to the server, what a client can read of an error, a run
of failing statements observed the same way on either, and the outer run
that wraps the test cases in sandpool-gateway and checks that nothing was
committed."""
import os
import subprocess
import sys
import unittest

import psycopg2
import psycopg2.extensions as ext

TABLE = os.environ.get("SANDPOOL_GW_TABLE", "")
# Every field of an error but the server's source location (file, line,
# function): the gateway may reach the same error by another path (its
# extended-protocol Parse instead of the client's Simple Query), and the
# sandbox answers some errors itself, as the server would but without one.
DIAG = [a for a in dir(ext.Diagnostics) if not a.startswith(("_", "source_"))]


def gateway():
    """A session on the gateway: libpq's PG* variables, as the tool set them."""
    return psycopg2.connect("")


def direct():
    """A plain connection to the real server, outside the sandbox."""
    return psycopg2.connect(os.environ["SANDPOOL_DIRECT_DSN"])


def error_of(e):
    """Everything a client can read from a psycopg2 error."""
    got = {"class": type(e).__name__, "pgcode": e.pgcode, "pgerror": e.pgerror}
    got.update({k: getattr(e.diag, k) for k in DIAG})
    return got


def run_failing(conn, statements):
    """Runs (sql, args) pairs on conn until one fails; returns what the client
    saw: the error's fields, the notices, the transaction status after it, the
    error of a statement after it, and whether the session goes on after
    rollback(). Rolls back, so nothing stays."""
    seen = {"error": None}
    del conn.notices[:]
    cur = conn.cursor()
    try:
        for sql, args in statements:
            cur.execute(sql, args)
    except psycopg2.Error as e:
        seen["error"] = error_of(e)
    seen["status"] = conn.info.transaction_status
    try:
        cur.execute("SELECT 1")
        seen["next"] = cur.fetchone()
    except psycopg2.Error as e:
        seen["next"] = error_of(e)
    seen["notices"] = list(conn.notices)
    conn.rollback()
    cur.execute("SELECT 2")
    seen["after_rollback"] = cur.fetchone()
    conn.rollback()
    return seen


class session_case(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.gw = gateway()
        self.plain = direct()

    def tearDown(self):
        self.gw.close()
        self.plain.close()

    def count(self, tag):
        """Rows with tag seen by a fresh gateway session (the sandbox)."""
        with gateway() as other:
            with other.cursor() as cur:
                cur.execute(f"SELECT count(*) FROM {TABLE} WHERE tag = %s", (tag,))
                n = cur.fetchone()[0]
            other.rollback()
        other.close()
        return n

    def insert(self, conn, tag, n=0):
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {TABLE} (tag, n) VALUES (%s, %s)", (tag, n))

    def same_failure(self, statements, conn=None, plain=None):
        """The statements fail alike through the gateway and directly."""
        want = run_failing(plain or self.plain, statements)
        got = run_failing(conn or self.gw, statements)
        self.assertIsNotNone(want["error"], "the statements must fail on a plain connection")
        self.assertEqual(got, want)


def outside(tool, script):
    """Creates the table for real, runs the cases through the tool, checks
    that nothing was committed, and drops the table."""
    dsn = os.environ.get("SANDPOOL_TEST_DSN")
    if not dsn:
        print("SANDPOOL_TEST_DSN is not set: run under scripts/with-postgres", file=sys.stderr)
        return 1
    table = f"gw_psycopg2_{os.getpid()}"
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE TABLE {table} (tag text NOT NULL, n int CHECK (n >= 0), "
                           "note text, UNIQUE (tag, n))")
    try:
        env = dict(os.environ, SANDPOOL_GW_TABLE=table, SANDPOOL_DIRECT_DSN=dsn)
        status = subprocess.run([tool, "--dsn", dsn, "--", sys.executable, script, "--inside"],
                                env=env, timeout=120).returncode
        cur = admin.cursor()
        cur.execute(f"SELECT count(*) FROM {table}")
        committed = cur.fetchone()[0]
        if committed != 0:
            print(f"FAIL: {committed} row(s) committed through the gateway", file=sys.stderr)
            status = status or 1
        return status
    finally:
        admin.cursor().execute(f"DROP TABLE IF EXISTS {table}")
        admin.close()
