"""A module's payload carries its Python compiled, beside the source.

Ansible sends a module to the host as a zip of the module and every module_utils file it
imports, which the host's Python imports from the zip. Python writes no bytecode for what
it imports from a zip, so it compiles every file of the payload again on each module
call: 60-80 ms of each call here (docs/performance.md, section 22). With
add_compiled_code(), each Python file Ansible writes into a payload gets its compiled
code beside it, as a .pyc that Python's zip importer takes instead of the source:

- a hash-based .pyc, checked: the host's Python takes it only if the digest of the source
  in the payload is the one it was compiled from;
- compiled by the controller's Python, for a task whose interpreter is named for the
  controller's release (/usr/bin/python3.11 as interpreter discovery finds it, or the
  controller's own Python): another release would reject it (its header says which
  release made it) and compile the source, so a task whose interpreter is another release,
  or is not named for one (/usr/bin/python3), gets the payload as before. Ansible builds a
  module's payload once a run, for the first task that calls it: a run whose hosts have
  Pythons of two releases sends the others that payload, each release reading what it can.

A file shared by many modules (ansible.module_utils.basic) is compiled once a run: its
code is kept in a folder of the run's temporary directory (plugin_utils/kept.py).
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import re
import sys
import types
import zipfile
from collections.abc import Callable

from ansible_collections.backend_db.postgresql.plugins.plugin_utils.kept import (
    digest,
    kept,
    make_folder,
)

FOLDER = "backend_db_module_code"
# A hash-based .pyc whose source Python checks before it uses it (PEP 552).
CHECKED_HASH = (0b11).to_bytes(4, "little")


def pyc(name: str, source: bytes) -> bytes:
    """What py_compile writes for `source` as a checked hash-based .pyc, named in
    tracebacks by its path in the payload. Line endings are made what the zip importer
    makes them before it compiles a source."""
    text = source.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    code = compile(text, name, "exec", dont_inherit=True, optimize=0)
    header = importlib.util.MAGIC_NUMBER + CHECKED_HASH + importlib.util.source_hash(source)
    return header + marshal.dumps(code)


def controller_release(interpreter) -> bool:
    """Whether a task's interpreter is, by its name, a Python of the controller's release."""
    if not isinstance(interpreter, str) or not interpreter:
        return False
    if os.path.realpath(interpreter) == os.path.realpath(sys.executable):
        return True
    named = re.fullmatch(r"python(\d+)\.(\d+)", os.path.basename(interpreter))
    return bool(named) and tuple(map(int, named.groups())) == sys.version_info[:2]


def zipfile_writing_compiled_code(
    folder: str, wanted: Callable[[], bool] = lambda: True
) -> types.ModuleType:
    """The zipfile module, with a ZipFile that writes beside each Python source its .pyc,
    kept in `folder` for the run, while `wanted()` says so."""
    make_folder(folder)

    class ZipFile(zipfile.ZipFile):
        def writestr(self, zinfo_or_arcname, data, *args, **kwargs):
            super().writestr(zinfo_or_arcname, data, *args, **kwargs)
            info = zinfo_or_arcname
            if not isinstance(info, zipfile.ZipInfo):
                info = zipfile.ZipInfo(info)
                info.compress_type = self.compression
            if not info.filename.endswith(".py") or not wanted():
                return
            source = data.encode() if isinstance(data, str) else bytes(data)
            try:
                code = kept(
                    folder,
                    digest(importlib.util.MAGIC_NUMBER, info.filename, source),
                    lambda: pyc(info.filename, source),
                )
            except (SyntaxError, ValueError):
                # The host's Python says what is wrong with it, as without this.
                return
            compiled = zipfile.ZipInfo(info.filename + "c", date_time=info.date_time)
            compiled.compress_type = info.compress_type
            super().writestr(compiled, code)

    module = types.ModuleType(zipfile.__name__, zipfile.__doc__)
    module.__dict__.update({**vars(zipfile), "ZipFile": ZipFile})
    return module


def add_compiled_code(folder: str) -> bool:
    """Make every payload Ansible builds in this process, and in the processes it forks,
    for a task whose interpreter is of the controller's release, carry the compiled code
    of its Python files; False where this ansible-core builds its payloads otherwise."""
    try:
        from ansible.executor import module_common
    except ImportError:  # pragma: no cover - another ansible-core
        return False
    build = getattr(module_common, "_find_module_utils", None)
    shebang = getattr(module_common, "_get_shebang", None)
    if not isinstance(getattr(module_common, "zipfile", None), types.ModuleType) or not (
        build and shebang
    ):
        return False
    if getattr(build, "keeps_code_in", None):
        return True
    building = {"wanted": False}

    def find_module_utils(**options):
        if not str(options.get("module_path", "")).endswith(".py"):
            return build(**options)
        try:
            # What the payload's shebang will name: discovery first, where it is needed.
            interpreter = shebang(
                "/usr/bin/python",
                options["task_vars"],
                options["templar"],
                remote_is_local=options.get("remote_is_local", False),
            )[1]
        except module_common.InterpreterDiscoveryRequiredError:
            raise
        except Exception:
            # The build itself says what is wrong, as it does without this.
            interpreter = None
        building["wanted"] = controller_release(interpreter)
        try:
            return build(**options)
        finally:
            building["wanted"] = False

    module_common.zipfile = zipfile_writing_compiled_code(folder, lambda: building["wanted"])
    find_module_utils.keeps_code_in = folder
    module_common._find_module_utils = find_module_utils
    return True
