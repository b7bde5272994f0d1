"""The restore drill: real backups restored with playbooks/restore.yml, then checked.

The repository is on a repository host (backend-db-backup-repo), which takes the
backups; the database server archives into it and restores from it over SSH.

The tests run in file order and share one history, built by the `drill` fixture:
every table filled, a full backup (playbooks/backup.yml), more rows, the time T, rows
after T, then a bad migration (rows deleted, a column dropped) that wrote a restore
point first. The restores go to that restore point, then to T: T lies before the
point where the first restore branched the history, so both are reachable.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

from devtools.container import PGBACKREST
from devtools.container import molecule_playbook as play
from devtools.monitoring import fetched, samples
from devtools.paths import ROOT
from devtools.site import recap
from devtools.waits import wait_for

testinfra_hosts = ["podman://backend-db-backup"]

FILES = Path(__file__).resolve().parents[1] / "files"
STATE_SQL = ROOT / "molecule/release-upgrade/files/state.sql"
SEED_SQL = ROOT / "molecule/upgrade/files/seed.sql"
HOST = "backend-db-backup"
REPO_HOST = "backend-db-backup-repo"
CONFIG = "/etc/pgbackrest/main.conf"
# Where run_file puts a SQL file for postgres to read.
DRILL_SQL = "/var/lib/postgresql/drill.sql"


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout[-4000:] + result.stderr[-3000:]


def psql(host, sql: str, database: str = "backend", port: int = 5432) -> str:
    result = host.run(
        "cd / && runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -p %s -d %s -c %s",
        str(port), database, sql,
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def run_file(host, path: Path, port: int = 5432) -> str:
    """A SQL file of this repository, run on the host as postgres in the database backend."""
    copied = host.run("umask 022 && printf '%%s' %s > %s", path.read_text(), DRILL_SQL)
    assert copied.rc == 0, copied.stderr
    result = host.run(
        "cd / && runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -p %s -d backend -f %s",
        str(port), DRILL_SQL,
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def state(host, port: int = 5432) -> dict:
    """Per-table row count and md5, revision, roles and privileges (see state.sql)."""
    found = json.loads(run_file(host, STATE_SQL, port))
    del found["server_major"]
    return found


def indexes_pass_amcheck(host, port: int = 5432) -> int:
    """amcheck over every B-tree index of the schema, heap included; how many were checked."""
    psql(host, "CREATE EXTENSION IF NOT EXISTS amcheck", port=port)
    try:
        return int(
            psql(
                host,
                "SELECT count(bt_index_check(c.oid, true)) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam"
                " WHERE am.amname = 'btree' AND c.relnamespace = 'public'::regnamespace",
                port=port,
            )
        )
    finally:
        psql(host, "DROP EXTENSION amcheck", port=port)


def backups(host) -> list[dict]:
    result = host.run(f"{PGBACKREST} --output=json info")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]["backup"]


@pytest.fixture(scope="module")
def repo_host():
    return testinfra.get_host(f"podman://{REPO_HOST}")


def setting(host, name: str) -> str:
    """A setting of the stanza's pgBackRest configuration on host."""
    (value,) = re.findall(rf"^{name}=(.*)$", host.file(CONFIG).content_string, re.M)
    return value


def test_the_repository_and_its_passphrase_are_on_the_repository_host_only(host, repo_host):
    config = repo_host.file(CONFIG)
    assert (config.user, config.group, config.mode) == ("pgbackrest", "pgbackrest", 0o600)
    assert len(setting(repo_host, "repo1-cipher-pass")) >= 20
    assert repo_host.file("/var/lib/pgbackrest/backup/main/backup.info").exists
    # Each side reaches the other at its inventory name (the role's default).
    assert setting(host, "repo1-host") == REPO_HOST
    assert setting(repo_host, "pg1-host") == HOST
    assert "cipher" not in host.file(CONFIG).content_string
    assert setting(host, "repo1-host-user") == "pgbackrest"
    assert not host.file("/var/lib/pgbackrest/backup/main").exists
    # The repository host takes the scheduled backups; the database server has no timer.
    for kind in ("full", "diff"):
        timer = f"backend-db-backup-main-{kind}.timer"
        assert repo_host.service(timer).is_enabled and repo_host.service(timer).is_running
        assert not host.file(f"/etc/systemd/system/{timer}").exists
    unit = repo_host.file("/etc/systemd/system/backend-db-backup-main@.service")
    assert "User=pgbackrest" in unit.content_string


def test_the_repository_hosts_node_exporter_serves_the_backups_on_its_monitoring_address(
    host, repo_host
):
    """The backups run on the repository host, which writes their metrics: its node
    exporter (the backup role's) serves them and the backup units' state in plain HTTP,
    on the repository host's monitoring_address only, as Prometheus's job
    backend_db_repository scrapes it."""
    listening = repo_host.run("ss -Hltn").stdout
    assert ":9100 " in listening and "*:9100 " not in listening, listening
    assert "127.0.0.1:9100 " not in listening, listening
    scraped = fetched(host, f"http://{REPO_HOST}:9100/metrics")
    assert scraped.rc == 0, scraped.stderr
    completed = samples(scraped.stdout, "backend_db_backup_last_completion_timestamp_seconds")
    assert [labels for labels, _ in completed] == ['{stanza="main",type="full"}'], completed
    units = samples(scraped.stdout, "node_systemd_unit_state")
    for timer in ("backend-db-backup-main-full.timer", "backend-db-backup-main-diff.timer"):
        active = [
            value
            for labels, value in units
            if f'name="{timer}"' in labels and 'state="active"' in labels
        ]
        assert active == [1.0], units


def test_a_check_of_the_converged_site_reports_no_change(host):
    result = play("site.yml", "--check")
    assert result.returncode == 0, output(result)
    assert recap(result, HOST)["changed"] == 0, recap(result, HOST)


# From each side, as the user pgBackRest runs as there, to the other side's user, at the
# address the side's configuration names.
SIDES = {
    "repository-to-database": (REPO_HOST, "pgbackrest", "postgres", "pg1-host"),
    "database-to-repository": (HOST, "postgres", "pgbackrest", "repo1-host"),
}


@pytest.mark.parametrize(("source", "user", "target", "address_of"), SIDES.values(), ids=SIDES)
def test_each_side_s_key_runs_pgbackrest_and_nothing_else(source, user, target, address_of):
    side = testinfra.get_host(f"podman://{source}")
    address = setting(side, address_of)
    # The host key was known in advance (no prompt in batch mode); the key logs in,
    # and what it asks to run is handed to pgBackRest instead.
    result = side.run(
        "cd / && runuser -u %s -- ssh -o BatchMode=yes %s@%s 'sh -c id'", user, target, address
    )
    assert "uid=" not in result.stdout, result.stdout
    assert "Host key verification failed" not in result.stderr, result.stderr
    assert "Permission denied" not in result.stderr, result.stderr
    assert "option '-c' must begin with --" in result.stderr, result.stderr
    # Nothing else on stderr: ssh found every host key it was offered already known.
    assert result.stderr.startswith("ERROR: [031]"), result.stderr
    other = testinfra.get_host(f"podman://{HOST if source == REPO_HOST else REPO_HOST}")
    home = "/var/lib/postgresql" if target == "postgres" else "/home/pgbackrest"
    (entry,) = other.file(f"{home}/.ssh/authorized_keys").content_string.splitlines()
    forced = 'restrict,command="/usr/bin/pgbackrest ${SSH_ORIGINAL_COMMAND#* }" ssh-ed25519 '
    assert entry.startswith(forced), entry


@pytest.fixture(scope="module")
def drill(host) -> dict:
    run_file(host, SEED_SQL)
    backed_up = play("playbooks/backup.yml")
    assert backed_up.returncode == 0, output(backed_up)
    run_file(host, FILES / "before-t.sql")
    at_t = state(host)
    # T: after every commit above, and before everything below.
    utc = "clock_timestamp() AT TIME ZONE 'UTC'"
    t = psql(host, f"SELECT to_char({utc}, 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
    time.sleep(1.5)
    run_file(host, FILES / "after-t.sql")
    before_migration = state(host)
    migrated = play(str(FILES / "bad-migration.yml"))
    assert migrated.returncode == 0, output(migrated)
    restore_point = host.file("/root/restore-point").content_string.strip()
    return {
        "backup": backed_up, "t": t, "at_t": at_t, "before_migration": before_migration,
        "restore_point": restore_point, "after_migration": state(host),
    }  # fmt: skip


def test_every_table_has_rows_and_the_bad_migration_did_harm(drill):
    assert set(drill["at_t"]["tables"]) == {
        "alembic_version", "users", "api_keys", "budgets", "policies", "payments", "requests",
    }  # fmt: skip
    assert all(int(count) > 0 for count, _ in drill["at_t"]["tables"].values())
    assert drill["before_migration"]["tables"] != drill["at_t"]["tables"]
    after = drill["after_migration"]
    assert after["revision"] == "bad0dr111000"
    assert after["tables"]["requests"] != drill["before_migration"]["tables"]["requests"]
    assert re.fullmatch(r"before-bad0dr111000-\d{8}T\d{6}Z", drill["restore_point"])


def test_the_backup_playbook_took_a_full_backup_after_the_first(host, drill):
    assert "full backup" in drill["backup"].stdout, output(drill["backup"])
    assert [backup["type"] for backup in backups(host)] == ["full", "full"]


def at(when: str) -> dict:
    return {"restore_type": "time", "restore_target": when}


# Each refused before any change, and said in one sentence; all but the first confirmed.
BAD_INPUT = {
    "unconfirmed": ({}, "re-run confirmation"),
    "unknown-type": ({"restore_type": "yesterday"}, "restore_type must be latest, time"),
    "before-first-backup": (at("2000-01-01 00:00:00+00"), "is before the end of the first backup"),
    "not-a-time": (at("next blursday"), "is not a time such as"),
    "a-word-for-a-time": (at("yesterday"), "words such as yesterday are refused"),
    "future": (at("2999-01-01 00:00:00+00"), "is later than now"),
    "unknown-name": (
        {"restore_type": "name", "restore_target": "just-before"},
        "is not a restore point the migrations role writes",
    ),
    "no-port": ({"restore_into": "verify"}, "restore_into_port must be a free port"),
    "same-cluster": (
        {"restore_into": "main", "restore_into_port": 5433},
        "restore_into must name a new cluster",
    ),
}


@pytest.mark.parametrize(("variables", "says"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_fails_before_any_change_in_one_sentence(host, drill, variables, says):
    if says != "re-run confirmation":
        variables = {**variables, "restore_confirm": True}
    result = play("playbooks/restore.yml", "-e", json.dumps(variables))
    assert result.returncode != 0
    text = output(result)
    if says == "re-run confirmation":
        assert "Nothing was changed: this would replace the data of cluster main" in text, text
        assert "every change made after that is lost" in text, text
        assert "restore_confirm=true" in text, text
    else:
        assert "Nothing was changed: " in text and says in text, text
    assert "Traceback" not in text
    assert state(host) == drill["after_migration"]


def test_a_check_says_the_plan_and_changes_nothing(host, drill):
    result = play("playbooks/restore.yml", "--check", "-e", "restore_type=name",
                  "-e", f"restore_target={drill['restore_point']}")  # fmt: skip
    assert result.returncode == 0, output(result)
    assert "Check mode: a real run with -e restore_confirm=true would replace" in result.stdout
    assert state(host) == drill["after_migration"]


def restored(host, *variables: str) -> subprocess.CompletedProcess:
    result = play("playbooks/restore.yml", "-e", "restore_confirm=true", *variables)
    assert result.returncode == 0, output(result)
    return result


def converges_without_change_and_archives(host) -> None:
    again = play("site.yml")
    assert again.returncode == 0, output(again)
    counts = recap(again, HOST)
    assert counts["changed"] == 0 and counts["failed"] == 0, counts
    check = host.run(f"{PGBACKREST} check")
    assert check.rc == 0, check.stderr


def test_restore_to_the_point_before_the_bad_migration(host, drill):
    restored(host, "-e", "restore_type=name", "-e", f"restore_target={drill['restore_point']}")
    assert state(host) == drill["before_migration"]
    assert indexes_pass_amcheck(host) >= 10
    converges_without_change_and_archives(host)


def test_restore_to_the_time_t(host, drill):
    restored(host, "-e", "restore_type=time", "-e", f"restore_target='{drill['t']}'")
    # Every row written before T, with the same count and md5, and nothing after it.
    assert state(host) == drill["at_t"]
    assert indexes_pass_amcheck(host) >= 10
    converges_without_change_and_archives(host)


def ready_segments(host) -> list[str]:
    listing = host.run("ls /var/lib/postgresql/15/main/pg_wal/archive_status/")
    return [name for name in listing.stdout.split() if name.endswith(".ready")]


def test_an_archive_outage_loses_no_wal_and_is_visible(host, repo_host, drill):
    repo_host.run_test("chmod 0000 /var/lib/pgbackrest")
    try:
        psql(host, "INSERT INTO users (email, display_name) VALUES ('outage@example.com', 'O')")
        segments = [psql(host, "SELECT pg_walfile_name(pg_switch_wal())") for _ in range(3)]
        check = host.run(f"{PGBACKREST} --archive-timeout=5 check")
        assert check.rc != 0
        assert "ERROR" in check.stderr + check.stdout, check.stderr
        wait_for(lambda: ready_segments(host), 60, "segments waiting in pg_wal (.ready)")
        # The segments wait in pg_wal, and PostgreSQL counts the failures.
        assert set(segments) <= set(name.removesuffix(".ready") for name in ready_segments(host))
        assert int(psql(host, "SELECT failed_count FROM pg_stat_archiver")) > 0
    finally:
        repo_host.run_test("chmod 0750 /var/lib/pgbackrest")
    wait_for(lambda: not ready_segments(host), 120, "every waiting segment archived", 2)
    archived = psql(host, "SELECT last_archived_wal FROM pg_stat_archiver")
    assert archived[8:] >= max(segments)[8:], (archived, segments)
    assert host.run(f"{PGBACKREST} check").rc == 0


def test_a_restore_into_a_new_cluster_has_everything_and_leaves_the_cluster_alone(host, drill):
    # Everything written so far is archived: check switches WAL and waits for it.
    assert host.run(f"{PGBACKREST} check").rc == 0
    before = state(host)
    assert "outage@example.com" in psql(host, "SELECT string_agg(email, ' ') FROM users")
    restored(host, "-e", "restore_into=verify", "-e", "restore_into_port=5433")
    try:
        # What was archived during and after the outage is there: no WAL was lost.
        assert state(host, port=5433) == before
        assert psql(host, "SHOW archive_mode", port=5433) == "off"
        assert state(host) == before
        assert host.service("postgresql@15-main").is_running
    finally:
        host.run_test("pg_dropcluster --stop 15 verify")
