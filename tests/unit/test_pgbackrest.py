"""When a pgBackRest command of the backup role is tried again: only when it failed on a
lock another process held (the test plugin pgbackrest_lock_busy, as the role's `until`
evaluates it)."""

from __future__ import annotations

import pytest

LOCAL_LOCK = {
    "rc": 50,
    "stdout": "",
    "stderr": "ERROR: [050]: unable to acquire lock on file '/tmp/pgbackrest/main-archive.lock'",
}
# A repository host's command, which found a member's lock held over SSH.
REMOTE_LOCK = {
    "rc": 56,
    "stdout": "",
    "stderr": "WARN: unable to check pg1: [LockAcquireError] raised from remote-0 ssh protocol"
    "\nERROR: [056]: unable to find primary cluster - cannot proceed",
}


@pytest.mark.parametrize(
    ("result", "busy"),
    [
        (LOCAL_LOCK, True),
        (REMOTE_LOCK, True),
        ({"rc": 0, "stdout": "stanza-create command end: completed successfully"}, False),
        ({"rc": 56, "stderr": "ERROR: [056]: unable to find primary cluster"}, False),
        ({"rc": 82, "stdout": None, "stderr": None}, False),
        # A task the retries never ran leaves no rc.
        ({"skipped": True}, False),
    ],
    ids=["own-lock", "member-lock", "success", "no-primary", "other-failure", "skipped"],
)
def test_only_a_lock_held_elsewhere_makes_a_command_worth_trying_again(template, result, busy):
    expression = "{{ result is backend_db.postgresql.pgbackrest_lock_busy }}"
    assert template(expression, {"result": result}) is busy
