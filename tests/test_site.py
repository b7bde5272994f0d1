"""site.yml on this machine, against a PostgreSQL cluster of its own.

The play runs exactly as `make site` runs it, except that it manages a separate
Debian cluster on a free port and installs into a temporary directory, so the
machine's own `main` cluster is left alone. Needs root, as provisioning does.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
    MigrationRequest,
    migrate,
)
from devtools.pgserver import _free_port, server_major
from tests import design
from tests.conftest import ROOT
from tests.helpers import (
    drop_cluster,
    head_revision,
    host_memory_mb,
    lineage,
    memory_settings_mb,
    recap,
    refused,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("pg_createcluster"),
    reason="provisioning this machine needs root and postgresql-common (CI has both)",
)

BIN = Path(sys.executable).parent
# The major this machine's Debian release ships, which the role picks by default.
VERSION = server_major()


class Site:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = f"bdtest{secrets.token_hex(3)}"
        self.port = _free_port()
        self.install_dir = workdir / "opt"
        self.owner_password = secrets.token_urlsafe(24)
        self.app_password = secrets.token_urlsafe(24)
        self.cipher_pass = secrets.token_urlsafe(32)
        self.monitor_password = secrets.token_urlsafe(24)
        self.ca_cert = Path(f"/etc/backend-db/{self.cluster}-ca.crt")
        self.backup_config = Path(f"/etc/pgbackrest/{self.cluster}.conf")
        self.vars_file = workdir / "vars.json"
        self.vars_file.write_text(
            json.dumps(
                {
                    "postgresql_cluster": self.cluster,
                    "postgresql_port": self.port,
                    "migrations_install_dir": str(self.install_dir),
                    "app_database_owner_password": self.owner_password,
                    "app_database_app_password": self.app_password,
                    "backup_repo_cipher_pass": self.cipher_pass,
                    "app_database_monitor_password": self.monitor_password,
                    # The machine's own CA certificate (make site's) stays as it is.
                    "postgresql_ca_cert_path": str(self.ca_cert),
                }
            )
        )
        self.vars_file.chmod(0o600)
        self.inventory = workdir / "hosts.yml"
        self.inventory.write_text(
            json.dumps(
                {
                    "dbservers": {
                        "hosts": {
                            "localhost": {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": sys.executable,
                                "ansible_become": False,
                            }
                        }
                    }
                }
            )
        )

    def command(self, *args: str, playbook: str = "site.yml") -> list[str]:
        return [
            str(BIN / "ansible-playbook"), "-i", str(self.inventory),
            "-e", f"@{self.vars_file}", playbook, *args,
        ]  # fmt: skip

    @staticmethod
    def env() -> dict[str, str]:
        return dict(
            os.environ,
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            PATH=f"{BIN}:{os.environ['PATH']}",
            ANSIBLE_FORCE_COLOR="0",
        )

    def play(self, *args: str, playbook: str = "site.yml") -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args, playbook=playbook),
            capture_output=True, text=True, cwd=ROOT, env=self.env(), timeout=900,
        )  # fmt: skip

    def play_watching_processes(self, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
        """Run the play while sampling every process's arguments, as `ps` shows them."""
        seen: set[str] = set()
        process = subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT, env=self.env(),
        )  # fmt: skip
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                listing = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True)
                seen.update(listing.stdout.splitlines())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            stdout, stderr = process.communicate(timeout=900)
        finally:
            done.set()
            sampler.join()
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), seen

    def passwords(self) -> tuple[str, ...]:
        return self.owner_password, self.app_password, self.cipher_pass, self.monitor_password

    def connect(
        self,
        user: str = "backend_app",
        password: str | None = None,
        database: str = "backend",
        sslmode: str = "require",
    ):
        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=user,
            dbname=database,
            sslmode=sslmode,
            password=self.app_password if password is None else password,
            connect_timeout=5,
        )

    def log(self) -> str:
        path = Path(f"/var/log/postgresql/postgresql-{VERSION}-{self.cluster}.log")
        return path.read_text(errors="replace") if path.exists() else ""

    def destroy(self) -> None:
        drop_cluster(VERSION, self.cluster)
        self.ca_cert.unlink(missing_ok=True)
        # The stanza's configuration, repository, spool and logs (the cluster is the stanza).
        self.backup_config.unlink(missing_ok=True)
        for kind in ("archive", "backup"):
            shutil.rmtree(f"/var/lib/pgbackrest/{kind}/{self.cluster}", ignore_errors=True)
        shutil.rmtree(f"/var/spool/pgbackrest/archive/{self.cluster}", ignore_errors=True)
        for log in Path("/var/log/pgbackrest").glob(f"{self.cluster}-*.log"):
            log.unlink()
        # On a machine booted with systemd, the backup schedule's units too.
        units = list(Path("/etc/systemd/system").glob(f"backend-db-backup-{self.cluster}*"))
        if units:
            timers = [unit.name for unit in units if unit.suffix == ".timer"]
            subprocess.run(["systemctl", "disable", "--now", *timers], capture_output=True)
            for unit in units:
                unit.unlink()
            subprocess.run(["systemctl", "daemon-reload"], capture_output=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("site"))
    first = site.play()
    second, processes = site.play_watching_processes("-vvv")
    site.runs = (first, second)
    site.processes = processes
    yield site
    site.destroy()


def test_first_run_provisions_and_second_run_changes_nothing(site):
    first, second = site.runs
    assert first.returncode == 0, first.stdout[-4000:]
    assert recap(first)["changed"] > 0
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second)["changed"] == 0, second.stdout[-4000:]


def pgbackrest(site, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", "pgbackrest", f"--config={site.backup_config}",
         f"--stanza={site.cluster}", *args],
        capture_output=True, text=True, cwd="/", check=False,
    )  # fmt: skip


def backups(site) -> list[dict]:
    """The stanza's backups, oldest first, as `pgbackrest info` lists them."""
    info = pgbackrest(site, "--output=json", "info")
    assert info.returncode == 0, info.stderr
    return json.loads(info.stdout)[0]["backup"]


def test_wal_is_archived_into_an_encrypted_repository_with_a_first_full_backup(site):
    info = pgbackrest(site, "--output=json", "info")
    assert info.returncode == 0, info.stderr
    (stanza,) = json.loads(info.stdout)
    assert stanza["status"]["code"] == 0, stanza["status"]
    assert stanza["cipher"] == "aes-256-cbc"
    assert [backup["type"] for backup in stanza["backup"]] == ["full"]
    check = pgbackrest(site, "check")
    assert check.returncode == 0, check.stderr
    config = site.backup_config.stat()
    assert (config.st_mode & 0o777, config.st_uid) == (0o600, pwd.getpwnam("postgres").pw_uid)


def test_the_first_run_wrote_a_restore_point_before_the_revisions_and_the_second_none(site):
    first, second = site.runs
    assert re.search(rf"Restore point before-{lineage()[0]}-\d{{8}}T\d{{6}}Z", first.stdout)
    assert "Restore point before-" not in second.stdout


def test_schema_is_at_head(site):
    with site.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT version_num FROM alembic_version")
        assert cursor.fetchone()[0] == head_revision()


def test_runtime_role_reads_and_writes_application_tables(site):
    with site.connect() as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO users (email) VALUES ('ada@example.com') RETURNING user_id")
        user_id = cursor.fetchone()[0]
        cursor.execute("UPDATE users SET display_name = 'Ada' WHERE user_id = %s", (user_id,))
        cursor.execute("SELECT display_name FROM users WHERE user_id = %s", (user_id,))
        assert cursor.fetchone()[0] == "Ada"
        cursor.execute("DELETE FROM users WHERE user_id = %s", (user_id,))
        assert cursor.rowcount == 1
        cursor.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cursor.fetchone()[0] is True


@pytest.mark.parametrize(
    "statement, refusal",
    [
        ("CREATE TABLE intruder (id int)", "permission denied for schema public"),
        ("CREATE TEMPORARY TABLE intruder (id int)", "permission denied to create temporary"),
        ("CREATE DATABASE intruder", "permission denied to create database"),
        ("CREATE ROLE intruder", "permission denied to create role"),
        ("DROP TABLE requests", "must be owner of table requests"),
        ("UPDATE alembic_version SET version_num = 'x'", "permission denied for table alembic"),
    ],
)
def test_runtime_role_cannot_change_the_schema_or_the_cluster(site, statement, refusal):
    connection = site.connect()
    connection.autocommit = True  # CREATE DATABASE refuses to run in a transaction
    try:
        with pytest.raises(psycopg2.Error, match=refusal), connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def test_runtime_role_cannot_connect_to_another_database(site):
    with pytest.raises(psycopg2.OperationalError, match=r"pg_hba\.conf rejects"):
        site.connect(database="postgres")


def test_postgres_cannot_log_in_over_tcp(site):
    with pytest.raises(psycopg2.OperationalError, match=r"pg_hba\.conf rejects"):
        site.connect(user="postgres", database="postgres", password="any")


def test_plain_tcp_without_tls_is_refused(site):
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        site.connect(sslmode="disable")


def test_check_diff_on_a_provisioned_host_changes_nothing(site):
    result = site.play("--check", "--diff")
    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result)["changed"] == 0, result.stdout[-4000:]


def test_check_diff_on_a_host_behind_lists_pending_revisions_and_their_sql(site):
    owner = sa.engine.URL.create(
        "postgresql+psycopg2",
        username="backend_owner",
        password=site.owner_password,
        host="127.0.0.1",
        port=site.port,
        database="backend",
    )
    migrate(
        MigrationRequest(
            script_location=str(ROOT / "migrations"),
            url=owner,
            revision="base",
            allow_downgrade=True,
        )
    )
    try:
        review = site.workdir / "review"
        reviewed = site.play(
            "-e", f"migrations_sql_review_dir={review}", playbook="playbooks/migrate.yml"
        )
        assert reviewed.returncode == 0, reviewed.stdout[-4000:]
        sql = (review / "localhost.sql").read_text()
        assert f"-- pending: {', '.join(lineage())}" in sql and "CREATE TABLE requests" in sql

        result = site.play("--check", "--diff", playbook="playbooks/migrate.yml")
        assert result.returncode == 0, result.stdout[-4000:]
        assert recap(result)["changed"] == 1
        assert head_revision() in result.stdout
        assert "CREATE TABLE requests" in result.stdout
        owner_connection = site.connect(user="backend_owner", password=site.owner_password)
        with owner_connection, owner_connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('public.users') IS NULL")
            assert cursor.fetchone()[0] is True
    finally:
        migrate(MigrationRequest(script_location=str(ROOT / "migrations"), url=owner))


def test_with_backup_before_a_pending_revision_gets_a_backup_and_a_restore_point_first(site):
    owner = sa.engine.URL.create(
        "postgresql+psycopg2", username="backend_owner", password=site.owner_password,
        host="127.0.0.1", port=site.port, database="backend",
    )  # fmt: skip
    scripts = str(ROOT / "migrations")
    migrate(MigrationRequest(scripts, owner, revision=lineage()[-2], allow_downgrade=True))
    backups_before = backups(site)
    result = site.play("-e", "migrations_backup_before=true", playbook="playbooks/migrate.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    backups_after = backups(site)
    types = [backup["type"] for backup in backups_after]
    assert types == [backup["type"] for backup in backups_before] + ["diff"]
    assert re.search(rf"Restore point before-{lineage()[-1]}-\d{{8}}T\d{{6}}Z", result.stdout)
    # At the head, nothing is pending: no backup, no restore point, no change.
    again = site.play("-e", "migrations_backup_before=true", playbook="playbooks/migrate.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-4000:]
    assert len(backups(site)) == len(backups_after)


def test_no_password_in_vvv_output_or_server_log(site):
    _, verbose = site.runs
    output = verbose.stdout + verbose.stderr
    log = site.log()
    assert "backend_owner" in output and "ESTABLISH LOCAL CONNECTION" in output and log
    for password in site.passwords():
        assert password not in output
        assert password not in log


def test_no_password_in_any_process_arguments_during_a_run(site):
    assert any("ansible-playbook" in args for args in site.processes)
    assert len(site.processes) > 20, "the sampler saw too few processes to mean anything"
    for password in site.passwords():
        assert not [args for args in site.processes if password in args]


def test_no_password_left_in_files_outside_the_places_meant_for_them(site):
    places = [
        site.install_dir,
        Path("/var/tmp"),  # noqa: S108 - Ansible's remote temporary directory
        Path("/root/.ansible/tmp"),
        Path(f"/etc/postgresql/{VERSION}/{site.cluster}"),
        # pgBackRest's repository (encrypted), spool and logs; its configuration is the
        # one place meant for the passphrase.
        Path("/var/lib/pgbackrest"),
        Path("/var/spool/pgbackrest"),
        Path("/var/log/pgbackrest"),
    ]
    for password in site.passwords():
        found = subprocess.run(
            ["grep", "-rlsF", password, *map(str, places)],
            capture_output=True,
            text=True,
        )
        assert found.stdout == "", found.stdout


def table_checksums(site) -> dict[str, tuple[int, str]]:
    owner = site.connect(user="backend_owner", password=site.owner_password)
    try:
        with owner.cursor() as cursor:
            sums = {}
            for table in design.TABLES:
                cursor.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                    f" FROM {table} t"
                )
                sums[table] = cursor.fetchone()
            return sums
    finally:
        owner.close()


def seed(site) -> None:
    """Rows in every table: the upgrade scenario's seed, in place of whatever was there."""
    rows = (ROOT / "molecule" / "upgrade" / "files" / "seed.sql").read_text()
    owner = site.connect(user="backend_owner", password=site.owner_password)
    with owner, owner.cursor() as cursor:
        cursor.execute("DELETE FROM requests; DELETE FROM payments; DELETE FROM users")
        cursor.execute(rows)
    owner.close()


def test_rows_in_every_table_survive_re_running_the_site(site):
    seed(site)
    before = table_checksums(site)
    assert all(count > 0 for count, _ in before.values()), before
    for args in ((), ("--check",)):
        result = site.play(*args)
        assert result.returncode == 0 and recap(result)["changed"] == 0, result.stdout[-3000:]
        assert table_checksums(site) == before


def socket_checksums(port: int) -> str:
    """Every table's row count and md5, read as postgres over the socket of the cluster on port."""
    sums = ", ".join(
        f"(SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        f" FROM {table} t)"
        for table in design.TABLES
    )
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1",
         "-p", str(port), "-d", "backend", "-c", f"SELECT concat_ws(' ', {sums})"],
        capture_output=True, text=True, cwd="/", check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_local_repository_restores_into_a_new_cluster_leaving_the_cluster_alone(site):
    """The restore drill of the default layout (repository on the server): the backup
    scenario drills a repository host, this restores what `make site` sets up."""
    seed(site)
    before = socket_checksums(site.port)
    assert " 0:" not in f" {before}", before
    # Everything written so far is archived: check switches WAL and waits for it.
    assert pgbackrest(site, "check").returncode == 0
    clone, port = f"{site.cluster}_copy", _free_port()
    try:
        into = ("-e", f"restore_into={clone}", "-e", f"restore_into_port={port}")
        result = site.play("-e", "restore_confirm=true", *into, playbook="playbooks/restore.yml")
        assert result.returncode == 0, result.stdout[-4000:]
        assert f"cluster {clone} (port {port}) holds its newest state" in result.stdout
        assert socket_checksums(port) == before
        assert socket_checksums(site.port) == before
    finally:
        drop_cluster(VERSION, clone)


def test_a_server_whose_postgresql_is_down_is_restored_in_place_to_its_latest_state(site):
    """The usual reason to restore in place: the server is down (crashed, or its data lost),
    which pg_ctlcluster reports as "Cluster is not running." when the restore stops it."""
    before = socket_checksums(site.port)
    assert pgbackrest(site, "check").returncode == 0
    stop = ["pg_ctlcluster", str(VERSION), site.cluster, "stop"]
    assert subprocess.run(stop, capture_output=True, check=False).returncode == 0
    result = site.play("-e", "restore_confirm=true", playbook="playbooks/restore.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"cluster {site.cluster} (port {site.port}) holds its newest state" in result.stdout
    assert socket_checksums(site.port) == before


NETS, HBAS, EXTS = "postgresql_client_networks", "postgresql_hba_entries", "app_database_extensions"
# Shaped like a certificate; the checks it meets stop the run before anything reads it.
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
# A valid pg_hba entry, which each case of the invalid-variable test spoils in one way.
HBA = {
    "type": "hostssl", "database": "backend", "user": "backend_app",
    "address": "10.9.0.0/16", "method": "scram-sha-256",
}  # fmt: skip


@pytest.mark.parametrize(
    "playbook, extra, named",
    [
        ("server", {"postgresql_port": 70000}, "postgresql_port"),
        ("server", {"postgresql_port": "five"}, "postgresql_port"),
        ("server", {"postgresql_client_networks": ["10.0.0.0/33"]}, "postgresql_client_networks"),
        ("server", {"postgresql_client_networks": "10.0.0.0/8"}, "postgresql_client_networks"),
        ("server", {"postgresql_client_roles": ["postgres"]}, "postgresql_client_roles"),
        # Shaped like a network, but no address (the pattern check let both through).
        ("server", {NETS: ["999.1.1.1/8"]}, "has 999.1.1.1/8, which is not a CIDR network"),
        ("server", {NETS: [":/64"]}, "has :/64, which is not a CIDR network"),
        ("server", {NETS: ["10.0.0.1/8"]}, "has 10.0.0.1/8, which is not a CIDR network"),
        ("server", {HBAS: [HBA | {"method": "trust"}]}, "has method trust, which the role never"),
        ("server", {HBAS: [HBA | {"method": "md5"}]}, "has method md5, which the role never"),
        ("server", {HBAS: [HBA | {"type": "host"}]}, "has type host, which must be local or"),
        ("server", {HBAS: [HBA | {"address": "10.0.0.0/40"}]}, "has address 10.0.0.0/40, which"),
        ("server", {HBAS: [HBA | {"user": "postgres"}]}, "admits the postgres superuser over TCP"),
        ("server", {HBAS: [HBA | {"user": "a b"}]}, "has database or user a b, which must"),
        ("server", {HBAS: [HBA | {"port": 1}]}, "has port, which an entry does not take"),
        ("server", {"postgresql_ca_certificate": PEM}, "comes without postgresql_ca_private_key"),
        ("server", {"postgresql_ca_private_key": PEM}, "postgresql_ca_private_key needs"),
        ("server", {"postgresql_ssl_renew_before_days": 400}, "must be less than postgresql_ssl"),
        ("site", {EXTS: ["no_such_thing"]}, "has no_such_thing, which PostgreSQL on this host"),
        ("database", {EXTS: ["a b"]}, "has a b, which is not an extension name"),
        ("database", {"app_database_monitor_password": "short"}, "monitor_password must have 16"),
        ("server", {"postgresql_log_statement": "everything"}, "postgresql_log_statement"),
        ("database", {"app_database_app_password": "short"}, "app_database_app_password"),
        ("database", {"app_database_name": "Bad-Name"}, "app_database_name"),
        ("migrate", {"migrations_allow_downgrade": "maybe"}, "migrations_allow_downgrade"),
        ("server", {"backup_repo_path": "backups"}, "backup_repo_path must be an absolute path"),
        ("server", {"backup_repo_cipher_pass": "short"}, "backup_repo_cipher_pass must have 20"),
        ("server", {"backup_retention_full": 0}, "backup_retention_full must be a whole number"),
        ("server", {"backup_compress_type": "rar"}, "backup_compress_type"),
        # Not in the inventory, and the database server itself.
        ("server", {"backup_repo_host": "backup1"}, "backup_repo_host must be the inventory name"),
        ("server", {"backup_repo_host": "localhost"}, "backup_repo_host must be the inventory"),
    ],
)
def test_invalid_role_variables_fail_before_any_task_changes_anything(
    site, tmp_path, playbook, extra, named
):
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    result = site.play("-e", f"@{extra_file}", playbook=f"playbooks/{playbook}.yml")
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    assert recap(result)["changed"] == 0
    assert "Traceback" not in result.stdout + result.stderr


def hba_rules(site) -> list[tuple]:
    """The rules of the pg_hba.conf on disk as PostgreSQL parses it."""
    return superuser_rows(
        site,
        "SELECT type, database, user_name, address, auth_method, options, error"
        " FROM pg_hba_file_rules ORDER BY line_number",
    )


def test_clients_verify_the_server_with_the_project_ca_and_another_name_fails(site):
    for host in ("127.0.0.1", "localhost"):
        verified = psycopg2.connect(
            host=host, port=site.port, user="backend_app", dbname="backend",
            password=site.app_password, sslmode="verify-full", sslrootcert=str(site.ca_cert),
        )  # fmt: skip
        verified.close()
    with pytest.raises(psycopg2.OperationalError, match="does not match host name"):
        psycopg2.connect(
            host="db.example.invalid", hostaddr="127.0.0.1", port=site.port, user="backend_app",
            dbname="backend", password=site.app_password, sslmode="verify-full",
            sslrootcert=str(site.ca_cert),
        )  # fmt: skip


def test_a_migration_that_cannot_verify_the_server_fails_saying_so(site, tmp_path):
    # Another CA than the project's, installed by the role where the inventory says.
    other = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(tmp_path / "other.key"), "-subj", "/CN=another CA", "-days", "1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = site.ca_cert.with_name(f"{site.cluster}-other-ca.crt")
    extra = tmp_path / "extra.json"
    extra.write_text(
        json.dumps({"migrations_ca_cert_path": str(path), "migrations_ca_certificate": other})
    )
    try:
        result = site.play("-e", f"@{extra}", playbook="playbooks/migrate.yml")
    finally:
        path.unlink(missing_ok=True)
    assert result.returncode != 0
    assert "certificate verify failed" in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in result.stdout + result.stderr


def monitor_connection(site):
    """The monitoring role's session, over TLS that verifies the server."""
    return psycopg2.connect(
        host="127.0.0.1", port=site.port, user="backend_monitor", dbname="backend",
        password=site.monitor_password, sslmode="verify-full", sslrootcert=str(site.ca_cert),
    )  # fmt: skip


def test_pg_stat_statements_is_loaded_and_the_monitoring_role_reads_it_over_verified_tls(site):
    monitor = monitor_connection(site)
    try:
        with monitor.cursor() as cursor:
            cursor.execute("SHOW shared_preload_libraries")
            assert cursor.fetchone() == ("pg_stat_statements",)
            # The statements of every role, not only its own: pg_monitor's reach.
            cursor.execute(
                "SELECT count(*) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
                " WHERE r.rolname = 'backend_owner'"
            )
            assert cursor.fetchone()[0] > 0
            cursor.execute("SELECT pg_has_role('pg_monitor', 'member')")
            assert cursor.fetchone() == (True,)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cursor.execute("CREATE TABLE intruder (id int)")
    finally:
        monitor.close()


def superuser_rows(site, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of `sql`, run as postgres over the cluster's socket (peer, as root)."""
    connection = psycopg2.connect(host="/var/run/postgresql", port=site.port, user="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        connection.close()


def superuser_value(site, sql: str) -> object:
    return superuser_rows(site, sql)[0][0]


def test_a_changed_preload_library_list_restarts_the_server_once_and_takes_effect(site, tmp_path):
    started = superuser_value(site, "SELECT pg_postmaster_start_time()")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"postgresql_shared_preload_libraries": []}))
    try:
        changed = site.play("-e", f"@{extra}", playbook="playbooks/server.yml")
        assert changed.returncode == 0, changed.stdout[-3000:]
        # PostgreSQL said the setting needs a restart (pg_file_settings), so the role did.
        assert superuser_value(site, "SHOW shared_preload_libraries") == ""
        assert superuser_value(site, "SELECT pg_postmaster_start_time()") > started
    finally:
        restored = site.play(playbook="playbooks/server.yml")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert superuser_value(site, "SHOW shared_preload_libraries") == "pg_stat_statements"


def test_memory_settings_follow_the_hosts_memory_and_max_connections(site):
    # The host's memory as host_snapshot's own test holds the module to read it, then the
    # role's documented rule.
    expected = memory_settings_mb(host_memory_mb())
    rows = superuser_rows(
        site,
        "SELECT name, pg_size_bytes(current_setting(name)) / 1048576 FROM unnest(%s) name",
        (list(expected),),
    )
    assert dict(rows) == expected


def test_pg_hba_entries_are_added_and_a_line_postgresql_rejects_leaves_the_old_file(site, tmp_path):
    hba = Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf")
    monitor = HBA | {"user": ["backend_app", "+backend_owner"], "options": "clientcert=verify-ca"}
    extra = tmp_path / "extra.json"
    try:
        extra.write_text(json.dumps({HBAS: [monitor]}))
        added = site.play("-e", f"@{extra}", playbook="playbooks/server.yml")
        assert added.returncode == 0, added.stdout[-3000:]
        rules = hba_rules(site)
        assert (
            "hostssl", ["backend"], ["backend_app", "+backend_owner"], "10.9.0.0",
            "scram-sha-256", ["clientcert=verify-ca"], None,
        ) in rules  # fmt: skip
        # The superuser's reject still comes before the inventory's entries.
        assert [rule[2] for rule in rules].index(["postgres"]) < rules.index(
            next(rule for rule in rules if rule[3] == "10.9.0.0")
        )
        in_force = hba.read_bytes()

        # Valid for the role, but not for PostgreSQL (map= is for peer and cert): the old
        # file stays, and the run names the line and PostgreSQL's reason.
        extra.write_text(json.dumps({HBAS: [HBA | {"options": "map=monitoring"}]}))
        rejected = site.play("-e", f"@{extra}", playbook="playbooks/server.yml")
        output = " ".join(rejected.stdout.split())
        assert rejected.returncode != 0
        assert re.search(
            r"PostgreSQL rejects pg_hba\.conf line \d+ \(hostssl backend backend_app"
            r" 10\.9\.0\.0/16 scram-sha-256 map=monitoring\): authentication option \W+map\W+"
            r" is only valid for .*; the previous file stays in force",
            output,
        ), output[-3000:]
        assert hba.read_bytes() == in_force
        assert all(error is None for *_, error in hba_rules(site))
        assert not list(hba.parent.glob("pg_hba.conf.*")), "a copy of the old file was left behind"
        assert "Traceback" not in rejected.stdout + rejected.stderr
        site.connect().close()
    finally:
        restored = site.play(playbook="playbooks/server.yml")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert not any(rule[3] == "10.9.0.0" for rule in hba_rules(site))


def test_two_servers_with_one_stanza_on_one_repository_host_fail_before_any_change(site, tmp_path):
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({
        "dbservers": {
            "hosts": {"db-a": local, "db-b": local}, "vars": {"backup_repo_host": "repo-x"},
        },
        "backupservers": {"hosts": {"repo-x": local}},
    }))  # fmt: skip
    # A check, so that nothing could change even if the validation let it through.
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), "-e", f"@{site.vars_file}",
         "--check", "playbooks/server.yml"],
        capture_output=True, text=True, cwd=ROOT, env=site.env(), timeout=300, check=False,
    )  # fmt: skip
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    for other in ("db-a", "db-b"):
        assert (
            f"backup_stanza {site.cluster} is also the stanza of {other} on repository host repo-x:"
            " give each server its own backup_stanza" in output
        ), output[-3000:]
    assert "Traceback" not in result.stdout + result.stderr


def installed(package: str) -> bool:
    status = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${db:Status-Status}", package],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return status.stdout == "installed"


def test_a_major_the_archives_do_not_offer_fails_before_any_change_naming_those_they_do(
    site, tmp_path
):
    # Neither Debian 12 nor Debian 13 ships PostgreSQL 16.
    fresh = Site(tmp_path)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"postgresql_version": 16}))
    result = fresh.play("-e", f"@{extra}", playbook="playbooks/server.yml")
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert recap(result)["changed"] == 0, result.stdout[-3000:]
    assert re.search(
        rf"Debian \d+ \(\w+\) offers PostgreSQL [0-9, ]*{VERSION}[0-9, ]* from the package "
        r"archives it is configured with, not 16: leave postgresql_version unset",
        output,
    ), result.stdout[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert not installed("postgresql-16")
    assert not Path(f"/etc/postgresql/16/{fresh.cluster}").exists()


def test_a_cluster_at_another_major_fails_before_any_change_and_points_to_the_upgrade(
    site, tmp_path
):
    other = 17 if VERSION != 17 else 15
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"postgresql_version": other}))
    before = table_checksums(site)
    had_other = installed(f"postgresql-{other}")
    result = site.play("-e", f"@{extra}")
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert recap(result)["changed"] == 0, result.stdout[-3000:]
    assert (
        f"The cluster {site.cluster} on localhost exists at PostgreSQL {VERSION}, and the "
        f"inventory asks for {other}: changing the major is a deliberate upgrade, so run "
        "playbooks/upgrade-major.yml (runbook in docs/operations.md), or set "
        f"postgresql_version: {VERSION} to keep the cluster as it is." in output
    ), result.stdout[-3000:]
    assert not Path(f"/etc/postgresql/{other}/{site.cluster}").exists()
    assert installed(f"postgresql-{other}") == had_other
    assert table_checksums(site) == before


def test_example_inventory_parses_and_the_play_is_well_formed():
    def tool(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / name), "-i", "inventories/example", *args],
            capture_output=True, text=True, cwd=ROOT, env=Site.env(), timeout=120,
        )  # fmt: skip

    checked = tool("ansible-playbook", "--syntax-check", "site.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = tool("ansible-inventory", "--graph", "dbservers")
    assert "db1.example.internal" in listed.stdout and "db2.example.internal" in listed.stdout


def test_a_check_of_a_host_without_its_cluster_says_why_it_ends_and_makes_nothing(tmp_path):
    fresh = Site(tmp_path)
    try:
        result = fresh.play("--check", "--diff")
        assert result.returncode == 0, result.stdout[-4000:]
        counts = recap(result)
        assert counts["failed"] == 0 and counts["changed"] > 0, counts
        output = " ".join(result.stdout.split())
        assert f"cluster {VERSION}/{fresh.cluster} does not exist yet" in output
        # Nothing of the later plays ran for the host.
        assert "The owner role exists" not in result.stdout
        assert "The schema is at the requested revision" not in result.stdout
        assert not Path(f"/etc/postgresql/{VERSION}/{fresh.cluster}").exists()
        assert not fresh.install_dir.exists()
    finally:
        fresh.destroy()


def test_a_check_against_a_database_not_created_yet_says_why_it_ends(site):
    result = site.play("--check", "--diff", "-e", "app_database_name=backend_not_yet")
    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result)["failed"] == 0
    assert "database backend_not_yet does not exist yet" in " ".join(result.stdout.split())
    assert "The schema is at the requested revision" not in result.stdout
    with site.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = 'backend_not_yet'")
        assert cursor.fetchone()[0] == 0


def test_a_check_without_the_virtualenv_on_the_host_says_why_it_skips_the_migration(site):
    elsewhere = site.workdir / "not-installed-yet"
    result = site.play("--check", "--diff", "-e", f"migrations_install_dir={elsewhere}")
    assert result.returncode == 0, result.stdout[-4000:]
    counts = recap(result)
    assert counts["failed"] == 0 and counts["changed"] > 0, counts
    assert "Check mode: the virtualenv is not on the host yet" in " ".join(result.stdout.split())
    assert not elsewhere.exists()


def test_rotating_the_runtime_password_keeps_open_sessions_working(site, tmp_path):
    """docs/operations.md: rotate the runtime role's password without downtime.

    It changes the runtime role's password for the rest of the module: the tests after it
    do not log in as that role.
    """
    old_password = site.app_password
    open_session = site.connect()
    new_password = secrets.token_urlsafe(24)
    rotation = tmp_path / "rotation.json"
    rotation.write_text(
        json.dumps(
            # A password changes only for a role named for rotation.
            {"app_database_app_password": new_password,
             "app_database_rotate_passwords": ["backend_app"]}
        )
    )  # fmt: skip
    rotation.chmod(0o600)

    result = site.play("-e", f"@{rotation}", playbook="playbooks/database.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result)["changed"] == 1
    assert new_password not in result.stdout + result.stderr

    with open_session.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM users")
        assert cursor.fetchone()[0] >= 0
    open_session.close()
    with site.connect(password=new_password) as fresh, fresh.cursor() as cursor:
        cursor.execute("SELECT 1")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        site.connect(password=old_password)
    site.rotated_password = new_password


def test_no_password_rests_in_pg_stat_statements_after_a_converge_and_a_rotation(site):
    """The monitoring role (pg_monitor) reads every role's statement texts."""
    monitor = monitor_connection(site)
    try:
        with monitor.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_statements")
            texts = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        monitor.close()
    assert "PASSWORD 'SCRAM-SHA-256$" in texts  # the roles' statements are there, as verifiers
    secrets_seen = [*site.passwords(), getattr(site, "rotated_password", site.app_password)]
    assert not [secret for secret in secrets_seen if secret in texts]
    stored = Path(f"/var/lib/postgresql/{VERSION}/{site.cluster}/pg_stat_tmp/pgss_query_texts.stat")
    if stored.exists():
        assert not [secret for secret in secrets_seen if secret.encode() in stored.read_bytes()]


@pytest.mark.parametrize("damage", ["built for another Python", "cut off half-way"])
def test_a_virtualenv_not_built_for_this_host_is_built_again_then_left_alone(site, damage):
    (venv,) = site.install_dir.glob("venv-*")
    marker = venv / "backend-db-requirements.txt"
    complete = marker.read_text()
    if damage == "built for another Python":
        marker.write_text(complete.replace("# Python 3.", "# Python 2.", 1))
    else:
        shutil.rmtree(next((venv / "lib").glob("python3.*/site-packages/alembic")))
        marker.unlink()

    rebuilt = site.play(playbook="playbooks/migrate.yml")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    assert recap(rebuilt)["changed"] > 0
    assert marker.read_text() == complete
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import alembic, sqlalchemy, psycopg2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    again = site.play(playbook="playbooks/migrate.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-3000:]


def play_with(site, tmp_path, playbook: str, variables: dict) -> subprocess.CompletedProcess:
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(variables))
    return site.play("-e", f"@{extra}", playbook=f"playbooks/{playbook}.yml")


KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
INJECTED = "backend_app  0.0.0.0/0  scram-sha-256\nhost all all 0.0.0.0/0 trust\n#"
# Each reaches a file of the server's; every one is reported by one run.
HOSTILE = {
    "postgresql_client_roles": [INJECTED],
    "postgresql_admin_os_users": ["/.*"],
    "postgresql_client_databases": ["backend\nhost all all 0.0.0.0/0 trust"],
    "postgresql_replication_user": "replicator\nhost all all 0.0.0.0/0 trust",
    "postgresql_ca_cert_path": "/etc/backend-db/ca.crt'\nssl = 'off",
    "postgresql_settings": {"hba_file": "/etc/hba", "ssl": "off", "password_encryption": "md5",
                            "work_mem\nssl": "off"},
    "postgresql_listen_addresses": "localhost",
    "postgresql_ssl_certificate": PEM + KEY,
    "postgresql_ssl_private_key": KEY,
}  # fmt: skip


def test_every_hostile_input_of_the_server_is_refused_in_one_run_before_any_change(site, tmp_path):
    hba = Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes()
    text = refused(
        play_with(site, tmp_path, "server", HOSTILE),
        "postgresql_client_roles[0] holds a line break",
        "postgresql_admin_os_users has /.*, which is not an operating-system user name",
        "postgresql_admin_os_users must include root",
        "postgresql_client_databases[0] holds a line break",
        "postgresql_replication_user holds a line break",
        "postgresql_ca_cert_path holds a line break",
        "postgresql_settings may not set hba_file", "postgresql_settings may not set ssl",
        "postgresql_settings may not set password_encryption",
        "postgresql_settings has a name with a line break",
        "postgresql_listen_addresses must be a list of addresses",
        "postgresql_ssl_certificate holds a private key",
    )  # fmt: skip
    assert "MIIE" not in text  # the key is never shown
    assert Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes() == hba
    with pytest.raises(psycopg2.OperationalError):
        site.connect(password="", sslmode="disable")


@pytest.mark.parametrize(
    "playbook, variables, says",
    [
        ("server", {"postgresql_shared_preload_libraries": ["pg_stat_statements", "no_such_lib"]},
         "postgresql_shared_preload_libraries has no_such_lib, which PostgreSQL"),
        ("server", {"backup_enabled": "maybe"}, "backup_enabled must be true or false, not maybe"),
        # Refused by the server play, before pg_hba.conf names it (it was refused only later).
        ("site", {"app_database_name": "Bad-Name"},
         "postgresql_client_databases has Bad-Name, which is not a database name"),
        ("server", {"patroni_cluster_groups": ["nonexistent"]},
         "it names nonexistent, which the inventory does not have"),
        ("database", {"app_database_app_password": 1234567890123456789},
         "app_database_app_password must be a string"),
        ("migrate", {"migrations_run_on": "nohost", "migrations_login_port": 0,
                     "migrations_ca_certificate": "garbage"},
         "migrations_run_on must be a host of this play"),
        ("migrate", {"migrations_login_port": 0}, "migrations_login_port must be a port number"),
        ("migrate", {"migrations_ca_certificate": "garbage"},
         "migrations_ca_certificate is not a certificate in PEM form"),
        ("migrate", {"migrations_ca_certificate": PEM + "-----BEGIN EC PRIVATE KEY-----\n"},
         "migrations_ca_certificate holds a private key"),
    ],
)  # fmt: skip
def test_each_bad_input_of_the_other_roles_is_refused_before_any_change(
    site, tmp_path, playbook, variables, says
):
    ca = site.ca_cert.read_bytes()
    hba = Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes()
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(variables))
    path = "site.yml" if playbook == "site" else f"playbooks/{playbook}.yml"
    refused(site.play("-e", f"@{extra}", playbook=path), says)
    assert site.ca_cert.read_bytes() == ca
    assert Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf").read_bytes() == hba


def test_a_setting_postgresql_refuses_leaves_the_configuration_in_force(site, tmp_path):
    drop_in = Path(f"/etc/postgresql/{VERSION}/{site.cluster}/conf.d/50-backend-db.conf")
    before = drop_in.read_bytes()
    result = play_with(
        site,
        tmp_path,
        "server",
        {"postgresql_settings": {"no_such_setting": 1, "statement_timeout": "lots"}},
    )
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, text[-3000:]
    assert 'unrecognized configuration parameter "no_such_setting"' in text, text[-3000:]
    assert "the previous configuration stays in force" in text
    assert drop_in.read_bytes() == before
    assert not list(drop_in.parent.glob("50-backend-db.conf.*"))  # no backup left behind
    again = site.play(playbook="playbooks/server.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-3000:]


def test_an_install_directory_holding_other_files_is_refused_and_nothing_is_removed(site, tmp_path):
    shared = tmp_path / "x"
    for name in ("app-data", "venv-otherapp", "application.conf.d"):
        (shared / name).mkdir(parents=True)
        (shared / name / "keep").write_text(name)
    for check in ((), ("--check", "--diff")):
        result = site.play(
            "-e",
            json.dumps({"migrations_install_dir": str(shared)}),
            *check,
            playbook="playbooks/migrate.yml",
        )
        refused(
            result,
            f"migrations_install_dir {shared} on localhost holds app-data, application.conf.d,"
            " venv-otherapp, which this role did not make",
        )  # fmt: skip
        assert sorted(path.name for path in shared.iterdir()) == [
            "app-data", "application.conf.d", "venv-otherapp"
        ]  # fmt: skip
        assert all((shared / name / "keep").read_text() == name for name in ("app-data",))


def test_a_backup_on_an_unreadable_repository_fails_in_one_sentence(site):
    repository = Path(f"/var/lib/pgbackrest/backup/{site.cluster}")
    mode = repository.stat().st_mode
    repository.chmod(0)
    try:
        result = site.play(playbook="playbooks/backup.yml")
    finally:
        repository.chmod(mode)
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "pgBackRest could not take a full backup of stanza" in text, text[-3000:]
    assert "Traceback" not in text
