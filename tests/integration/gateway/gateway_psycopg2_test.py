#!/usr/bin/env python3
"""psycopg2 through sandpool-gateway: a client nobody here wrote, in its own
idioms (the implicit transaction with commit() and rollback(), autocommit,
%s parameters, named server-side cursors, read-only sessions), sees what it
sees on a plain PostgreSQL connection; errors and notices are compared field
by field with the same statements on a direct connection (PostgreSQL is the
oracle); and after the tool exits nothing is committed.

Usage: gateway_psycopg2_test.py SANDPOOL_GATEWAY   (under scripts/with-postgres)
It creates and commits a table directly, runs its test cases inside
`SANDPOOL_GATEWAY --dsn $SANDPOOL_TEST_DSN -- python3 this-file --inside`
(libpq's PG* variables then point at the gateway; SANDPOOL_DIRECT_DSN names
the real server), checks that the table is still empty, and drops it; the
harness that does so is gateway_psycopg2_harness.py, beside this file.
"""
import datetime
import decimal
import io
import sys
import threading
import unittest

import psycopg2
import psycopg2.errors
import psycopg2.extensions as ext
import psycopg2.extras

from gateway_psycopg2_harness import TABLE, outside, session_case


class implicit_transaction_test(session_case):
    def test_commit_makes_rows_visible_to_other_sessions(self):
        self.insert(self.gw, "py-commit", 1)
        self.assertEqual(self.gw.info.transaction_status, ext.TRANSACTION_STATUS_INTRANS)
        self.gw.commit()
        self.assertEqual(self.gw.info.transaction_status, ext.TRANSACTION_STATUS_IDLE)
        self.assertEqual(self.count("py-commit"), 1)

    def test_rollback_discards_the_transaction_only(self):
        self.insert(self.gw, "py-kept", 1)
        self.gw.commit()
        self.insert(self.gw, "py-rolled-back", 1)
        self.gw.rollback()
        self.assertEqual(self.count("py-rolled-back"), 0)
        self.assertEqual(self.count("py-kept"), 1)

    def test_savepoints_inside_the_transaction(self):
        cur = self.gw.cursor()
        self.insert(self.gw, "py-sp-outer", 1)
        cur.execute("SAVEPOINT a")
        self.insert(self.gw, "py-sp-inner", 1)
        cur.execute("ROLLBACK TO SAVEPOINT a")
        cur.execute("RELEASE SAVEPOINT a")
        self.gw.commit()
        self.assertEqual(self.count("py-sp-outer"), 1)
        self.assertEqual(self.count("py-sp-inner"), 0)

    def test_another_session_waits_until_the_transaction_ends(self):
        # A session inside its transaction keeps the turn on the owner's
        # connection: the other's statement runs after the commit.
        self.insert(self.gw, "py-turn", 1)
        seen = []
        other = threading.Thread(target=lambda: seen.append(self.count("py-turn")))
        other.start()
        other.join(0.3)
        self.assertTrue(other.is_alive(), "the other session ran inside this one's transaction")
        self.gw.commit()
        other.join(10)
        self.assertEqual(seen, [1])

    def test_context_manager_commits_or_rolls_back(self):
        with self.gw:
            self.insert(self.gw, "py-with-ok")
        with self.assertRaises(psycopg2.errors.DivisionByZero):
            with self.gw:
                self.insert(self.gw, "py-with-failed")
                self.gw.cursor().execute("SELECT 1/0")
        self.assertEqual(self.count("py-with-ok"), 1)
        self.assertEqual(self.count("py-with-failed"), 0)

    def test_session_reports_the_servers_parameters(self):
        self.assertEqual(self.gw.server_version, self.plain.server_version)
        for name in ["server_encoding", "client_encoding", "DateStyle", "integer_datetimes",
                     "standard_conforming_strings"]:
            self.assertEqual(self.gw.get_parameter_status(name),
                             self.plain.get_parameter_status(name), name)
        self.assertEqual(self.gw.encoding, self.plain.encoding)


class errors_test(session_case):
    def test_errors_match_a_plain_connection(self):
        t = TABLE
        cases = {
            "division by zero": [("SELECT 1/0", None)],
            "undefined column, with position": [(f"SELECT nosuchcolumn FROM {t}", None)],
            "syntax error": [("SELEC 1", None)],
            "syntax error at the end": [("SELECT 1 +;", None)],
            "bad input, from a parameter": [("SELECT %s::int", ("abc",))],
            "unique violation, with detail and constraint": [
                (f"INSERT INTO {t} (tag, n) VALUES ('py-dup', 1)", None),
                (f"INSERT INTO {t} (tag, n) VALUES ('py-dup', 1)", None)],
            "check violation": [(f"INSERT INTO {t} (tag, n) VALUES ('py-neg', -1)", None)],
            "not null violation": [(f"INSERT INTO {t} (tag) VALUES (NULL)", None)],
            "raised with detail, hint and code": [(
                "DO $$BEGIN RAISE NOTICE 'before %', 1; RAISE EXCEPTION 'custom %', 42 "
                "USING DETAIL = 'the detail', HINT = 'the hint', ERRCODE = 'SP042'; END$$",
                None)],
            "second statement of a string": [("SELECT 1; SELECT 1/0", None)],
            "undefined table": [("SELECT * FROM py_no_such_table", None)],
        }
        for name, statements in cases.items():
            with self.subTest(name):
                self.same_failure(statements)

    def test_failed_statement_does_not_end_the_session(self):
        cur = self.gw.cursor()
        with self.assertRaises(psycopg2.errors.DivisionByZero) as e:
            cur.execute("SELECT 1/0")
        self.assertEqual(e.exception.pgcode, "22012")
        self.assertEqual(e.exception.diag.message_primary, "division by zero")
        self.assertEqual(self.gw.info.transaction_status, ext.TRANSACTION_STATUS_INERROR)
        with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
            cur.execute("SELECT 1")
        self.gw.rollback()
        cur.execute("SELECT 3")
        self.assertEqual(cur.fetchone(), (3,))

    def test_notices_and_warnings_match(self):
        sql = "DO $$BEGIN RAISE NOTICE 'hello %', 1; RAISE WARNING 'careful'; END$$"
        seen = []
        for conn in (self.plain, self.gw):
            conn.autocommit = True
            del conn.notices[:]
            cur = conn.cursor()
            cur.execute(sql)
            cur.execute("COMMIT")  # no transaction in progress: a warning
            seen.append(list(conn.notices))
        self.assertEqual(seen[1], seen[0])
        self.assertEqual(len(seen[0]), 3)

    def test_copy_is_refused_with_a_clear_error_and_the_session_goes_on(self):
        cur = self.gw.cursor()
        with self.assertRaises(psycopg2.Error) as e:
            cur.copy_expert("COPY (SELECT 1) TO STDOUT", io.StringIO())
        self.assertIn("COPY", str(e.exception))
        self.gw.rollback()
        cur.execute("SELECT 4")
        self.assertEqual(cur.fetchone(), (4,))


class parameters_test(session_case):
    VALUES = ("it's \"quoted\" \\ back", None, 42, 2 ** 40, 3.5, decimal.Decimal("1.10"),
              True, [1, 2, 3], ["a", None], datetime.date(2024, 2, 29),
              datetime.datetime(2024, 1, 2, 3, 4, 5, 6), "été ✓", b"\x00\xff'")

    def select(self, conn):
        args = [psycopg2.Binary(v) if isinstance(v, bytes) else v for v in self.VALUES]
        with conn.cursor() as cur:
            cur.execute("SELECT " + ", ".join(["%s"] * len(args)), args)
            row = list(cur.fetchone())
            row[-1] = bytes(row[-1])
        conn.rollback()
        return row

    def test_values_round_trip_as_on_a_plain_connection(self):
        self.assertEqual(self.select(self.gw), self.select(self.plain))
        self.assertEqual(self.select(self.gw), list(self.VALUES))

    def test_named_parameters_executemany_and_execute_values(self):
        cur = self.gw.cursor()
        cur.execute("SELECT %(a)s || %(b)s, %(a)s", {"a": "x", "b": "y"})
        self.assertEqual(cur.fetchone(), ("xy", "x"))
        cur.executemany(f"INSERT INTO {TABLE} (tag, n, note) VALUES (%s, %s, %s)",
                        [("py-many", i, f"n{i}") for i in range(5)])
        psycopg2.extras.execute_values(
            cur, f"INSERT INTO {TABLE} (tag, n) VALUES %s", [("py-values", i) for i in range(7)])
        self.gw.commit()
        self.assertEqual(self.count("py-many"), 5)
        self.assertEqual(self.count("py-values"), 7)
        cur.execute(f"SELECT n, note FROM {TABLE} WHERE tag = %s ORDER BY n", ("py-many",))
        self.assertEqual(cur.fetchall(), [(i, f"n{i}") for i in range(5)])
        self.gw.rollback()


class server_cursor_test(session_case):
    def test_named_cursor_fetches_in_batches(self):
        cur = self.gw.cursor(name="py_named")
        cur.itersize = 3
        cur.execute("SELECT g FROM generate_series(1, 10) g")
        self.assertEqual(cur.fetchone(), (1,))
        self.assertEqual(cur.fetchmany(2), [(2,), (3,)])
        self.assertEqual([r[0] for r in cur], list(range(4, 11)))
        cur.close()
        self.gw.commit()

    def test_scrollable_cursor(self):
        cur = self.gw.cursor(name="py_scroll", scrollable=True)
        cur.execute("SELECT g FROM generate_series(1, 5) g")
        cur.scroll(3, mode="absolute")
        self.assertEqual(cur.fetchone(), (4,))
        cur.scroll(-2)
        self.assertEqual(cur.fetchone(), (3,))
        cur.close()
        self.gw.rollback()

    def test_cursor_with_hold_outlives_the_commit(self):
        cur = self.gw.cursor(name="py_held", withhold=True)
        cur.execute("SELECT g FROM generate_series(1, 4) g")
        self.gw.commit()
        self.assertEqual(cur.fetchall(), [(1,), (2,), (3,), (4,)])
        cur.close()

    def test_cursor_name_is_free_again_after_commit(self):
        # A cursor left open at commit is gone afterwards on a plain server.
        for conn in (self.plain, self.gw):
            with self.subTest("plain" if conn is self.plain else "gateway"):
                cur = conn.cursor()
                cur.execute("DECLARE py_again CURSOR FOR SELECT 1")
                conn.commit()
                cur.execute("DECLARE py_again CURSOR FOR SELECT 2")
                cur.execute("FETCH ALL FROM py_again")
                self.assertEqual(cur.fetchall(), [(2,)])
                conn.rollback()


class autocommit_test(session_case):
    def setUp(self):
        super().setUp()
        self.gw.autocommit = True
        self.plain.autocommit = True

    def test_each_statement_is_seen_at_once(self):
        self.insert(self.gw, "py-auto", 1)
        self.assertEqual(self.gw.info.transaction_status, ext.TRANSACTION_STATUS_IDLE)
        self.assertEqual(self.count("py-auto"), 1)

    def test_a_failed_statement_leaves_the_session_idle(self):
        cur = self.gw.cursor()
        with self.assertRaises(psycopg2.errors.UniqueViolation):
            cur.execute(f"INSERT INTO {TABLE} (tag, n) VALUES ('py-auto-dup', 1), "
                        "('py-auto-dup', 1)")
        self.assertEqual(self.gw.info.transaction_status, ext.TRANSACTION_STATUS_IDLE)
        self.assertEqual(self.count("py-auto-dup"), 0)
        cur.execute("SELECT 5")
        self.assertEqual(cur.fetchone(), (5,))

    def test_explicit_blocks(self):
        cur = self.gw.cursor()
        cur.execute("BEGIN")
        self.assertEqual(self.gw.info.transaction_status, ext.TRANSACTION_STATUS_INTRANS)
        self.insert(self.gw, "py-block-rolled-back")
        cur.execute("ROLLBACK")
        cur.execute("BEGIN")
        self.insert(self.gw, "py-block-committed")
        cur.execute("COMMIT")
        self.assertEqual(self.count("py-block-rolled-back"), 0)
        self.assertEqual(self.count("py-block-committed"), 1)

    def test_errors_outside_a_block_match(self):
        self.same_failure([("ROLLBACK TO SAVEPOINT nowhere", None)])
        self.same_failure([("SELECT 1/0", None)])

    def test_savepoint_outside_a_block_fails_as_on_a_plain_connection(self):
        self.same_failure([("SAVEPOINT nowhere", None)])

    def test_declare_outside_a_block_fails_as_on_a_plain_connection(self):
        self.same_failure([("DECLARE py_nowhere CURSOR FOR SELECT 1", None)])


class session_options_test(session_case):
    def test_read_only_session_is_refused_with_the_way_out(self):
        # A savepoint cannot be read-only: the sandbox refuses BEGIN READ ONLY
        # rather than let the test's writes through.
        self.gw.set_session(readonly=True)
        with self.assertRaises(psycopg2.errors.ActiveSqlTransaction) as e:
            self.gw.cursor().execute("SELECT 1")
        self.assertIn("READ ONLY", e.exception.diag.message_primary)
        self.assertIn("unsandboxed", e.exception.diag.message_primary)
        self.gw.rollback()
        self.gw.set_session(readonly=False)
        self.insert(self.gw, "py-rw")
        self.gw.commit()
        self.assertEqual(self.count("py-rw"), 1)

    def test_reset_returns_the_session_to_its_start(self):
        cur = self.gw.cursor()
        cur.execute("SELECT 1")
        self.gw.reset()
        self.assertEqual(self.gw.info.transaction_status, ext.TRANSACTION_STATUS_IDLE)
        cur = self.gw.cursor()
        cur.execute("SELECT 2")
        self.assertEqual(cur.fetchone(), (2,))

    def test_cancel_stops_the_running_statement(self):
        timer = threading.Timer(0.5, self.gw.cancel)
        timer.start()
        try:
            with self.assertRaises(psycopg2.errors.QueryCanceled):
                self.gw.cursor().execute("SELECT pg_sleep(20)")
        finally:
            timer.cancel()
        self.gw.rollback()
        cur = self.gw.cursor()
        cur.execute("SELECT 6")
        self.assertEqual(cur.fetchone(), (6,))


if __name__ == "__main__":
    if sys.argv[1:] == ["--inside"]:
        unittest.main(argv=[sys.argv[0], "-v"])
    elif len(sys.argv) == 2:
        sys.exit(outside(sys.argv[1], __file__))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
