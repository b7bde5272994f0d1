"""Verification of the converged containers, what needs a container's userland or systemd:
the release's own major and its settings, the service, roles and privileges
in the catalog, file modes, the backup timers and the migrations' virtualenv, on Debian 12
and 13.

What site.yml does the same way on any host (TLS-only access, the runtime role's reach,
WAL archiving, the schema at head, --check --diff) is tested once, in tests/site, which
runs on this machine and in the other release's container."""

from __future__ import annotations

import pytest

from devtools.paths import ROOT
from tests import design

# conftest.py: each container's major, and the query fixture.
testinfra_hosts = [f"podman://backend-db-upgrade-{release}" for release in (12, 13)]
PORT = 5432


def test_the_release_s_own_major_is_installed_and_no_other(host, major):
    assert host.package(f"postgresql-{major}").is_installed
    assert host.run("ls /etc/postgresql").stdout.split() == [str(major)]


def test_every_setting_of_the_drop_in_is_accepted_by_this_major(query, major):
    assert query("SHOW server_version_num")[0][0].startswith(str(major))
    rejected = query(
        "SELECT sourcefile, sourceline, name, error FROM pg_file_settings WHERE error IS NOT NULL"
    )
    assert rejected == []
    assert query(
        "SELECT count(*) FROM pg_file_settings"
        " WHERE sourcefile LIKE '%/conf.d/50-backend-db.conf' AND applied"
    ) != [("0",)]


def test_service_is_enabled_and_running_under_systemd(host, major):
    service = host.service(f"postgresql@{major}-main")
    assert service.is_running
    assert service.is_enabled
    assert host.run("systemctl is-system-running").stdout.strip() in ("running", "degraded")


def test_listens_on_loopback_only(host):
    listening = {s for s in host.socket.get_listening_sockets() if s.endswith(f":{PORT}")}
    assert listening, "nothing listens on the PostgreSQL port"
    assert listening <= {f"tcp://127.0.0.1:{PORT}", f"tcp://::1:{PORT}"}, listening


def test_owner_and_runtime_roles_have_no_cluster_wide_power(query):
    roles = {
        name: (superuser, createdb, createrole, replication, bypassrls, login, limit)
        for name, superuser, createdb, createrole, replication, bypassrls, login, limit in query(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
            " rolcanlogin, rolconnlimit FROM pg_roles"
            " WHERE rolname IN ('backend_owner', 'backend_app')"
        )
    }
    assert roles["backend_owner"] == (False, False, False, False, False, True, "-1")
    assert roles["backend_app"] == (False, False, False, False, False, True, "50")


def test_database_and_schema_belong_to_the_owner_and_public_is_locked_out(query):
    assert query(
        "SELECT pg_get_userbyid(datdba), has_database_privilege('public', 'backend', 'CONNECT'),"
        " has_database_privilege('public', 'backend', 'TEMPORARY')"
        " FROM pg_database WHERE datname = 'backend'"
    ) == [("backend_owner", False, False)]
    assert query(
        "SELECT has_schema_privilege('backend_app', 'public', 'CREATE'),"
        " has_schema_privilege('backend_app', 'public', 'USAGE'),"
        " has_schema_privilege('backend_owner', 'public', 'CREATE')"
    ) == [(False, True, True)]


def test_runtime_role_has_dml_on_every_table_and_nothing_more(query):
    rows = query(
        "SELECT c.relname, p.privilege, has_table_privilege('backend_app', c.oid, p.privilege)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " CROSS JOIN unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE',"
        "'REFERENCES','TRIGGER']) AS p(privilege)"
        " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'"
    )
    granted = {(table, privilege) for table, privilege, has in rows if has}
    tables = design.TABLES
    assert granted == {(t, p) for t in tables for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}
    # The recorded revision changes only by migrating.
    assert query(
        "SELECT p, has_table_privilege('backend_app', 'alembic_version', p)"
        " FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) AS p"
    ) == [
        ("SELECT", True),
        ("INSERT", False),
        ("UPDATE", False),
        ("DELETE", False),
        ("TRUNCATE", False),
    ]


def test_password_encryption_is_scram_and_ssl_is_on(query):
    assert query("SHOW password_encryption") == [("scram-sha-256",)]
    assert query("SHOW ssl") == [("on",)]
    assert query("SELECT count(*) FROM pg_authid WHERE rolpassword NOT LIKE 'SCRAM-SHA-256$%'") == [
        ("0",)
    ]


def test_pg_hba_never_trusts_and_ends_with_a_reject(query):
    rules = query(
        "SELECT type, database, user_name, address, auth_method FROM pg_hba_file_rules"
        " WHERE error IS NULL ORDER BY line_number"
    )
    assert rules, "pg_hba.conf has no rules"
    assert all(method != "trust" for *_, method in rules), rules
    assert query("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == [("0",)]
    remote = [rule for rule in rules if rule[0] != "local"]
    for rule in remote:
        kind, _, users, address, method = rule
        # A certificate only for PgBouncer's lookup role, from the host itself.
        if method == "cert":
            assert kind == "hostssl" and users == ["backend_pgbouncer"], rule
            assert address in ("127.0.0.1", "::1"), rule
            continue
        assert method in ("scram-sha-256", "reject"), rule
        if method == "scram-sha-256":
            assert kind == "hostssl" and "postgres" not in users
    assert remote[-1] == ("host", ["all"], ["all"], "all", "reject")


@pytest.mark.parametrize(
    "path, mode",
    [
        ("/etc/postgresql/{major}/main/pg_hba.conf", 0o600),
        ("/etc/postgresql/{major}/main/pg_ident.conf", 0o640),
        ("/etc/postgresql/{major}/main/postgresql.conf", 0o640),
        ("/etc/postgresql/{major}/main/conf.d/50-backend-db.conf", 0o640),
        ("/etc/postgresql/{major}/main/server.key", 0o600),
        ("/var/lib/postgresql/{major}/main", 0o700),
        ("/etc/postgresql/{major}/main/conf.d/60-backup.conf", 0o640),
        ("/etc/pgbackrest/main.conf", 0o600),
        ("/var/lib/pgbackrest", 0o750),
    ],
)
def test_files_are_owned_by_postgres_and_no_looser_than_designed(host, major, path, mode):
    file = host.file(path.format(major=major))
    assert file.exists
    assert file.user == "postgres"
    assert file.mode & ~mode == 0, oct(file.mode)


@pytest.mark.parametrize("kind", ["full", "diff"])
def test_backups_are_scheduled_by_enabled_systemd_timers(host, kind):
    timer = host.service(f"backend-db-backup-main-{kind}.timer")
    assert timer.is_enabled and timer.is_running
    unit = host.run(f"systemctl cat backend-db-backup-main@{kind}.service").stdout
    assert "User=postgres" in unit and "--type=%i backup" in unit


def _requirement(text: str) -> str:
    return text.strip().lower().replace("_", "-")


def test_migrations_virtualenv_has_exactly_the_locked_packages_and_no_pip(host):
    venvs = host.run("ls -d /opt/backend-db/venv-*").stdout.split()
    assert len(venvs) == 1, venvs
    python = f"{venvs[0]}/bin/python"
    code = (
        "from importlib.metadata import distributions as d\nfor x in d(): print(x.name, x.version)"
    )
    listing = host.run("%s -c %s", python, code)
    assert listing.rc == 0, listing.stderr
    installed = {_requirement("==".join(line.split())) for line in listing.stdout.splitlines()}
    names = {requirement.split("==")[0] for requirement in installed}
    locked = {
        _requirement(line)
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    assert {"alembic", "sqlalchemy", "psycopg2-binary"} <= names
    assert installed <= locked, installed - locked
    assert not names & {"pip", "setuptools"}
    # The host's own packages stay out (Debian's python3-psycopg2 is installed too).
    where = host.run("%s -c %s", python, "import psycopg2; print(psycopg2.__file__)")
    assert where.stdout.startswith(f"{venvs[0]}/"), where.stdout
    assert not host.package("python3-venv").is_installed
