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

from devtools.container import install_pgpass, molecule_playbook, secret
from devtools.monitoring import Prometheus
from devtools.waits import printed, wait_for

DB, APP = (f"backend-db-cluster-{role}" for role in ("db", "app"))
DRILLED = {
    "BackendDbWalArchivingFailing",
    "BackendDbBackupFailed",
    "BackendDbPostgresDown",
    "BackendDbExporterDown",
    "BackendDbPgbouncerDown",
    "BackendDbPgbouncerClientsWaiting",
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
    return WATCH.scraping({"backend_db_postgres", "backend_db_node", "backend_db_tls"})


def test_prometheus_and_alertmanager_listen_on_the_monitoring_host_only(host):
    listening = host.run("ss -Hltn").stdout
    for port in (9090, 9093, 9115):  # the blackbox exporter's too
        assert f"127.0.0.1:{port} " in listening and f"*:{port} " not in listening, listening
    assert ":9094 " not in listening, "Alertmanager's cluster port is closed"


def expires(path: str) -> float:
    """When the certificate at `path` on the database server expires (Unix time)."""
    found = db(f'date -d "$(openssl x509 -noout -enddate -in {path} | cut -d= -f2)" +%s')
    assert found.rc == 0, found.stderr
    return float(found.stdout)


def test_pgbouncers_pools_are_read_through_its_admin_console_and_served(started):
    """The pgbouncer role's service logs in by peer as a stats user and writes the pools
    for the node exporter; a client through PgBouncer shows in them."""
    wait_for_pool = (
        "for i in $(seq 30); do grep -q 'backend_db_pgbouncer_clients{database=\"backend\"' %s"
        " && exit 0; sleep 1; done; exit 1"
    )
    up = WATCH.values('backend_db_pgbouncer_up{job="backend_db_node"}')
    assert list(up.values()) == [1.0], up
    # test_cluster.py's clients came through PgBouncer: the application's pool is listed.
    found = db(wait_for_pool % "/var/lib/prometheus/node-exporter/backend_db_pgbouncer.prom")
    assert found.rc == 0, "the application's pool is listed"
    # No one else may use the admin console on the Unix socket, and the reader only SHOW.
    console = "psql -XAtq -h /var/run/postgresql -p 6432 -d pgbouncer -c %s"
    refused = db(f"PGCONNECT_TIMEOUT=5 timeout 20 runuser -u postgres -- {console}", "SHOW POOLS")
    assert refused.rc != 0 and "backend" not in refused.stdout, refused.stdout
    paused = db(f"runuser -u prometheus -- {console}", "PAUSE")
    assert paused.rc != 0 and "admin access needed" in paused.stderr, paused.stderr


def test_the_servers_certificate_and_its_ca_are_watched_until_they_expire(started):
    """The blackbox exporter's probe of the server's TLS endpoint (its PostgreSQL
    exporter, which presents the server's certificate) passes verification against the
    project CA and reports the expiry of the server's certificate and of the CA's."""
    assert set(WATCH.values('probe_success{job="backend_db_tls"}').values()) == {1.0}
    server = WATCH.values('probe_ssl_earliest_cert_expiry{job="backend_db_tls"}')
    chain = WATCH.values('probe_ssl_last_chain_expiry_timestamp_seconds{job="backend_db_tls"}')
    certificate, ca = (
        expires("/etc/postgresql/17/main/server.crt"),
        expires("/etc/backend-db/ca.crt"),
    )
    assert list(server.values()) == [certificate], (server, certificate)
    assert list(chain.values()) == [min(certificate, ca)], (chain, certificate, ca)


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


def application_dsn() -> str:
    """How the application host reaches PgBouncer on the server, as the application."""
    install_pgpass(APP, [("backend", "backend_app", secret("backend_app"))])
    return (
        f"host={db('hostname -I').stdout.split()[0]} port=6432 dbname=backend user=backend_app"
        " sslmode=verify-full sslrootcert=/etc/backend-db/ca.crt"
    )


def test_clients_beyond_pgbouncers_pool_raise_their_alert(started):
    """Every server connection of the application's pool busy with a long statement, and
    three clients more from the application host: they wait in PgBouncer."""
    size = db("sed -n 's/^default_pool_size = //p' /etc/pgbouncer/pgbouncer.ini").stdout
    dsn = application_dsn()
    app = testinfra.get_host(f"podman://{APP}")
    load = "for i in $(seq %s); do setsid -f psql -XAtq %s -c %s >/dev/null 2>&1; done"
    fault = time.monotonic()
    assert app.run(load, str(int(size) + 3), dsn, "SELECT pg_sleep(100) AS drill").rc == 0
    try:
        WATCH.raised("BackendDbPgbouncerClientsWaiting", fault)
    finally:
        app.run("pkill -f 'pg_sleep.100. AS drill'")
        db(
            "runuser -u postgres -- psql -XAtq -c %s",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'SELECT pg_sleep(100) AS drill%' AND pid <> pg_backend_pid()",
        )
    WATCH.resolved("BackendDbPgbouncerClientsWaiting")


@pytest.mark.parametrize(
    "unit, alert",
    [("postgresql@17-main", "BackendDbPostgresDown"),
     ("prometheus-node-exporter", "BackendDbExporterDown"),
     ("pgbouncer", "BackendDbPgbouncerDown")],
    ids=["server", "exporter", "pgbouncer"],
)  # fmt: skip
def test_a_stopped_unit_raises_its_alert(started, unit, alert):
    """PostgreSQL stopped (its exporter answers with pg_up 0), the node exporter, or
    PgBouncer (the service that reads its pools writes backend_db_pgbouncer_up 0)."""
    assert db(f"systemctl stop {unit}").rc == 0
    try:
        WATCH.raised(alert, time.monotonic())
    finally:
        assert db(f"systemctl start {unit}").rc == 0
    WATCH.resolved(alert)


def test_pools_read_no_more_are_not_served_and_come_back_when_read_again(started):
    """pgbouncer_metrics_dir empty (as with the exporters off): a converge stops and
    removes the service that read PgBouncer's pools, and what it wrote goes with it, so
    no stale pools are served (BackendDbPgbouncerDown would read them as a PgBouncer
    nobody reads). Set again, the next converge brings them back."""
    up = 'backend_db_pgbouncer_up{job="backend_db_node"}'
    off = molecule_playbook("molecule/cluster/converge.yml", "-e", '{"pgbouncer_metrics_dir": ""}')
    assert off.returncode == 0, printed(off)
    assert db("systemctl cat backend-db-pgbouncer-metrics").rc != 0, "the unit is gone"
    gone = db("test -e /var/lib/prometheus/node-exporter/backend_db_pgbouncer.prom")
    assert gone.rc == 1, "the pools it wrote are gone"
    wait_for(lambda: WATCH.values(up) == {}, 60, "Prometheus no longer has PgBouncer's pools")
    # PgBouncer still serves the application, without the stats user it no longer has.
    app = testinfra.get_host(f"podman://{APP}")
    served = app.run("psql -XAtq %s -c %s", application_dsn(), "SELECT 1")
    assert served.rc == 0 and served.stdout.strip() == "1", served.stderr
    on = molecule_playbook("molecule/cluster/converge.yml")
    assert on.returncode == 0, printed(on)
    wait_for(lambda: list(WATCH.values(up).values()) == [1.0], 60, "PgBouncer's pools are back")


def test_only_the_drilled_alerts_fired_in_the_whole_scenario(started):
    WATCH.quiet()
    assert WATCH.ever_fired(started - 3600) == DRILLED
