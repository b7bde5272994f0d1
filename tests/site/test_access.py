"""Who reaches the database, how: TLS the clients verify, pg_hba.conf, the runtime role's
reach (the postgresql and app_database roles)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg2
import pytest

from devtools.site import VERSION
from devtools.waits import changed_tasks, printed


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


ATTRIBUTES = (
    "SELECT rolname, rolcanlogin, rolcreatedb, rolcreaterole, rolinherit, rolconnlimit"
    " FROM pg_roles WHERE rolname IN ('backend_owner', 'backend_app', 'backend_monitor',"
    " 'backend_pgbouncer')"
    " ORDER BY rolname"
)
OWNER = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'backend'"


def test_roles_and_the_database_changed_behind_the_sites_back_are_set_back_by_a_run(site):
    # A re-run reads the roles and the database once and sends nothing for what it finds
    # as its tasks would leave it: what someone changed by hand must still be found.
    before = site.superuser_rows(ATTRIBUTES), site.superuser_value(OWNER)
    connection = psycopg2.connect(host="/var/run/postgresql", port=site.port, user="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("ALTER ROLE backend_app CREATEDB INHERIT CONNECTION LIMIT 3")
        cursor.execute("ALTER ROLE backend_monitor CREATEROLE")
        cursor.execute("ALTER ROLE backend_owner NOLOGIN")
        cursor.execute("ALTER DATABASE backend OWNER TO postgres")
        # PgBouncer's lookup role logs in with the host's certificate only: a password
        # given to it by hand is taken away.
        cursor.execute("ALTER ROLE backend_pgbouncer PASSWORD 'set-by-hand-123' CREATEDB")
    connection.close()
    result = site.play()
    assert result.returncode == 0, printed(result)
    changed = changed_tasks(result.stdout)
    for task in ("The owner role exists", "The runtime role exists", "The monitoring role exists",
                 "The application database exists", "PgBouncer's lookup role exists"):  # fmt: skip
        assert any(task in name for name in changed), changed
    assert (site.superuser_rows(ATTRIBUTES), site.superuser_value(OWNER)) == before
    assert site.superuser_value(
        "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'backend_pgbouncer'"
    )


def test_runtime_role_cannot_connect_to_another_database(site):
    with pytest.raises(psycopg2.OperationalError, match=r"pg_hba\.conf rejects"):
        site.connect(database="postgres")


def test_postgres_cannot_log_in_over_tcp(site):
    with pytest.raises(psycopg2.OperationalError, match=r"pg_hba\.conf rejects"):
        site.connect(user="postgres", database="postgres", password="any")


def test_plain_tcp_without_tls_is_refused(site):
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        site.connect(sslmode="disable")


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


HBAS = "postgresql_hba_entries"


HBA = {
    "type": "hostssl", "database": "backend", "user": "backend_app",
    "address": "10.9.0.0/16", "method": "scram-sha-256",
}  # fmt: skip


def test_pg_hba_entries_are_added_and_a_line_postgresql_rejects_leaves_the_old_file(site, tmp_path):
    hba = Path(f"/etc/postgresql/{VERSION}/{site.cluster}/pg_hba.conf")
    monitor = HBA | {"user": ["backend_app", "+backend_owner"], "options": "clientcert=verify-ca"}
    extra = tmp_path / "extra.json"
    try:
        extra.write_text(json.dumps({HBAS: [monitor]}))
        added = site.play("-e", f"@{extra}", playbook="playbooks/server.yml")
        assert added.returncode == 0, printed(added)
        rules = site.hba_rules()
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
        assert all(error is None for *_, error in site.hba_rules())
        assert not list(hba.parent.glob("pg_hba.conf.*")), "a copy of the old file was left behind"
        assert "Traceback" not in rejected.stdout + rejected.stderr
        site.connect().close()
    finally:
        restored = site.play(playbook="playbooks/server.yml")
    assert restored.returncode == 0, printed(restored)
    assert not any(rule[3] == "10.9.0.0" for rule in site.hba_rules())
