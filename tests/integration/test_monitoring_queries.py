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


def measured(connection, name: str) -> dict[str, float]:
    spec = QUERIES[name]
    with connection.cursor() as cursor:
        cursor.execute(spec["query"])
        rows = cursor.fetchall()
        columns = [column.name for column in cursor.description]
    assert len(rows) == 1, rows
    declared = [next(iter(metric)) for metric in spec["metrics"]]
    assert columns == declared, f"{name} returns {columns}, its metrics name {declared}"
    return {column: float(value) for column, value in zip(columns, rows[0], strict=True)}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_query_runs_as_a_monitoring_role_and_returns_its_metrics(monitor, name):
    assert all(value >= 0 for value in measured(monitor, name).values())


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
