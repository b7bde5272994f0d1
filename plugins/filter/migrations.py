"""Filters over a release's migration scripts (plugins/module_utils/alembic_head_check.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: migration_head
short_description: The one head revision of a directory of Alembic scripts, read from their source
description:
  - Takes an Alembic script location (the directory holding C(env.py) and C(versions/)) on
    the controller and returns the id of its one head revision, read from the scripts'
    source without importing them, as C(backend_db.postgresql.alembic_migrate) reads it on
    the host.
  - Empty whenever that reading is not sure (several heads, branch labels or dependencies,
    a value that is not a literal, a script that cannot be parsed or whose imports cannot
    be found); the caller then asks the module, which decides with Alembic.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The script location, a directory on the controller.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: The head the release's scripts reach is known
  ansible.builtin.debug:
    msg: "{{ (playbook_dir ~ '/migrations') | backend_db.postgresql.migration_head }}"
"""

RETURN = r"""
_value:
  description: The head revision's id; empty when it cannot be read for sure.
  type: str
"""


def migration_head(script_location: str) -> str:
    # Imported here, not above: Ansible imports every filter file of the collection to
    # find any one filter by name, in each task's process, and this one brings psycopg2.
    from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_head_check import (
        single_head,
    )

    return single_head(str(script_location)) or ""


class FilterModule:
    def filters(self):
        return {"migration_head": migration_head}
