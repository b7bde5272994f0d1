"""The monitoring drill: a real Prometheus and Alertmanager on the application host (the
monitoring role) scrape the database server's exporters over verified TLS and evaluate the
collection's rules, with the scenario's durations (15 s, molecule.yml). Each fault the
drill makes raises its named alert within two minutes and reaches Alertmanager; each
resolves once the fault is mended; and no other alert fires in the whole scenario.

Runs after test_cluster.py (its last backup is the newest one here)."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
import testinfra

from devtools.waits import wait_for

DB, APP = (f"backend-db-cluster-{role}" for role in ("db", "app"))
DRILLED = {
    "BackendDbWalArchivingFailing",
    "BackendDbBackupFailed",
    "BackendDbPostgresDown",
    "BackendDbExporterDown",
}
# The target: each fault raises its alert within two minutes.
WITHIN = 120
REPO = "/var/lib/pgbackrest"
DIFF_BACKUP = "backend-db-backup-main@diff.service"

testinfra_hosts = [f"podman://{APP}"]


def get(url: str) -> object:
    """A JSON answer of Prometheus or Alertmanager, asked on the monitoring host itself
    (both listen there only)."""
    code = (
        "import sys, urllib.request; "
        "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
    )
    answer = testinfra.get_host(f"podman://{APP}").run("python3 -c %s %s", code, url)
    assert answer.rc == 0, answer.stderr
    return json.loads(answer.stdout)


def prometheus(path: str) -> object:
    answer = get(f"http://127.0.0.1:9090/api/v1/{path}")
    assert answer["status"] == "success", answer
    return answer["data"]


def alerts(state: str = "firing") -> set[str]:
    return {
        alert["labels"]["alertname"]
        for alert in prometheus("alerts")["alerts"]
        if alert["state"] == state
    }


def in_alertmanager() -> set[str]:
    return {
        alert["labels"]["alertname"]
        for alert in get("http://127.0.0.1:9093/api/v2/alerts?active=true")
    }


def ever_fired(since: float) -> set[str]:
    """The alerts that fired at any time since `since` (Prometheus's ALERTS series)."""
    window = max(60, int(time.time() - since) + 30)
    query = f"count by (alertname) (max_over_time(ALERTS{{alertstate='firing'}}[{window}s]))"
    result = prometheus(f"query?query={quote(query, safe='')}")["result"]
    return {series["metric"]["alertname"] for series in result}


def db(command: str, *args: str):
    return testinfra.get_host(f"podman://{DB}").run(command, *args)


def raised(name: str, since: float) -> float:
    """Waits for `name` to fire, then for Alertmanager to have it; the seconds it took."""
    wait_for(lambda: name in alerts(), WITHIN, f"{name} to fire", 2, lambda: alerts("pending"))
    took = time.monotonic() - since
    wait_for(lambda: name in in_alertmanager(), 30, f"Alertmanager to receive {name}", 2)
    return took


def resolved(name: str) -> None:
    wait_for(lambda: name not in alerts() | alerts("pending"), WITHIN, f"{name} to resolve", 2)


@pytest.fixture(scope="module")
def started():
    """When the drill began, with every target up and nothing firing or pending."""

    def scraped():
        targets = prometheus("targets")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(scraped, 60, "every target to be scraped", 2)
    assert {target["labels"]["job"] for target in targets} == {
        "backend_db_postgres",
        "backend_db_node",
    }
    return time.time()


def test_prometheus_and_alertmanager_listen_on_the_monitoring_host_only(host):
    listening = host.run("ss -Hltn").stdout
    assert "127.0.0.1:9090 " in listening and "127.0.0.1:9093 " in listening, listening
    assert ":9094 " not in listening, "Alertmanager's cluster port is closed"


def test_nothing_fires_on_the_healthy_server(started):
    assert alerts() == set() and alerts("pending") == set()
    # Since Prometheus started (the converge), no alert fired either.
    assert ever_fired(started - 3600) == set()


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
        took = {
            name: raised(name, fault)
            for name in ("BackendDbWalArchivingFailing", "BackendDbBackupFailed")
        }
    finally:
        db(f"chmod 0750 {REPO}")
    for name, seconds in took.items():
        print(f"\nmonitoring drill: {name} raised after {seconds:.1f} s")
    # Mended: the archiver's next attempt succeeds, the next backup completes.
    assert db(f"timeout 300 systemctl start {DIFF_BACKUP}").rc == 0
    resolved("BackendDbWalArchivingFailing")
    resolved("BackendDbBackupFailed")


def test_a_stopped_server_raises_its_alert(started):
    assert db("systemctl stop postgresql@17-main").rc == 0
    try:
        took = raised("BackendDbPostgresDown", time.monotonic())
    finally:
        assert db("systemctl start postgresql@17-main").rc == 0
    print(f"\nmonitoring drill: BackendDbPostgresDown raised after {took:.1f} s")
    resolved("BackendDbPostgresDown")


def test_a_stopped_exporter_raises_its_alert(started):
    assert db("systemctl stop prometheus-node-exporter").rc == 0
    try:
        took = raised("BackendDbExporterDown", time.monotonic())
    finally:
        assert db("systemctl start prometheus-node-exporter").rc == 0
    print(f"\nmonitoring drill: BackendDbExporterDown raised after {took:.1f} s")
    resolved("BackendDbExporterDown")


def test_only_the_drilled_alerts_fired_in_the_whole_scenario(started):
    assert ever_fired(started - 3600) == DRILLED
    assert alerts() == set() and alerts("pending") == set()
