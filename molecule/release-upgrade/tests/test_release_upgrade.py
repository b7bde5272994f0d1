"""After Debian 12 -> 13 and PostgreSQL 15 -> 17: the same database, on the new major."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from devtools.container import PGBACKREST

testinfra_hosts = ["podman://backend-db-release-upgrade"]


def state(host) -> dict:
    result = host.run(
        "cd / && runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d backend -f - < %s",
        "/root/state.sql",
    )
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def before(host) -> dict:
    return json.loads(host.file("/root/state-before.json").content_string)


@pytest.fixture(scope="module")
def after(host) -> dict:
    return state(host)


def test_the_host_runs_debian_13_and_the_cluster_postgresql_17(host, before, after):
    assert host.run(". /etc/os-release && echo $VERSION_ID").stdout.strip() == "13"
    assert (before["server_major"], after["server_major"]) == (15, 17)
    assert host.service("postgresql@17-main").is_running
    assert host.service("postgresql@17-main").is_enabled


def test_every_table_has_the_same_rows(before, after):
    assert set(before["tables"]) == {
        "alembic_version", "users", "api_keys", "budgets", "policies", "payments", "requests",
    }  # fmt: skip
    assert all(int(count) > 0 for count, _ in before["tables"].values()), before["tables"]
    assert after["tables"] == before["tables"]


def test_schema_revision_roles_passwords_and_privileges_are_unchanged(before, after):
    for part in ("revision", "roles", "grants", "default_privileges", "database"):
        assert after[part] == before[part], part
    assert before["grants"] and before["default_privileges"]


def test_the_old_cluster_is_kept_stopped_for_a_back_out(host):
    listing = host.run("pg_lsclusters --no-header").stdout.split("\n")
    clusters = {tuple(line.split()[:4]) for line in listing if line.strip()}
    assert ("17", "main", "5432", "online") in clusters, listing
    assert [status for major, _, _, status in clusters if major == "15"] == ["down"], listing
    assert host.file("/etc/postgresql/15/main/start.conf").content_string.strip().endswith("manual")


def test_the_new_cluster_has_the_role_s_configuration_and_the_old_certificate(host):
    old = host.file("/etc/postgresql/15/main/server.crt").content_string
    assert host.file("/etc/postgresql/17/main/server.crt").content_string == old
    assert host.file("/etc/postgresql/17/main/conf.d/50-backend-db.conf").exists
    assert host.file("/etc/postgresql/17/main/pg_hba.conf").mode == 0o600


def test_the_backups_follow_the_upgrade_with_a_full_backup_of_the_new_major(host):
    info = host.run(f"{PGBACKREST} --output=json info")
    assert info.rc == 0, info.stderr
    (stanza,) = json.loads(info.stdout)
    assert [db["version"] for db in stanza["db"]] == ["15", "17"]
    newest = stanza["backup"][-1]
    assert newest["type"] == "full" and newest["database"]["id"] == stanza["db"][-1]["id"]
    assert host.run(f"{PGBACKREST} check").rc == 0


def test_the_migrations_run_from_a_virtualenv_for_debian_13_s_python(host):
    venvs = host.run("ls -d /opt/backend-db/venv-*/lib/python3.*").stdout.split()
    assert [path.rsplit("/", 1)[1] for path in venvs] == ["python3.13"], venvs


def test_before_its_confirmation_the_upgrade_refused_and_a_check_only_said_the_plan():
    """prepare.yml ran playbooks/upgrade_major.yml unconfirmed, then with --check."""
    previews = json.loads(
        (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "previews.json").read_text()
    )
    # Ansible writes a task's failure to standard error, the rest to standard output.
    unconfirmed, check = (
        {**run, "said": " ".join((run["stdout"] + run["stderr"]).split())} for run in previews
    )
    plan = (
        "upgrade the cluster main on backend-db-release-upgrade from PostgreSQL 15 to 17 "
        "with pg_upgradecluster --method=upgrade"
    )
    assert unconfirmed["rc"] != 0
    assert f"Nothing was changed: this would {plan}" in unconfirmed["said"], unconfirmed["said"]
    assert "-e postgresql_upgrade_confirm=true" in unconfirmed["said"]
    assert check["rc"] == 0, check["said"][-2000:]
    assert (
        f"Check mode: a real run with -e postgresql_upgrade_confirm=true would {plan}"
        in (check["said"])
    )
    for run in (unconfirmed, check):
        assert re.search(r"backend-db-release-upgrade : ok=\d+ changed=0 ", run["said"]), run
