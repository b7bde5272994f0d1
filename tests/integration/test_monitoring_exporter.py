"""The release's PostgreSQL exporter (prometheus-postgres-exporter, unpacked by make setup),
run against a real server as a role with pg_monitor only and with the collection's own
queries, serves every PostgreSQL metric roles/monitoring/files/alerts.yml reads, and none of its
queries fails for want of a superuser."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from devtools.monitoring import rule_metrics, samples
from devtools.paths import BIN, ROOT
from devtools.pgserver import free_port
from devtools.waits import wait_for

READ = rule_metrics("backend_db_postgres")


@pytest.fixture(scope="module")
def slot(admin) -> Iterator[str]:
    """A replication slot, as Patroni keeps one for each member on the leader."""
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_create_physical_replication_slot('backend_db_exporter', true)")
    yield "backend_db_exporter"
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_drop_replication_slot('backend_db_exporter')")


@pytest.fixture(scope="module")
def exporter(monitor_login, slot) -> Iterator[str]:
    """The exporter's /metrics, as Prometheus would scrape it. Its login goes in its
    environment (DATA_SOURCE_NAME), as Debian's unit gives it, never in its arguments."""
    port = free_port()
    source = (
        f"host={monitor_login.host} port={monitor_login.port} user={monitor_login.user} "
        f"password={monitor_login.password} dbname={monitor_login.dbname} sslmode=disable"
    )
    process = subprocess.Popen(
        [
            str(BIN / "prometheus-postgres-exporter"),
            f"--web.listen-address=127.0.0.1:{port}",
            f"--extend.query-path={ROOT / 'roles/exporters/files/queries.yml'}",
        ],
        env={"PATH": os.environ["PATH"], "DATA_SOURCE_NAME": source},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        yield wait_for(
            lambda: urllib.request.urlopen(url, timeout=5).read().decode(),
            30, f"the exporter to serve {url}",
        )  # fmt: skip
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
        assert monitor_login.password not in output, "the exporter logged the password"


def test_the_rules_read_metrics_of_the_postgresql_exporter():
    assert {
        "pg_up",
        "backend_db_archiver_last_attempt_failed",
        "backend_db_archiver_oldest_ready_seconds",
    } <= set(READ)


@pytest.mark.parametrize("name", READ)
def test_the_exporter_serves_each_metric_the_rules_read(exporter, name):
    assert samples(exporter, name), f"the exporter serves no {name}"


def test_every_query_of_the_exporter_succeeds_as_a_monitoring_role(exporter):
    assert [value for _, value in samples(exporter, "pg_up")] == [1.0]
    assert [value for _, value in samples(exporter, "pg_exporter_last_scrape_error")] == [0.0]
    loaded = samples(exporter, "pg_exporter_user_queries_load_error")
    assert loaded and all(value == 0 for _, value in loaded), loaded
    # The top statements, each with its id and role (roles/exporters/files/queries.yml).
    statements = samples(exporter, "backend_db_statements_calls")
    assert statements and all(
        "queryid=" in labels and "role=" in labels for labels, _ in statements
    )
