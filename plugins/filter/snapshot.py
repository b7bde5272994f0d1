"""Filters over what the module host_snapshot found on a host."""

from __future__ import annotations

from collections.abc import Mapping

DOCUMENTATION = r"""
---
name: found_files
short_description: What a task compares with before it writes a file, from a host's snapshot
description:
  - Takes the C(files) that C(backend_db.postgresql.host_snapshot) returned and gives, by
    path, one string for each file or directory that exists, so that a task writes only
    what differs from what it would write and a re-run calls no module for the rest.
  - Its twin C(present_paths) gives only the paths that exist, as a list.
  - With I(owner), only the paths whose owner and group are both I(owner), each as
    C(mode checksum); without it, every path, each as C(mode owner:group checksum). The
    checksum of a directory is empty.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The C(files) of a C(backend_db.postgresql.host_snapshot) result.
    type: dict
    required: true
  owner:
    description: The user and group the paths must belong to; each entry then leaves them out.
    type: str
"""

EXAMPLES = r"""
- name: The drop-in says what the variables say
  ansible.builtin.template:
    src: backend-db.conf.j2
    dest: /etc/postgresql/17/main/conf.d/50-backend-db.conf
    owner: postgres
    group: postgres
    mode: "0640"
  when: >-
    (state.files | backend_db.postgresql.found_files('postgres'))[dest] | default('')
    != '0640 ' ~ lookup('ansible.builtin.template', 'backend-db.conf.j2') | hash('sha1')
"""

RETURN = r"""
_value:
  description: By path, C(mode checksum) (with I(owner)) or C(mode owner:group checksum).
  type: dict
"""


def found_files(files: Mapping | None, owner: str | None = None) -> dict[str, str]:
    found = {}
    for path, file in (files or {}).items():
        if not file.get("exists"):
            continue
        if owner is None:
            found[path] = f"{file['mode']} {file['owner']}:{file['group']} {file['checksum']}"
        elif file.get("owner") == owner and file.get("group") == owner:
            found[path] = f"{file['mode']} {file['checksum']}"
    return found


def present_paths(files: Mapping | None) -> list[str]:
    """The paths of a snapshot's files (or directories) that exist, in its order."""
    return [path for path, file in (files or {}).items() if file.get("exists")]


class FilterModule:
    def filters(self):
        return {"found_files": found_files, "present_paths": present_paths}
