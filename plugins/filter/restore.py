"""Filter restore_plan: what playbooks/restore.yml restores from (module_utils/restore.py)."""

from __future__ import annotations

from ansible_collections.backend_db.postgresql.plugins.plugin_utils.deferred import deferred

DOCUMENTATION = r"""
---
name: restore_plan
short_description: The backup a restore starts from, pgBackRest's arguments, or why it cannot
description:
  - Takes the kind of restore (C(latest), C(time) or C(name)) and the registered results of
    the backup role's reads - C(pgbackrest info --output=json), the host's clock and the
    target's time (C(date)), whether the server's log records the restore point - and
    returns the repository's backups (C(backups)), the label of the backup to start from
    (C(set)), the arguments of C(pgbackrest restore) (C(args)), the target's time as
    PostgreSQL reads it (C(time_text)) and, when the restore cannot be done, the one
    sentence that says why and what to do (C(problem); empty when it can).
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The kind of restore, C(latest), C(time) or C(name).
    type: str
    required: true
  target:
    description: The time or restore point to restore to (empty for C(latest)).
    type: str
    required: true
  info:
    description: The result of C(pgbackrest info --output=json).
    type: dict
    required: true
  clock:
    description: The result of the clock read (C(date +%s), then the target's seconds and text).
    type: dict
  point_logged:
    description: The result of the look for the restore point in the server's log.
    type: dict
  host:
    description: The server, for the sentence.
    type: str
  stanza:
    description: The stanza, for the sentence.
    type: str
  log:
    description: The server's log path without C(.log), for the sentence.
    type: str
"""

EXAMPLES = r"""
- name: The repository has a backup from before the target, and the target has passed
  ansible.builtin.assert:
    that: not plan.problem
    fail_msg: "Nothing was changed: {{ plan.problem }}."
  vars:
    plan: "{{ 'time' | backend_db.postgresql.restore_plan('2026-12-01 14:30:00+00', info, clock) }}"
"""

RETURN = r"""
_value:
  description: C(backups), C(set), C(args), C(time_text) and C(problem).
  type: dict
"""


class FilterModule:
    def filters(self):
        # Imported when first called (plugins/plugin_utils/deferred.py).
        return {"restore_plan": deferred("restore", "restore_plan")}
