"""Faults during a migration: a killed runner, a terminated backend, a locked table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import (
    APPLICATION_NAME,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.migrate_options import (
    DEFAULT_LOCK_ATTEMPTS,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationError
from devtools import waits
from devtools.paths import ROOT
from tests.helpers import add_locale_revision, add_revision, head_revision, run

HEAD = head_revision()
STALLING = "5a11ed000001"
# The revision creates a table, then stalls for a minute while a table named
# stall_here exists (the test creates it to hold the revision in mid-flight).
STALLING_BODY = """
op.create_table('audit', sa.Column('id', sa.Integer, primary_key=True))
op.execute("SELECT pg_sleep(60) FROM pg_tables WHERE tablename = 'stall_here'")
"""
RUNNER = """
import os, sqlalchemy as sa
from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
    MigrationRequest, migrate)
migrate(MigrationRequest(script_location=os.environ['SCRIPTS'], url=sa.make_url(os.environ['URL'])))
"""


def start_runner(database, scripts) -> subprocess.Popen:
    """The migration in a process of its own, which a test may signal."""
    env = dict(
        os.environ,
        SCRIPTS=str(scripts),
        URL=database.url.render_as_string(hide_password=False),
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "collections")]),
    )
    return subprocess.Popen([sys.executable, "-c", RUNNER], env=env, cwd=ROOT)


def wait_for(condition, timeout: float, what: str):
    return waits.wait_for(condition, timeout, what, interval=0.1)


def stalled_backend(database) -> int | None:
    return database.scalar(
        "SELECT pid FROM pg_stat_activity WHERE application_name = :app"
        " AND query LIKE '%pg_sleep%' AND state = 'active'",
        app=APPLICATION_NAME,
    )


def advisory_locks(database) -> int:
    return database.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")


def assert_left_at_head_with_nothing_half_made(database):
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD
    assert database.scalar("SELECT to_regclass('public.audit') IS NULL") is True


@pytest.fixture
def stalling(database, scripts):
    run(database)
    add_revision(scripts, STALLING, HEAD, "create audit then stall", STALLING_BODY)
    database.execute("CREATE TABLE stall_here ()")
    return scripts


def test_sigkill_of_the_runner_mid_revision_leaves_the_previous_revision(database, stalling):
    runner = start_runner(database, stalling)
    try:
        wait_for(lambda: stalled_backend(database), 30, "the revision to be in progress")
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        if runner.poll() is None:
            runner.kill()
    # The server notices the dead client (client_connection_check_interval), rolls the
    # revision back and drops the session-level migration lock.
    wait_for(lambda: advisory_locks(database) == 0, 15, "the migration lock to be released")
    assert stalled_backend(database) is None
    assert_left_at_head_with_nothing_half_made(database)

    database.execute("DROP TABLE stall_here")
    result = run(database, stalling)
    assert [step.revision for step in result.applied] == [STALLING]


FREEZING = "f402e0000001"
# The revision alters users, then its own process stops: the runner is alive but
# silent, its session idle in a transaction that holds ACCESS EXCLUSIVE on users.
FREEZING_BODY = """
op.add_column('users', sa.Column('frozen', sa.Integer))
import os, signal
os.kill(os.getpid(), signal.SIGSTOP)
"""


def process_state(pid: int) -> str:
    # /proc/PID/stat: "pid (comm) state ..."; T is stopped.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_frozen_runner_releases_its_table_lock_within_seconds(database, scripts):
    """A runner stopped after its DDL (paused VM, SIGSTOP) must not hold the table for long."""
    run(database)
    add_revision(scripts, FREEZING, HEAD, "add a column then freeze", FREEZING_BODY)
    runner = start_runner(database, scripts)
    try:
        wait_for(lambda: process_state(runner.pid) == "T", 60, "the runner to freeze after its DDL")
        app = database.engine().connect()
        app.exec_driver_sql("SET statement_timeout = '60s'")
        started = time.monotonic()
        # The application's read queues behind the frozen session's lock until the
        # server ends that session (the module's defaults, nothing tuned).
        app.execute(sa.text("SELECT count(*) FROM users")).scalar()
        waited = time.monotonic() - started
        app.close()
    finally:
        runner.kill()
        runner.wait(timeout=10)
    assert waited < 15, f"the application waited {waited:.1f} s behind a frozen runner"
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD
    assert (
        database.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'frozen'"
        )
        == 0
    )
    wait_for(lambda: advisory_locks(database) == 0, 15, "the migration lock to be released")


def migrate_in_background(database, scripts) -> tuple[threading.Thread, dict]:
    """run() in a started thread; the dict gets the exception it raised, as "error"."""
    outcome: dict[str, BaseException] = {}

    def migrate():
        try:
            run(database, scripts)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=migrate)
    thread.start()
    return thread, outcome


def test_server_terminating_the_backend_mid_revision_is_reported_and_rolled_back(
    postgres, database, stalling
):
    thread, outcome = migrate_in_background(database, stalling)
    pid = wait_for(lambda: stalled_backend(database), 30, "the revision to be in progress")
    admin = sa.create_engine(postgres.url(), poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    thread.join(timeout=30)
    assert not thread.is_alive()

    error = outcome.get("error")
    assert isinstance(error, MigrationError), error
    message = str(error)
    assert STALLING in message and "create audit then stall" in message
    assert f"leaving the database at revision {HEAD}" in message
    assert "\n" not in message and database.owner_password not in message
    assert advisory_locks(database) == 0
    assert_left_at_head_with_nothing_half_made(database)

    database.execute("DROP TABLE stall_here")
    assert [step.revision for step in run(database, stalling).applied] == [STALLING]


def test_a_locked_table_makes_the_migration_give_up_while_traffic_keeps_flowing(database, scripts):
    """With the defaults: the whole lock schedule, then one sentence, traffic flowing."""
    run(database)
    add_locale_revision(scripts, "10cced000001")
    blocker = database.engine().connect()
    blocker.execute(sa.text("SELECT count(*) FROM users"))  # holds ACCESS SHARE until rollback

    started = time.monotonic()
    thread, outcome = migrate_in_background(database, scripts)
    app = database.engine().connect()
    # The schedule's longest attempt is 1 s: no query may wait longer than that (a query
    # over the statement timeout fails the test).
    app.exec_driver_sql("SET statement_timeout = '1.3s'")
    served, longest = 0, 0.0
    while thread.is_alive():
        # An application's reads and writes: each must finish within the statement timeout.
        began = time.monotonic()
        app.execute(sa.text("INSERT INTO users (email) VALUES (:e)"), {"e": f"u{served}@x.io"})
        app.execute(sa.text("SELECT count(*) FROM users")).scalar()
        app.commit()
        longest = max(longest, time.monotonic() - began)
        served += 1
        time.sleep(0.05)
    thread.join()
    took = time.monotonic() - started
    app.close()
    blocker.rollback()
    blocker.close()

    assert served >= 100, f"only {served} application transactions ran during the migration"
    message = str(outcome.get("error"))
    assert isinstance(outcome.get("error"), MigrationError), message
    assert "10cced000001" in message and "lock timeout" in message
    assert "18 attempts of 0.1 to 1 seconds each" in message
    # Each transaction waited behind at most one attempt's lock request (1 s).
    assert longest < 1.25, longest
    # The schedule's bound: its timeouts and a second's pause between attempts.
    bound = sum(DEFAULT_LOCK_ATTEMPTS) + len(DEFAULT_LOCK_ATTEMPTS) - 1
    assert bound - 1 < took < bound + 3, (took, bound)
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD

    result = run(database, scripts)
    assert [step.revision for step in result.applied] == ["10cced000001"]
    assert database.scalar("SELECT count(*) FROM users") == served


class Traffic:
    """An application reading `table` every 50 ms from its own connection, timing each read."""

    def __init__(self, database, table: str) -> None:
        self.database, self.table = database, table
        self.latencies: list[float] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        engine = self.database.engine()
        with engine.connect() as connection:
            connection.exec_driver_sql("SET statement_timeout = '30s'")
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    connection.execute(sa.text(f"SELECT count(*) FROM {self.table}")).scalar()
                    connection.rollback()
                except Exception as exc:  # counted, and the test fails on it
                    self.errors.append(exc)
                    connection.rollback()
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.05)
        engine.dispose()

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()


def hold_access_share(database, table: str, seconds: float) -> threading.Thread:
    """An application transaction that reads `table` and stays open for `seconds`."""

    def hold() -> None:
        engine = database.engine()
        with engine.connect() as connection:
            connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            time.sleep(seconds)
            connection.rollback()
        engine.dispose()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.3)  # the holder has its lock before the migration starts
    return holder


@pytest.mark.parametrize(
    "revision, held, read",
    [
        # A column added to requests while a reader of requests keeps its transaction open.
        ("10cced000002", "requests", "requests"),
        # 33e97be2731d takes requests and, to drop its foreign key, api_keys: with a
        # reader holding api_keys, requests must not stay locked while it waits.
        ("33e97be2731d", "api_keys", "requests"),
    ],
    ids=["one-table", "two-tables"],
)
def test_with_the_defaults_traffic_never_queues_long_behind_a_migration(
    database, scripts, revision, held, read
):
    if revision == "33e97be2731d":
        run(database, revision="34d3f5866348")
    else:
        run(database)
        add_revision(
            scripts, revision, HEAD, "add requests note",
            "op.add_column('requests', sa.Column('note', sa.Text))",
        )  # fmt: skip
    holder = hold_access_share(database, held, seconds=3)
    with Traffic(database, read) as traffic:
        time.sleep(0.3)
        started = time.monotonic()
        result = run(database, scripts, revision=revision)
        took = time.monotonic() - started
        time.sleep(0.3)
    holder.join()
    assert [step.revision for step in result.applied] == [revision]
    assert took > 2, "the migration should have had to wait for the holder"
    assert traffic.errors == []
    # The first lock attempts last 0.1 s: no read waits much longer than an attempt.
    assert max(traffic.latencies) < 1.0, sorted(traffic.latencies)[-5:]
    # The result tells the story: attempts of the default schedule timed out until the
    # holder was gone, and the last one applied the revision.
    outcomes = [attempt["outcome"] for attempt in result.attempts]
    assert len(outcomes) >= 3 and outcomes[-1] == "applied", result.attempts
    assert set(outcomes[:-1]) == {"timeout"}, result.attempts
    assert [attempt["lock_timeout"] for attempt in result.attempts[:3]] == [0.1, 0.1, 0.1]


def test_with_the_defaults_a_revision_holding_its_locks_past_the_bound_is_stopped_and_named(
    database, scripts
):
    """A revision that adds a column and then keeps the table (a data change in the DDL's
    transaction; here a sleep of 8 s) is stopped at the default bound of 5 s and rolled
    back, so traffic waited behind it no longer; its own module-level lock_hold_timeout
    lets it run."""
    run(database)
    path = add_revision(
        scripts, "401d00000001", HEAD, "add users locale then hold users",
        "op.add_column('users', sa.Column('locale', sa.String(10)))\n"
        "op.execute('SELECT pg_sleep(8)')",
        "op.drop_column('users', 'locale')",
    )  # fmt: skip
    with Traffic(database, "users") as traffic:
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(MigrationError) as raised:
            run(database, scripts)
        took = time.monotonic() - started
        time.sleep(0.3)
    message = str(raised.value)
    assert "revision 401d00000001 (add users locale then hold users) failed" in message
    assert "it held its table locks past its bound of 5 seconds" in message, message
    assert f"leaving the database at revision {HEAD}" in message
    assert took < 7, took
    assert traffic.errors == []
    assert max(traffic.latencies) < 5.8, sorted(traffic.latencies)[-3:]
    assert database.scalar(
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_name = 'users' AND column_name = 'locale'"
    ) == 0  # fmt: skip

    path.write_text(path.read_text() + "\n\nlock_hold_timeout = 15\n")
    assert [step.revision for step in run(database, scripts).applied] == ["401d00000001"]
