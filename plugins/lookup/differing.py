"""Lookup differing: the files of a list whose mode, owner or content on the host differs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: differing
short_description: The files a task would write that differ from what the host's snapshot found
description:
  - The one guard of every task that writes a file the roles manage. Each term is a file
    the task would write; the lookup returns those whose entry in O(found) (what
    C(backend_db.postgresql.found_files) made of a host's snapshot) is not the one the file
    would have once written, in the order given. A file the snapshot did not find differs.
  - A file with a C(template) is rendered as the template module would write it (with the
    C(backend_db.postgresql.rendered) lookup, and its C(template_vars) when it has them); one
    with C(content) is that text; the digest compared is the content's SHA-1, as the
    snapshot reads it. The template sees the file as C(item), as the task that loops over
    the files renders it. A file with neither (a directory, or a file whose content another
    task writes) is compared by its mode (and owner) alone.
  - Used as a task's C(loop), each file is considered once, in one templating of the loop,
    instead of once per item in a C(when); a re-run that finds every file in place gets an
    empty list and the task is skipped as one.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _terms:
    description:
      - Each file, a mapping with C(path) and C(mode), and C(template) (with
        C(template_vars)) or C(content), or neither. A list of them is taken as its files.
      - C(owner), as C(user:group), when O(found) was made without an owner (then each
        entry names one); with an owner, C(found_files) left out files of any other.
    required: true
  found:
    description: What the snapshot found, by path (C(backend_db.postgresql.found_files)).
    type: dict
    required: true
  rendered:
    description:
      - Return each differing file as the module C(backend_db.postgresql.managed_files)
        takes it - its C(path), C(mode), C(state) and C(backup) when given, its content
        (rendered), and its C(owner) and C(group) - so that one module call writes them all.
    type: bool
    default: false
  owner:
    description:
      - With O(rendered), the owner, as C(user:group), of a file that does not name its own.
    type: str
    default: root:root
"""

EXAMPLES = r"""
- name: The role's drop-in and pg_ident.conf say what the variables say
  ansible.builtin.template:
    src: "{{ item.template }}"
    dest: "{{ item.path }}"
    mode: "{{ item.mode }}"
  loop: "{{ query('backend_db.postgresql.differing', config_files, found=found) }}"
"""

RETURN = r"""
_raw:
  description: The files given that differ from what was found, as they were given.
  type: list
  elements: dict
"""

import hashlib  # noqa: E402
from collections.abc import Mapping  # noqa: E402

from ansible.errors import AnsibleError  # noqa: E402
from ansible.plugins.loader import lookup_loader  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402


def expected_entry(file: Mapping, content: str | None) -> list[str]:
    """The fields of the entry found_files makes for the file once written: its mode, its
    owner when the file names one, and its content's SHA-1 when the content is known."""
    fields = [str(file["mode"])]
    if file.get("owner"):
        fields.append(str(file["owner"]))
    if content is not None:
        fields.append(hashlib.sha1(content.encode("utf-8")).hexdigest())  # noqa: S324 - as the snapshot
    return fields


def differs(file: Mapping, content: str | None, found: Mapping) -> bool:
    """Whether the entry found for the file's path is not the one it would have."""
    expected = expected_entry(file, content)
    entry = found.get(file["path"])
    return entry is None or str(entry).split(" ")[: len(expected)] != expected


def files_of(terms: list) -> list:
    """The terms as one list of files: a list among them stands for its files."""
    files = []
    for term in terms:
        files.extend(term if isinstance(term, (list, tuple)) else [term])
    for file in files:
        if not isinstance(file, Mapping) or "path" not in file or "mode" not in file:
            # Named by its keys only: a file's content may be a secret (a private key).
            given = sorted(map(str, file)) if isinstance(file, Mapping) else type(file).__name__
            raise AnsibleError(
                f"differing takes files as mappings with a path and a mode, not one of {given}"
            )
    return files


def as_written(file: Mapping, content: str | None, owner: str) -> dict:
    """The file as the managed_files module takes it."""
    user, _colon, group = str(file.get("owner") or owner).partition(":")
    entry = {"path": file["path"], "mode": str(file["mode"]), "owner": user, "group": group or user}
    entry |= {key: file[key] for key in ("state", "backup") if key in file}
    if content is not None:
        entry["content"] = content
    return entry


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        found = self.get_option("found") or {}
        as_module_takes, owner = self.get_option("rendered"), self.get_option("owner")
        rendered = lookup_loader.get(
            "backend_db.postgresql.rendered", loader=self._loader, templar=self._templar
        )
        changed = []
        for file in files_of(terms):
            if file.get("template"):
                # As the loop's task renders it: the file is its item.
                extra = {"item": file} | dict(file.get("template_vars") or {})
                content = rendered.run([file["template"]], variables, template_vars=extra)[0]
            elif "content" in file:
                content = str(file["content"])
            else:
                content = None
            if differs(file, content, found):
                changed.append(as_written(file, content, owner) if as_module_takes else file)
        return changed
