"""site.yml converges this machine once, then changes nothing: re-runs, checks, and what a
check says of a host not provisioned yet."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from devtools.paths import BIN, ROOT
from devtools.site import VERSION, Site, installed
from devtools.waits import module_calls, printed
from tests.helpers import recap


def test_first_run_provisions_and_second_run_changes_nothing(site):
    first, second = site.runs
    assert first.returncode == 0, first.stdout[-4000:]
    assert recap(first)["changed"] > 0
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second)["changed"] == 0, second.stdout[-4000:]


# What a re-run that changes nothing costs the host and the controller: each module call
# 0.3-0.5 s here, each task the controller evaluates 0.02-0.3 s, a skipped one too. Held
# at what this round left, so that a change that adds a call or a task to every re-run
# shows here, named (and goes into docs/performance.md): 7 calls and 111 tasks, on a
# machine not booted with systemd as under systemd (113 tasks: the backup timers' tasks),
# the other release's container. Before: 12 and 158; one call more since the server is
# asked whether a restart still waits (configure.yml), and five tasks (no call) since
# Ansible checks the arguments of each role entry point the plays include
# (meta/argument_specs.yml); one call fewer without systemd since that answer tells that
# the cluster runs (service.yml asked pg_ctlcluster again); 113 and 115 tasks before the
# packages and the cluster's making became one task a re-run skips
# (roles/postgresql/tasks/install_cluster.yml; 116 and 118 with the tasks the first
# converge gained that round, when they were not). PgBouncer added five tasks and no call
# (its snapshot is the postgresql role's; its work a re-run skips as one include): 111
# and 113. Four more (no call) since the server play checks PgBouncer's settings before
# any role changes anything, as it does the backup role's: 115 and 117. Five more (no
# call) with the exporters role off, its default: its check in the server play's
# pre_tasks, and its role entry's argument check and three tasks, each skipped: 120 and
# 122 (a role the play lists with a condition evaluates each of its tasks). One call fewer
# since the snapshot asks the server what an earlier run left waiting, and eight tasks
# fewer since a server outside a Patroni cluster skips asking for its leader as one task,
# in the database and the migration plays: 6 calls, 112 and 114 tasks. Nine fewer since
# what a re-run finds in place is skipped as one task each: the stanza's making and first
# backup (backup role), the roles and the database, and a check's end (app_database
# role): 103 and 105. One call fewer since the migrations role's snapshot asks the
# server which revision it records, and a database at the requested one is left alone
# without the migration module: 5 calls. 91 and 93 tasks by then (the figure above had
# room); seventeen fewer since the postgresql role skips all of its work as one task when
# the snapshot shows none to do (roles/postgresql/tasks/converge.yml): 74 and 76. Four
# fewer since the backup role does the same with its package, directories and
# configuration: 70 and 72.
RE_RUN_MODULE_CALLS = 5
RE_RUN_TASKS = 72


def test_a_re_run_that_changes_nothing_calls_few_modules_and_evaluates_few_tasks(site):
    second = site.runs[1]
    calls = module_calls(second.stdout)
    counts = recap(second)
    tasks = counts["ok"] + counts["skipped"]
    assert len(calls) <= RE_RUN_MODULE_CALLS and tasks <= RE_RUN_TASKS, (
        f"{len(calls)} module calls, {tasks} tasks:\n" + "\n".join(calls)
    )


def test_check_diff_on_a_provisioned_host_changes_nothing(site):
    result = site.play("--check", "--diff")
    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result)["changed"] == 0, result.stdout[-4000:]


def test_rows_in_every_table_survive_re_running_the_site(site):
    site.seed()
    before = site.table_checksums()
    assert all(count > 0 for count, _ in before.values()), before
    for args in ((), ("--check",)):
        result = site.play(*args)
        assert result.returncode == 0 and recap(result)["changed"] == 0, printed(result)
        assert site.table_checksums() == before


@pytest.mark.controller
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
    assert recap(result)["changed"] == 0, printed(result)
    assert re.search(
        rf"Debian \d+ \(\w+\) offers PostgreSQL [0-9, ]*{VERSION}[0-9, ]* from the package "
        r"archives it is configured with, not 16: leave postgresql_version unset",
        output,
    ), printed(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert not installed("postgresql-16")
    assert not Path(f"/etc/postgresql/16/{fresh.cluster}").exists()


def test_a_cluster_at_another_major_fails_before_any_change_and_points_to_the_upgrade(
    site, tmp_path
):
    other = 17 if VERSION != 17 else 15
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"postgresql_version": other}))
    before = site.table_checksums()
    had_other = installed(f"postgresql-{other}")
    result = site.play("-e", f"@{extra}")
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert recap(result)["changed"] == 0, printed(result)
    assert (
        f"The cluster {site.cluster} on localhost exists at PostgreSQL {VERSION}, and the "
        f"inventory asks for {other}: changing the major is a deliberate upgrade, so run "
        "playbooks/upgrade_major.yml (runbook in docs/operations.md), or set "
        f"postgresql_version: {VERSION} to keep the cluster as it is." in output
    ), printed(result)
    assert not Path(f"/etc/postgresql/{other}/{site.cluster}").exists()
    assert installed(f"postgresql-{other}") == had_other
    assert site.table_checksums() == before
