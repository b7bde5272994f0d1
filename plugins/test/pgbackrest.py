"""Tests over the results of pgBackRest's commands, as a task registers them."""

from __future__ import annotations

from collections.abc import Mapping

DOCUMENTATION = r"""
---
name: pgbackrest_lock_busy
short_description: Whether a pgBackRest command failed only on a lock another process held
description:
  - Takes a command task's registered result. True when pgBackRest exited 50 (C(unable to
    acquire lock)), or said C(LockAcquireError), which is how a repository host's command
    reports a lock held on a database server it checks over SSH (exit 56). Such a command
    may be tried again once the other process is done; anything else is a real failure.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The registered result of a task that ran a pgBackRest command.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The stanza exists in the repository
  ansible.builtin.command:
    argv: [pgbackrest, --stanza=main, stanza-create]
  register: created
  until: created is not backend_db.postgresql.pgbackrest_lock_busy
  retries: 10
  delay: 3
"""

RETURN = r"""
_value:
  description: Whether the command failed only for a lock another process held.
  type: bool
"""

# pgBackRest's exit code for a lock it could not acquire (LockAcquireError).
LOCK_ACQUIRE_EXIT = 50


def pgbackrest_lock_busy(result: object) -> bool:
    if not isinstance(result, Mapping):
        return False
    said = f"{result.get('stdout') or ''}{result.get('stderr') or ''}"
    return result.get("rc") == LOCK_ACQUIRE_EXIT or "LockAcquireError" in said


class TestModule:
    def tests(self):
        return {"pgbackrest_lock_busy": pgbackrest_lock_busy}
