"""The monitoring drill: a real Prometheus and Alertmanager on the application host (the
monitoring role) scrape the database server's exporters over verified TLS and evaluate the
collection's rules, with the scenario's durations (15 s, molecule.yml). Each fault the
drill makes raises its named alert within two minutes and reaches Alertmanager; each
resolves once the fault is mended; and no other alert fires in the whole scenario.

Runs after test_cluster.py (its last backup is the newest one here)."""

from __future__ import annotations

import time

import pytest
import testinfra

from devtools.monitoring import Prometheus

DB, APP = (f"backend-db-cluster-{role}" for role in ("db", "app"))
DRILLED = {
    "BackendDbWalArchivingFailing",
    "BackendDbBackupFailed",
    "BackendDbPostgresDown",
    "BackendDbExporterDown",
}
REPO = "/var/lib/pgbackrest"
DIFF_BACKUP = "backend-db-backup-main@diff.service"
WATCH = Prometheus(APP)

testinfra_hosts = [f"podman://{APP}"]


def db(command: str, *args: str):
    return testinfra.get_host(f"podman://{DB}").run(command, *args)


@pytest.fixture(scope="module")
def started():
    """When the drill began, with every target up."""
    return WATCH.scraping({"backend_db_postgres", "backend_db_node"})


def test_prometheus_and_alertmanager_listen_on_the_monitoring_host_only(host):
    listening = host.run("ss -Hltn").stdout
    assert "127.0.0.1:9090 " in listening and "127.0.0.1:9093 " in listening, listening
    assert ":9094 " not in listening, "Alertmanager's cluster port is closed"


def test_nothing_fires_on_the_healthy_server(started):
    WATCH.quiet()
    # Since Prometheus started (the converge), no alert fired.
    assert WATCH.ever_fired(started - 3600) == set()


def test_an_unreadable_repository_and_a_failed_backup_raise_their_alerts(started):
    assert db(f"chmod 0000 {REPO}").rc == 0
    try:
        fault = time.monotonic()
        # A segment to archive, which pgBackRest cannot push.
        wrote = db(
            "runuser -u postgres -- psql -XAtq -c %s -c %s",
            "CREATE TABLE monitoring_drill AS SELECT 1; DROP TABLE monitoring_drill",
            "SELECT pg_switch_wal()",
        )
        assert wrote.rc == 0, wrote.stderr
        backup = db(f"timeout 300 systemctl start {DIFF_BACKUP}")
        assert backup.rc != 0, "the backup failed"
        WATCH.raised("BackendDbWalArchivingFailing", fault)
        WATCH.raised("BackendDbBackupFailed", fault)
    finally:
        db(f"chmod 0750 {REPO}")
    # Mended: the archiver's next attempt succeeds, the next backup completes.
    assert db(f"timeout 300 systemctl start {DIFF_BACKUP}").rc == 0
    WATCH.resolved("BackendDbWalArchivingFailing")
    WATCH.resolved("BackendDbBackupFailed")


@pytest.mark.parametrize(
    "unit, alert",
    [("postgresql@17-main", "BackendDbPostgresDown"),
     ("prometheus-node-exporter", "BackendDbExporterDown")],
    ids=["server", "exporter"],
)  # fmt: skip
def test_a_stopped_unit_raises_its_alert(started, unit, alert):
    """PostgreSQL stopped (its exporter answers with pg_up 0), or the node exporter."""
    assert db(f"systemctl stop {unit}").rc == 0
    try:
        WATCH.raised(alert, time.monotonic())
    finally:
        assert db(f"systemctl start {unit}").rc == 0
    WATCH.resolved(alert)


def test_only_the_drilled_alerts_fired_in_the_whole_scenario(started):
    WATCH.quiet()
    assert WATCH.ever_fired(started - 3600) == DRILLED
