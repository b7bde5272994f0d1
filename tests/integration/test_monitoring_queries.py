"""The queries roles/exporters/files/queries.yml gives the PostgreSQL exporter run
on a real server as a role with pg_monitor only (the exporter's role needs no superuser),
return one row with the columns their metrics name, and measure what the alerts read."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from devtools.paths import ROOT

QUERIES = yaml.safe_load((ROOT / "roles/exporters/files/queries.yml").read_text())


@pytest.fixture(scope="module")
def monitor(monitor_login):
    """A connection as the monitoring role (tests/integration/conftest.py)."""
    connection = monitor_login.connect()
    connection.autocommit = True
    yield connection
    connection.close()


def rows(connection, name: str) -> list[dict]:
    """The query's rows as its metrics name their columns: a label as text, a value as a number."""
    spec = QUERIES[name]
    with connection.cursor() as cursor:
        cursor.execute(spec["query"])
        found = cursor.fetchall()
        columns = [column.name for column in cursor.description]
    declared = [next(iter(metric)) for metric in spec["metrics"]]
    assert columns == declared, f"{name} returns {columns}, its metrics name {declared}"
    usage = {
        column: next(iter(metric.values()))["usage"]
        for column, metric in zip(declared, spec["metrics"], strict=True)
    }
    return [
        {
            column: value if usage[column] == "LABEL" else float(value)
            for column, value in zip(columns, row, strict=True)
        }
        for row in found
    ]


def measured(connection, name: str) -> dict[str, float]:
    found = rows(connection, name)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_query_runs_as_a_monitoring_role_and_returns_its_metrics(monitor, name):
    for row in rows(monitor, name):
        assert all(isinstance(value, str) or value >= 0 for value in row.values()), row


def test_the_statements_that_took_the_most_time_are_listed_with_their_role(
    postgres, admin, monitor
):
    """Another role's statements, read in full by the monitoring role (pg_monitor)."""
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_stat_statements_reset()")
        cursor.execute("SELECT pg_sleep(0.3), 'backend-db statements test'")
        for _ in range(3):
            cursor.execute("SELECT count(*) FROM pg_class")
    found = rows(monitor, "backend_db_statements")
    assert 2 <= len(found) <= 10, found
    slowest = found[0]
    assert slowest["role"] == postgres.url().username and slowest["calls"] == 1, found
    assert 0.3 <= slowest["seconds"] < 5, found
    assert any(row["calls"] == 3 for row in found), found


def test_a_segment_waiting_to_be_archived_is_counted_with_its_age(postgres, monitor):
    nothing_waits = {"ready_segments": 0, "oldest_ready_seconds": 0, "last_attempt_failed": 0}
    assert measured(monitor, "backend_db_archiver") == nothing_waits
    status = Path(postgres.datadir) / "pg_wal" / "archive_status"
    waiting = status / "00000001000000000000FFFE.ready"
    waiting.touch()
    if os.geteuid() == 0:
        shutil.chown(waiting, "postgres")
    # Waiting for twenty minutes, as a segment behind a failing archive_command does.
    then = time.time() - 1200
    os.utime(waiting, (then, then))
    try:
        found = measured(monitor, "backend_db_archiver")
    finally:
        waiting.unlink()
    assert found["ready_segments"] == 1
    assert 1190 < found["oldest_ready_seconds"] < 1300, found


def test_a_slot_nobody_uses_is_listed_with_the_wal_it_keeps(admin, monitor):
    """A physical slot whose member is gone keeps every segment written since it was last
    used: the query says it is inactive and how much it keeps."""
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_create_physical_replication_slot('backend_db_gone', true)")
        try:
            cursor.execute("CREATE TABLE backend_db_filler (x text)")
            cursor.execute(
                "INSERT INTO backend_db_filler SELECT repeat(md5(i::text), 32)"
                " FROM generate_series(1, 5000) AS i"
            )
            cursor.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)"
                " FROM pg_replication_slots WHERE slot_name = 'backend_db_gone'"
            )
            (kept,) = cursor.fetchone()
            found = [row for row in rows(monitor, "backend_db_replication_slots")
                     if row["slot_name"] == "backend_db_gone"]  # fmt: skip
        finally:
            cursor.execute("DROP TABLE IF EXISTS backend_db_filler")
            cursor.execute("SELECT pg_drop_replication_slot('backend_db_gone')")
    assert len(found) == 1, found
    assert found[0]["slot_type"] == "physical" and found[0]["active"] == 0, found
    # What was just written (megabytes, compressed), as the server itself counts it.
    assert kept > 1_000_000 and found[0]["retained_bytes"] >= kept, (kept, found)
