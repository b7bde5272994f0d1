"""What playbooks/restore.yml restores from, and the one sentence that stops it before any
change (the filter restore_plan, module_utils/restore.py), from the backup role's reads
of the repository, the clock and the server's log, as the role's tasks evaluate it."""

from __future__ import annotations

import json

import pytest

# Two backups as `pgbackrest info --output=json` lists them, oldest first.
FIRST_STOP, SECOND_STOP = 1764590400, 1764676800  # 2025-12-01 12:00 and 2025-12-02 12:00 UTC
INFO = {
    "rc": 0,
    "stdout": json.dumps([{"name": "main", "backup": [
        {"label": "20251201-115900F", "timestamp": {"start": FIRST_STOP - 60, "stop": FIRST_STOP}},
        {"label": "20251202-115900F_20251202-115900D",
         "timestamp": {"start": SECOND_STOP - 60, "stop": SECOND_STOP}},
    ]}]),
}  # fmt: skip
NOW = SECOND_STOP + 3600


def clock(epoch: int, text: str) -> dict:
    """The role's clock read: now, then the target's seconds and its text."""
    return {"rc": 0, "stdout_lines": [str(NOW), f"{epoch} {text}"]}


def plan(template, kind, target, info=INFO, clock=None, logged=None):
    variables = {"kind": kind, "target": target, "info": info, "clock": clock, "logged": logged}
    return template(
        "{{ kind | backend_db.postgresql.restore_plan(target, info, clock, logged,"
        " host='db1', stanza='main', log='/var/log/postgresql/postgresql-17-main') }}",
        variables,
    )


def test_the_latest_state_starts_from_the_newest_backup_with_no_target(template):
    found = plan(template, "latest", "", clock={"skipped": True}, logged={"skipped": True})
    assert found["problem"] == "" and found["args"] == []
    assert found["set"] == "20251202-115900F_20251202-115900D"


def test_a_time_starts_from_the_newest_backup_that_ended_before_it(template):
    between = clock(FIRST_STOP + 60, "2025-12-01 12:01:00.000000+00")
    found = plan(template, "time", "2025-12-01 12:01:00+00", clock=between)
    assert found["problem"] == ""
    assert found["args"] == [
        "--set=20251201-115900F", "--target-action=promote", "--type=time",
        "--target=2025-12-01 12:01:00.000000+00",
    ]  # fmt: skip


def test_a_restore_point_is_the_target_by_its_name(template):
    name = "before-ef967eba196f-20251202T130000Z"
    found = plan(template, "name", name, clock=clock(SECOND_STOP + 3600, "x"), logged={"rc": 0})
    assert found["problem"] == "" and found["args"][-1] == f"--target={name}"


@pytest.mark.parametrize(
    "kind, target, info, read, logged, said",
    [
        ("latest", "", {"rc": 39, "stderr": "ERROR: [039]: cannot read\nmore", "stdout": ""},
         {"skipped": True}, None,
         "pgBackRest cannot read the repository of stanza main on db1 (ERROR: [039]: cannot"
         " read): converge site.yml with backups enabled first"),
        ("latest", "", {"rc": 0, "stdout": '[{"name": "main", "backup": []}]'}, None, None,
         "the repository of stanza main has no backup yet: take one with playbooks/backup.yml"),
        ("time", "yesterday-ish", INFO, {"rc": 1, "stdout_lines": [str(NOW)]}, None,
         "restore_target yesterday-ish is not a time the host can read; write one such as"
         " '2026-12-01 14:30:00+00'"),
        ("time", "2099-01-01 00:00:00+00", INFO, clock(NOW + 60, "2099-01-01 00:00:00+00"), None,
         "restore_target 2099-01-01 00:00:00+00 (2099-01-01 00:00:00+00) is later than now on"
         " db1: nothing after now can be restored; leave restore_type out for the latest state"),
        ("time", "2025-11-30 00:00:00+00", INFO, clock(FIRST_STOP - 86400, "2025-11-30 12:00"),
         None,
         "restore_target 2025-11-30 00:00:00+00 (2025-11-30 12:00) is before the end of the"
         " first backup in the repository (2025-12-01 12:00:00+00), so nothing can be restored"
         " to it; choose a later target"),
        ("name", "before-x-20251202T130000Z", INFO, clock(SECOND_STOP + 60, "2025-12-02 13:00"),
         {"rc": 1},
         "restore_target before-x-20251202T130000Z is not a restore point that db1's log"
         " (/var/log/postgresql/postgresql-17-main.log and its rotated copies) records: check"
         " the name the migration reported; a point older than the log's copies can be"
         " restored by its time instead (restore_type=time restore_target='2025-12-02 13:00')"),
    ],
    ids=["unreadable", "no-backup", "unreadable-time", "future", "before-first", "unlogged"],
)  # fmt: skip
def test_a_restore_that_cannot_be_done_is_one_sentence_saying_what_to_do(
    template, kind, target, info, read, logged, said
):
    assert plan(template, kind, target, info, read, logged)["problem"] == said
