"""Filter changed_settings: which settings differ between two PostgreSQL configuration files."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
---
name: changed_settings
short_description: The settings two PostgreSQL configuration files give differently
description:
  - Takes the text of a configuration file as it is in force and the text the role would
    write, and returns the sorted names of the settings whose value differs, including
    those only one of the two sets (a setting taken out goes back to its default).
  - Reads C(name = value) lines, the value as written (quoted or not, a trailing comment
    left out); blank lines and comments are skipped. Names are compared as PostgreSQL
    does, without regard to case.
  - A check run (C(--check)) asks the server which of them take effect only on a restart,
    so that it can say which servers a real run would restart, and in which order.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The file in force (empty when there is none).
    type: str
    required: true
  wanted:
    description: The file the role would write.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The settings a run would change are known
  ansible.builtin.debug:
    msg: "{{ in_force | backend_db.postgresql.changed_settings(wanted) }}"
  vars:
    wanted: "{{ lookup('ansible.builtin.template', 'backend-db.conf.j2') }}"
"""

RETURN = r"""
_value:
  description: The names of the settings that differ, sorted.
  type: list
  elements: str
"""

# name = value, the value quoted (doubled quotes inside) or a bare word, then a comment.
LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*('(?:[^']|'')*'|[^\s#]*)")


def settings(text: str) -> dict[str, str]:
    """The settings a configuration file gives, the last one of a name winning."""
    found = {}
    for line in (text or "").splitlines():
        match = LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            found[match[1].lower()] = match[2]
    return found


def changed_settings(in_force: str, wanted: str) -> list[str]:
    old, new = settings(in_force), settings(wanted)
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


class FilterModule:
    def filters(self):
        return {"changed_settings": changed_settings}
