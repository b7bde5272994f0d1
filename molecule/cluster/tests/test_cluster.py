"""Verification across hosts: TLS from the allowed host, refusal elsewhere, one migration."""

from __future__ import annotations

import json

import pytest
import testinfra

from devtools.container import (
    assert_reads_and_writes_over_tls,
    install_pgpass,
    molecule_playbook,
    secret,
)
from devtools.monitoring import samples
from devtools.waits import printed, said
from tests.helpers import head_revision, lineage

DB, APP, OUTSIDER = (f"backend-db-cluster-{role}" for role in ("db", "app", "outsider"))


def address(name: str) -> str:
    """The container's address on the scenario network."""
    host = testinfra.get_host(f"podman://{name}")
    return host.run("hostname -I").stdout.split()[0]


testinfra_hosts = [f"podman://{APP}"]


def client(name: str):
    """psql over TCP from container `name` to the database server, as backend_app."""
    install_pgpass(name, [("backend", "backend_app", secret("backend_app"))])
    host = testinfra.get_host(f"podman://{name}")

    def run(
        sql: str = "SELECT 1",
        sslmode: str = "require",
        user: str = "backend_app",
        database: str = "backend",
        port: int = 5432,
    ):
        dsn = (
            f"host={address(DB)} port={port} dbname={database} user={user} "
            f"sslmode={sslmode} connect_timeout=5"
        )
        return host.run("psql -XAtq -v ON_ERROR_STOP=1 %s -c %s", dsn, sql)

    return run


@pytest.fixture(scope="module")
def app():
    return client(APP)


@pytest.fixture(scope="module")
def outsider():
    return client(OUTSIDER)


def test_application_host_reads_and_writes_over_tls(app):
    assert_reads_and_writes_over_tls(app)


def test_the_server_presents_the_certificate_the_inventory_supplied(app):
    supplied = app(sslmode="verify-ca sslrootcert=/root/backend-db-server.crt")
    assert supplied.rc == 0, supplied.stderr
    # The same check against any other authority fails, so the one above means something.
    other = app(sslmode="verify-ca sslrootcert=/etc/ssl/certs/ca-certificates.crt")
    assert other.rc != 0 and "certificate verify failed" in other.stderr


def test_the_application_host_has_the_ca_its_migration_verified_the_server_with(app):
    # The role wrote the inventory's CA certificate where the migration's ca_cert points.
    verified = app(sslmode="verify-full sslrootcert=/etc/backend-db/ca.crt")
    assert verified.rc == 0, verified.stderr


def test_the_application_host_reaches_the_server_through_pgbouncer_with_tls_verified_both_ways(app):
    # Through PgBouncer (6432) with the certificate the inventory supplied; PgBouncer logs
    # in as the client from the server's own host, over TLS it verified, and looked the
    # client's verifier up as its lookup role, which logs in with that certificate.
    result = app(
        "SELECT current_user, host(inet_client_addr()), ssl FROM pg_stat_ssl"
        " WHERE pid = pg_backend_pid()",
        sslmode="verify-full sslrootcert=/etc/backend-db/ca.crt",
        port=6432,
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "backend_app|127.0.0.1|t"


def test_pgbouncer_refuses_a_host_outside_the_allowed_networks_and_plain_tcp(app, outsider):
    # PgBouncer logs in from the server's host, so its own pg_hba.conf keeps others out.
    refused = outsider(sslmode="require", port=6432)
    # Debian 13's PgBouncer 1.24 (1.18 says "login rejected").
    assert refused.rc != 0 and "no authentication method is found" in refused.stderr, refused.stderr
    plain = app(sslmode="disable", port=6432)
    assert plain.rc != 0 and "SSL required" in plain.stderr, plain.stderr


def scrape(port: int, scheme: str = "https"):
    """GET /metrics of an exporter on the database server, from the application host,
    verifying its certificate against the CA the host has (and the address it names)."""
    code = (
        "import ssl, urllib.request; context = ssl.create_default_context("
        "cafile='/etc/backend-db/ca.crt'); print(urllib.request.urlopen("
        f"'{scheme}://{address(DB)}:{port}/metrics', context=context, timeout=10).read().decode())"
    )
    return testinfra.get_host(f"podman://{APP}").run("python3 -c %s", code)


def sample(metrics: str, name: str) -> list[float]:
    return [value for _, value in samples(metrics, name)]


def test_the_exporters_serve_the_servers_metrics_over_verified_tls():
    postgres = scrape(9187)
    assert postgres.rc == 0, postgres.stderr
    # Logged in (over the socket, as the monitoring role, by peer), every query answered.
    assert sample(postgres.stdout, "pg_up") == [1.0], postgres.stdout[-2000:]
    assert sample(postgres.stdout, "pg_exporter_last_scrape_error") == [0.0]
    assert sample(postgres.stdout, "backend_db_archiver_ready_segments"), "the collection's queries"
    assert sample(postgres.stdout, "pg_stat_archiver_archived_count")
    node = scrape(9100)
    assert node.rc == 0, node.stderr
    assert sample(node.stdout, "node_filesystem_avail_bytes")


BACKUP_AGE = "backend_db_backup_last_completion_timestamp_seconds"


def test_each_backup_that_completes_tells_the_node_exporter_when():
    """The first full backup (the role's), then a differential one the scheduled unit
    runs: each type's newest completion time, as pgbackrest info gives it, is served."""
    db = testinfra.get_host(f"podman://{DB}")
    completed = dict(samples(scrape(9100).stdout, BACKUP_AGE))
    assert list(completed) == ['{stanza="main",type="full"}'], completed
    started = int(db.run("date +%s").stdout)
    ran = db.run("systemctl start backend-db-backup-main@diff.service")
    assert ran.rc == 0, ran.stderr
    stops = newest_backups()
    completed = dict(samples(scrape(9100).stdout, BACKUP_AGE))
    assert completed == {
        '{stanza="main",type="full"}': float(stops["full"]),
        '{stanza="main",type="diff"}': float(stops["diff"]),
    }
    assert stops["diff"] >= started


def newest_backups() -> dict[str, int]:
    """By type, when the newest backup of that type completed, as pgBackRest says."""
    info = testinfra.get_host(f"podman://{DB}").run(
        "runuser -u postgres -- pgbackrest --config=/etc/pgbackrest/main.conf --stanza=main"
        " --output=json info"
    )
    return {
        backup["type"]: backup["timestamp"]["stop"]
        for backup in json.loads(info.stdout)[0]["backup"]
    }


def test_a_backup_the_backup_playbook_takes_tells_the_node_exporter_too():
    """playbooks/backup.yml's backup, outside the schedule, is served as a scheduled one is
    (it was not: the age alerts would have fired after an operator's fresh backup)."""
    taken = molecule_playbook("playbooks/backup.yml", "-e", "backup_type=incr")
    assert taken.returncode == 0, printed(taken)
    completed = dict(samples(scrape(9100).stdout, BACKUP_AGE))
    assert completed.get('{stanza="main",type="incr"}') == float(newest_backups()["incr"]), (
        completed
    )


def test_the_exporters_refuse_plain_http():
    for port in (9187, 9100):
        plain = scrape(port, scheme="http")
        assert plain.rc != 0 and "400" in plain.stderr, plain.stderr


def test_the_monitoring_role_has_no_password_and_logs_in_only_as_the_exporters_user():
    db = testinfra.get_host(f"podman://{DB}")
    query = "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'backend_monitor'"
    verifier = db.run("runuser -u postgres -- psql -XAtq -c %s", query)
    assert verifier.stdout.strip() == "t", verifier.stdout + verifier.stderr
    login = "psql -XAtq -h /var/run/postgresql -U backend_monitor -d backend -c 'SELECT 1'"
    assert db.run(f"runuser -u prometheus -- {login}").stdout.strip() == "1"
    refused = db.run(f"runuser -u nobody -- {login}")
    assert refused.rc != 0 and "Peer authentication failed" in refused.stderr, refused.stderr
    settings = db.file("/etc/default/prometheus-postgres-exporter").content_string
    [login] = [line for line in settings.splitlines() if line.startswith("DATA_SOURCE_NAME=")]
    assert "user=backend_monitor" in login and "password" not in login.lower(), login


def test_application_host_without_tls_is_refused(app):
    result = app(sslmode="disable")
    assert result.rc != 0 and "no encryption" in result.stderr


def test_superuser_from_the_application_host_is_refused(app):
    result = app(user="postgres", database="postgres")
    assert result.rc != 0 and "pg_hba.conf rejects" in result.stderr


def test_a_host_outside_the_allowed_networks_is_refused(outsider):
    result = outsider()
    assert result.rc != 0
    assert "pg_hba.conf rejects" in result.stderr and address(OUTSIDER) in result.stderr


def test_the_migration_was_applied_by_exactly_one_host():
    results = {}
    for name in (DB, APP):
        host = testinfra.get_host(f"podman://{name}")
        record = host.file("/root/migration-result.json")
        if record.exists:
            results[name] = json.loads(record.content_string)
    assert len(results) == 1, f"hosts that applied the migration: {sorted(results)}"
    (result,) = results.values()
    assert [step["revision"] for step in result["applied"]] == lineage()
    db = testinfra.get_host(f"podman://{DB}")
    versions = db.run(
        "runuser -u postgres -- psql -XAtq -d backend -c 'SELECT version_num FROM alembic_version'"
    )
    assert versions.stdout.split() == [head_revision()]


def test_the_hosts_run_different_releases_with_python_packages_built_for_each():
    hosts = [testinfra.get_host(f"podman://{name}") for name in (DB, APP)]
    releases = [host.run(". /etc/os-release && echo $VERSION_ID").stdout.strip() for host in hosts]
    assert releases == ["13", "12"]
    pythons = [host.run("ls -d /opt/backend-db/venv-*/lib/python3.*").stdout for host in hosts]
    assert [path.strip().rsplit("/", 1)[-1] for path in pythons] == ["python3.13", "python3.11"]


def test_the_first_converge_started_the_server_once_with_its_settings_and_restarted_it_never():
    """The package made no cluster of its own (the role's createcluster.d says so); the
    role made it, wrote every setting (the backup role's archiving among them) and started
    it once; the converge that followed changed nothing (before: the package's cluster
    started with the distribution's settings, then restarted for the role's, then again
    for archiving)."""
    db = testinfra.get_host(f"podman://{DB}")
    made = db.file("/etc/postgresql-common/createcluster.d/50-backend-db.conf")
    assert "create_main_cluster = false" in made.content_string
    log = db.file("/var/log/postgresql/postgresql-17-main.log").content_string
    assert log.count("database system is ready to accept connections") == 1, log[-3000:]
    assert "received fast shutdown request" not in log, log[-3000:]
    listed = db.run("pg_lsclusters --no-header").stdout.split()
    assert listed[:4] == ["17", "main", "5432", "online"], listed
    # In the locale Debian's package gives a host without /etc/default/locale (this image).
    made_in = db.run(
        "runuser -u postgres -- psql -XAtq -c %s",
        "SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database"
        " WHERE datname = 'template1'",
    )
    assert made_in.stdout.strip() == "UTF8|C.UTF-8", made_in.stdout + made_in.stderr


def test_the_server_started_without_package_lists_and_the_converge_fetched_them():
    # prepare.yml deleted them; installing PostgreSQL needed them back.
    db = testinfra.get_host(f"podman://{DB}")
    lists = db.run("ls /var/lib/apt/lists")
    assert any("_Packages" in name for name in lists.stdout.split()), lists.stdout
    # A Debian 13 server: the release's own PostgreSQL 17.
    assert db.package("postgresql-17").is_installed


def test_a_first_run_with_a_library_postgresql_lacks_stops_before_any_file_of_the_server(
    tmp_path,
):
    """site.yml on a host without PostgreSQL (the outsider, made a database server here,
    last: the tests above need it a client only) with a library to preload that its
    release's PostgreSQL does not have. The run installs the packages, then stops naming
    the library before the server's configuration is written, and before any cluster is
    made: the package made none, as the role asked (before: a first run could not know the
    library was missing, wrote it into the drop-in, and the restart left the server down;
    then the package's own cluster ran as installed)."""
    inventory = tmp_path / "outsider-as-server.yml"
    inventory.write_text(f"dbservers:\n  hosts:\n    {OUTSIDER}:\n")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({
        "postgresql_shared_preload_libraries": ["pg_stat_statements", "no_such_lib"],
        "postgresql_listen_addresses": ["localhost"],
        "postgresql_client_networks": [],
    }))  # fmt: skip
    run = molecule_playbook(
        "site.yml", "-i", str(inventory), "--limit", OUTSIDER, "-e", f"@{settings}"
    )
    assert run.returncode != 0, printed(run)
    folded = said(run)
    assert f"has no_such_lib, which PostgreSQL 15 on {OUTSIDER} does not have" in folded, printed(
        run
    )
    assert "nothing else was changed" in folded and "Traceback" not in folded
    host = testinfra.get_host(f"podman://{OUTSIDER}")
    assert host.package("postgresql-15").is_installed
    assert not host.file("/etc/postgresql/15/main").exists
    assert host.run("pg_lsclusters --no-header").stdout.strip() == ""
