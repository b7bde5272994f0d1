#!/usr/bin/python
"""Ansible module managed_files: several files and directories written in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: managed_files
short_description: Write several files, each with its content, owner and mode, in one module call
description:
  - Makes each file or directory given what it says - its content, owner, group and mode -
    in one module call, where the template, copy and file modules make one call each
    (and the template module two). Every Ansible module call costs a Python start and the
    import of Ansible's module code on the host; a role that writes five files on its
    first run pays that once.
  - A file with I(content) is written only when its content differs, through a temporary
    file in its own directory that takes the file's place in one rename, so a reader
    never sees half a file. Its owner, group and mode are set before the rename.
  - A file without I(content) must exist; only its owner, group and mode are made right
    (through a link, those of the file it names).
    A directory (I(state=directory)) is made when missing, with its parents.
  - The roles give only what differs from what the host's snapshot found (the lookup
    C(backend_db.postgresql.differing) with C(rendered=true) gives each file as this
    module takes it), so a re-run that finds everything in place calls no module.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: A check reports what would change and writes nothing.
  diff_mode:
    support: full
    details:
      - A unified diff of each file whose content would change; leave it off
        (C(diff=false)) for a file that holds a secret.
  platform:
    platforms: posix
options:
  files:
    description: The files and directories, in the order they are made.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: The absolute path.
        type: path
        required: true
      content:
        description:
          - The whole content of the file, as text. Left out, the file must exist and
            keeps its content.
        type: str
      state:
        description: A regular file, or a directory.
        type: str
        choices: [file, directory]
        default: file
      owner:
        description: The user who owns it.
        type: str
        default: root
      group:
        description: Its group.
        type: str
        default: root
      mode:
        description: Its mode, in octal, such as C("0640").
        type: str
        required: true
      backup:
        description:
          - Keep the file that a new content replaces, beside it, and return its name as
            C(backup_file).
        type: bool
        default: false
"""

EXAMPLES = r"""
- name: The backup service and its timers say what the variables say
  backend_db.postgresql.managed_files:
    files: "{{ query('backend_db.postgresql.differing', unit_files, found=found, rendered=true) }}"
  when: unit_files_differ
"""

RETURN = r"""
files:
  description: Each file given, in order, with whether it changed.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path given.
      type: str
    changed:
      description: Whether its content, owner, group or mode changed (or would, in a check).
      type: bool
    backup_file:
      description: Where the file the new content replaced was kept, when I(backup) asked.
      type: str
      returned: when a file was replaced and kept
"""

import difflib  # noqa: E402
import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

FILE_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "no_log": True},
    "state": {"type": "str", "choices": ["file", "directory"], "default": "file"},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "mode": {"type": "str", "required": True},
    "backup": {"type": "bool", "default": False},
}


class Refused(Exception):
    """A file given that cannot be made as it says; the message says what to do."""


def ids_of(entry: dict) -> tuple[int, int]:
    """The user's and the group's ids, by their names."""
    ids = []
    for kind, name, find in (
        ("user", entry["owner"], lambda name: pwd.getpwnam(name).pw_uid),
        ("group", entry["group"], lambda name: grp.getgrnam(name).gr_gid),
    ):
        try:
            ids.append(find(name))
        except KeyError:
            raise Refused(
                f"{entry['path']}: the {kind} {name} does not exist on the host"
            ) from None
    return ids[0], ids[1]


def mode_of(entry: dict) -> int:
    try:
        mode = int(str(entry["mode"]), 8)
    except ValueError:
        raise Refused(
            f"{entry['path']}: the mode {entry['mode']} is not an octal number such as 0640"
        ) from None
    if not 0 <= mode <= 0o7777:
        raise Refused(f"{entry['path']}: the mode {entry['mode']} is out of range")
    return mode


def current_content(path: str) -> bytes | None:
    """The file's content, or None when there is no regular file there."""
    try:
        with open(path, "rb") as found:
            if not stat.S_ISREG(os.fstat(found.fileno()).st_mode):
                return None
            return found.read()
    except FileNotFoundError:
        return None


def write_atomically(path: str, content: bytes, mode: int, uid: int, gid: int) -> None:
    """The new content takes the file's place in one rename, with its owner and mode."""
    directory = os.path.dirname(path) or "/"
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(handle, "wb") as written:
            written.write(content)
            written.flush()
            os.fsync(written.fileno())
        os.chown(temporary, uid, gid)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def unified_diff(path: str, before: bytes | None, after: bytes) -> str:
    lines = difflib.unified_diff(
        (before or b"").decode("utf-8", "replace").splitlines(keepends=True),
        after.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"before: {path}" if before is not None else "before: (absent)",
        tofile=f"after: {path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def make(module: AnsibleModule, entry: dict) -> tuple[dict, str]:
    """Makes one file or directory as the entry says; its result and its diff."""
    path = entry["path"]
    if not os.path.isabs(path):
        raise Refused(f"{path}: give an absolute path")
    uid, gid = ids_of(entry)
    mode = mode_of(entry)
    result = {"path": path, "changed": False}
    diff = ""
    if entry["state"] == "directory":
        if not os.path.isdir(path):
            if os.path.lexists(path):
                raise Refused(f"{path} exists and is not a directory: move it away")
            result["changed"] = True
            if module.check_mode:
                return result, diff
            os.makedirs(path)
    elif entry["content"] is not None:
        content = entry["content"].encode("utf-8")
        before = current_content(path)
        if before is None and os.path.lexists(path):
            raise Refused(f"{path} exists and is not a regular file: move it away")
        if before != content:
            result["changed"] = True
            if module._diff:
                diff = unified_diff(path, before, content)
            if not module.check_mode:
                if not os.path.isdir(os.path.dirname(path)):
                    raise Refused(f"{path}: its directory does not exist")
                if entry["backup"] and before is not None:
                    result["backup_file"] = module.backup_local(path)
                write_atomically(path, content, mode, uid, gid)
            return result, diff
    elif not os.path.lexists(path):
        if module.check_mode:
            # An earlier task of the same check would have made it.
            result["changed"] = True
            return result, diff
        raise Refused(f"{path} does not exist, and no content was given for it")
    if module.check_mode and not os.path.lexists(path):
        return result, diff
    # Through a link to what it names, as the file module does by default.
    found = os.stat(path)
    if (found.st_uid, found.st_gid) != (uid, gid):
        result["changed"] = True
        if not module.check_mode:
            os.chown(path, uid, gid)
    if stat.S_IMODE(found.st_mode) != mode:
        result["changed"] = True
        if not module.check_mode:
            os.chmod(path, mode)
    return result, diff


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "required": True, "options": FILE_SPEC}
        },
        supports_check_mode=True,
    )
    results, diffs = [], []
    for entry in module.params["files"]:
        try:
            result, diff = make(module, entry)
        except Refused as refused:
            module.fail_json(msg=f"{refused}; nothing else was written after it.", files=results)
        except OSError as error:
            module.fail_json(
                msg=f"{entry['path']} could not be written ({error.strerror}); "
                "nothing else was written after it.",
                files=results,
            )
        results.append(result)
        if diff:
            diffs.append(diff)
    outcome = {"changed": any(result["changed"] for result in results), "files": results}
    if diffs:
        outcome["diff"] = {"prepared": "".join(diffs)}
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
