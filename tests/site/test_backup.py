"""The backup role on this machine: WAL archiving into the encrypted local repository,
backups before revisions, and the restore drills of the default layout."""

from __future__ import annotations

import json
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
    MigrationRequest,
    migrate,
)
from devtools.paths import BIN, ROOT
from devtools.pgserver import free_port
from devtools.site import VERSION, drop_cluster, socket_checksums
from devtools.waits import said
from tests.helpers import lineage, recap


def test_wal_is_archived_into_an_encrypted_repository_with_a_first_full_backup(site):
    info = site.pgbackrest("--output=json", "info")
    assert info.returncode == 0, info.stderr
    (stanza,) = json.loads(info.stdout)
    assert stanza["status"]["code"] == 0, stanza["status"]
    assert stanza["cipher"] == "aes-256-cbc"
    assert [backup["type"] for backup in stanza["backup"]] == ["full"]
    check = site.pgbackrest("check")
    assert check.returncode == 0, check.stderr
    assert site.superuser_value("SHOW archive_mode") == "on"
    assert site.superuser_value("SELECT failed_count FROM pg_stat_archiver") == 0
    config = site.backup_config.stat()
    assert (config.st_mode & 0o777, config.st_uid) == (0o600, pwd.getpwnam("postgres").pw_uid)


def test_the_first_run_wrote_a_restore_point_before_the_revisions_and_the_second_none(site):
    first, second = site.runs
    assert re.search(rf"Restore point before-{lineage()[0]}-\d{{8}}T\d{{6}}Z", first.stdout)
    assert "Restore point before-" not in second.stdout


def one_revision_back(site) -> None:
    """The site's database one revision below the head, so that the next run migrates."""
    owner = sa.engine.URL.create(
        "postgresql+psycopg2", username="backend_owner", password=site.owner_password,
        host="127.0.0.1", port=site.port, database="backend",
    )  # fmt: skip
    scripts = str(ROOT / "migrations")
    migrate(MigrationRequest(scripts, owner, revision=lineage()[-2], allow_downgrade=True))


def test_with_backup_before_a_pending_revision_gets_a_backup_and_a_restore_point_first(site):
    one_revision_back(site)
    backups_before = site.backups()
    result = site.play("-e", "migrations_backup_before=true", playbook="playbooks/migrate.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    backups_after = site.backups()
    types = [backup["type"] for backup in backups_after]
    assert types == [backup["type"] for backup in backups_before] + ["diff"]
    assert re.search(rf"Restore point before-{lineage()[-1]}-\d{{8}}T\d{{6}}Z", result.stdout)
    # At the head, nothing is pending: no backup, no restore point, no change.
    again = site.play("-e", "migrations_backup_before=true", playbook="playbooks/migrate.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-4000:]
    assert len(site.backups()) == len(backups_after)


def test_a_restore_point_the_server_never_wrote_is_refused_even_by_a_check(site):
    """A restore point lives in the WAL, which a check cannot replay; the server's log
    records each one written. A name shaped like the migrations role's, with a time the
    backups cover, but never written: refused before any change (a check predicted
    success). The point a migration just wrote: the check says the plan."""
    one_revision_back(site)
    migrated = site.play(playbook="playbooks/migrate.yml")
    assert migrated.returncode == 0, migrated.stdout[-4000:]
    written = re.search(r"Restore point (before-\w+-(\d{8}T\d{6}Z))", migrated.stdout)
    assert written, migrated.stdout[-4000:]
    never = f"before-0000deadbeef-{written.group(2)}"

    def check(name: str) -> subprocess.CompletedProcess:
        return site.play(
            "--check", "-e", "restore_type=name", "-e", f"restore_target={name}",
            playbook="playbooks/restore.yml",
        )  # fmt: skip

    refused = check(never)
    text = said(refused)
    assert refused.returncode != 0, text[-3000:]
    assert f"restore_target {never} is not a restore point that localhost's log" in text, text
    assert f"restore_type=time restore_target='{written.group(2)[:4]}-" in text, text
    planned = check(written.group(1))
    assert planned.returncode == 0, said(planned)[-3000:]
    assert "Check mode: a real run with -e restore_confirm=true would" in planned.stdout


def test_the_local_repository_restores_into_a_new_cluster_leaving_the_cluster_alone(site):
    """The restore drill of the default layout (repository on the server): the backup
    scenario drills a repository host, this restores what `make site` sets up."""
    site.seed()
    before = socket_checksums(site.port)
    assert " 0:" not in f" {before}", before
    # Everything written so far is archived: check switches WAL and waits for it.
    assert site.pgbackrest("check").returncode == 0
    clone, port = f"{site.cluster}_copy", free_port()
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
    assert site.pgbackrest("check").returncode == 0
    stop = ["pg_ctlcluster", str(VERSION), site.cluster, "stop"]
    assert subprocess.run(stop, capture_output=True, check=False).returncode == 0
    result = site.play("-e", "restore_confirm=true", playbook="playbooks/restore.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"cluster {site.cluster} (port {site.port}) holds its newest state" in result.stdout
    assert socket_checksums(site.port) == before


def test_a_backup_on_an_unreadable_repository_fails_in_one_sentence(site):
    repository = Path(f"/var/lib/pgbackrest/backup/{site.cluster}")
    mode = repository.stat().st_mode
    repository.chmod(0)
    try:
        result = site.play(playbook="playbooks/backup.yml")
    finally:
        repository.chmod(mode)
    text = said(result)
    assert result.returncode != 0
    assert "pgBackRest could not take a full backup of stanza" in text, text[-3000:]
    assert "Traceback" not in text


def test_two_servers_with_one_stanza_on_one_repository_host_fail_before_any_change(site, tmp_path):
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({
        "dbservers": {
            "hosts": {"db-a": local, "db-b": local}, "vars": {"backup_repo_host": "repo-x"},
        },
        "backupservers": {"hosts": {"repo-x": local}},
    }))  # fmt: skip
    # The site's own group variables: its secrets come from the same lookups.
    shutil.copytree(site.workdir / "group_vars", tmp_path / "group_vars")
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
