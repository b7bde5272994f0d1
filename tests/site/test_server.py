"""The server's settings (the postgresql role): what it computes, what it restarts for, and
what PostgreSQL refuses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg2
import pytest

from devtools.site import VERSION
from devtools.waits import printed, said, wait_for
from tests.helpers import host_memory_mb, memory_settings_mb, recap


def drop_in_of(site) -> Path:
    """The postgresql role's drop-in in the site's cluster."""
    return Path(f"/etc/postgresql/{VERSION}/{site.cluster}/conf.d/50-backend-db.conf")


def left_by_a_stopped_run(site, line: str) -> tuple[Path, str, str]:
    """The drop-in, as the role wrote it with `line` added (a stopped run's write), and the
    server's start time: what the two stopped-run tests set up and compare."""
    dropin = drop_in_of(site)
    written = dropin.read_text()
    setting = line.split(" = ")[0]
    assert written.endswith("\n") and setting not in written
    started = site.superuser_value("SELECT pg_postmaster_start_time()")
    return dropin, written + line + "\n", started


def test_a_changed_preload_library_list_restarts_the_server_once_and_takes_effect(site, tmp_path):
    started = site.superuser_value("SELECT pg_postmaster_start_time()")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"postgresql_shared_preload_libraries": []}))
    try:
        changed = site.play("-e", f"@{extra}", playbook="playbooks/server.yml")
        assert changed.returncode == 0, changed.stdout[-3000:]
        # PostgreSQL said the setting needs a restart (pg_file_settings), so the role did.
        assert site.superuser_value("SHOW shared_preload_libraries") == ""
        assert site.superuser_value("SELECT pg_postmaster_start_time()") > started
    finally:
        restored = site.play(playbook="playbooks/server.yml")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert site.superuser_value("SHOW shared_preload_libraries") == "pg_stat_statements"


def test_a_restart_a_stopped_run_left_waiting_is_done_by_the_next_run(site, tmp_path):
    """A run that wrote a restart-only setting and reloaded, then stopped before the restart
    (a failed task, a lost host): the next run finds the drop-in as the inventory wants it,
    so nothing notifies the handlers. Before, it reported no change and the old value stayed
    in force; now the server is asked what waits for a restart before anything is written."""
    # The line the template writes.
    dropin, left, started = left_by_a_stopped_run(site, "max_locks_per_transaction = 128")
    try:
        # What the stopped run left: its drop-in, read by its reload, and no restart.
        dropin.write_text(left)
        site.superuser_value("SELECT pg_reload_conf()")
        wait_for(
            lambda: site.superuser_value(
                "SELECT pending_restart FROM pg_settings WHERE name = 'max_locks_per_transaction'"
            ),
            30, "the reloaded server to say max_locks_per_transaction waits for a restart",
        )  # fmt: skip
        resumed = site.play_with(
            tmp_path, "server", {"postgresql_settings": {"max_locks_per_transaction": 128}}
        )
        assert resumed.returncode == 0, printed(resumed)
        assert dropin.read_text() == left, "the run wrote the drop-in: it had to find it as it was"
        assert site.superuser_value("SHOW max_locks_per_transaction") == "128", printed(resumed)
        assert site.superuser_value("SELECT pg_postmaster_start_time()") > started
        assert site.superuser_value("SELECT count(*) FROM pg_settings WHERE pending_restart") == 0
    finally:
        restored = site.play(playbook="playbooks/server.yml")
    assert restored.returncode == 0, printed(restored)
    assert site.superuser_value("SHOW max_locks_per_transaction") == "64"


def test_a_reload_a_stopped_run_left_waiting_is_done_by_the_next_run(site, tmp_path):
    """A run that wrote a setting that needs only a reload, then stopped before its handlers
    reloaded the server (a failed task, a lost host): the next run finds the drop-in as the
    inventory wants it, so nothing notifies the handlers. Before, it reported no change and
    the old value stayed in force until some later reload; now a file of the role written
    after the server last read its configuration (pg_conf_load_time) is read: a reload, no
    restart."""
    dropin, left, started = left_by_a_stopped_run(site, "vacuum_cost_limit = 300")
    try:
        # What the stopped run left: its drop-in, not read. (The server dates its last
        # reading to the microsecond, a file to the second: a second apart, as any run's
        # write and interruption are from the reload before.)
        time.sleep(1.1)
        dropin.write_text(left)
        assert site.superuser_value("SHOW vacuum_cost_limit") == "200"
        resumed = site.play_with(
            tmp_path, "server", {"postgresql_settings": {"vacuum_cost_limit": 300}}
        )
        assert resumed.returncode == 0, printed(resumed)
        assert dropin.read_text() == left, "the run wrote the drop-in: it had to find it as it was"
        wait_for(
            lambda: site.superuser_value("SHOW vacuum_cost_limit") == "300",
            10, "the server to read the drop-in",
        )  # fmt: skip
        assert site.superuser_value("SELECT pg_postmaster_start_time()") == started
        assert recap(resumed)["changed"] > 0, printed(resumed)
    finally:
        restored = site.play(playbook="playbooks/server.yml")
    assert restored.returncode == 0, printed(restored)
    assert site.superuser_value("SHOW vacuum_cost_limit") == "200"
    again = site.play(playbook="playbooks/server.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, printed(again)


def test_a_check_of_a_changed_setting_shows_the_difference_and_changes_nothing(site):
    """A check of a setting that needs a restart: the new line in the drop-in's diff, and
    nothing written or restarted (before: the check stopped on the results of the drop-in's
    template, which have no dest in check mode, in a task it skipped)."""
    dropin = drop_in_of(site)
    written = dropin.read_text()
    started = site.superuser_value("SELECT pg_postmaster_start_time()")
    changes = {"postgresql_max_connections": 123, "postgresql_log_statement": "mod"}
    checked = site.play("--check", "--diff", "-e", json.dumps(changes))
    assert checked.returncode == 0, said(checked)[-3000:]
    assert recap(checked)["changed"] > 0
    assert "+max_connections = 123" in checked.stdout, said(checked)[-3000:]
    # The check says the server would restart, and for which setting: max_connections takes
    # effect only on a restart, log_statement on a reload (before: a check said nothing
    # of a restart, as the server it cannot reload never said one waited).
    # (The names come sorted: log_statement would come first.)
    assert "would restart its server for max_connections" in said(checked), said(checked)[-3000:]
    assert dropin.read_text() == written
    assert site.superuser_value("SELECT pg_postmaster_start_time()") == started
    assert site.superuser_value("SHOW max_connections") != "123"


def test_memory_settings_follow_the_hosts_memory_and_max_connections(site):
    # The host's memory as host_snapshot's own test holds the module to read it, then the
    # role's documented rule.
    expected = memory_settings_mb(host_memory_mb())
    rows = site.superuser_rows(
        "SELECT name, pg_size_bytes(current_setting(name)) / 1048576 FROM unnest(%s) name",
        (list(expected),),
    )
    assert dict(rows) == expected


# What PostgreSQL refuses: names and values it reads (postgres -C), and a restart-only
# setting it could not start with (its check mode allocates what a start would; this
# machine, like Debian's default, reserves no huge pages).
REFUSED_SETTINGS = {
    "an unknown name and a bad value": (
        {"postgresql_settings": {"no_such_setting": 1, "statement_timeout": "lots"}},
        'unrecognized configuration parameter "no_such_setting"',
    ),
    "a restart-only setting the server could not start with": (
        {"postgresql_settings": {"huge_pages": "on"}},
        "could not map anonymous shared memory",
    ),
}


@pytest.mark.parametrize("case", REFUSED_SETTINGS)
def test_a_setting_postgresql_refuses_leaves_the_configuration_in_force(site, tmp_path, case):
    variables, words = REFUSED_SETTINGS[case]
    if case.startswith("a restart-only") and huge_pages_reserved():
        pytest.skip("this machine reserves huge pages, so PostgreSQL could start with them")
    drop_in = drop_in_of(site)
    before = drop_in.read_bytes()
    started = site.superuser_value("SELECT pg_postmaster_start_time()")
    result = site.play_with(tmp_path, "server", variables)
    text = said(result)
    assert result.returncode != 0, text[-3000:]
    assert words in text, text[-3000:]
    assert "the previous configuration stays in force" in text
    assert drop_in.read_bytes() == before
    assert not list(drop_in.parent.glob("50-backend-db.conf.*"))  # no backup left behind
    assert site.superuser_value("SELECT pg_postmaster_start_time()") == started
    again = site.play(playbook="playbooks/server.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-3000:]


def huge_pages_reserved() -> bool:
    meminfo = Path("/proc/meminfo").read_text()
    return any(
        line.split()[1] != "0"
        for line in meminfo.splitlines()
        if line.startswith("HugePages_Total")
    )


def test_pg_stat_statements_is_loaded_and_the_monitoring_role_reads_it_over_verified_tls(site):
    monitor = site.monitor_connection()
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
            # It reads statistics, not the application's rows, and changes nothing.
            for sql in ("SELECT count(*) FROM users", "CREATE TABLE intruder (id int)"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cursor.execute(sql)
                monitor.rollback()
    finally:
        monitor.close()
