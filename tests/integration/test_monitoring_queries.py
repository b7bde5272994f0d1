"""The queries roles/exporters/files/queries.yml gives the PostgreSQL exporter run
on a real server as a role with pg_monitor only (the exporter's role needs no superuser),
return one row with the columns their metrics name, and measure what the alerts read."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import psycopg2
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


def test_the_statements_that_took_the_most_time_are_listed_with_their_role(postgres, monitor):
    """Another role's statements, read in full by the monitoring role (pg_monitor)."""
    url = postgres.url()
    admin = psycopg2.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_stat_statements_reset()")
        cursor.execute("SELECT pg_sleep(0.3), 'backend-db statements test'")
        for _ in range(3):
            cursor.execute("SELECT count(*) FROM pg_class")
    admin.close()
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
