"""A module's payload carries the compiled code of its Python files (plugins/plugin_utils/
bytecode.py, installed by the preload callback): the host's Python imported every file of
a payload from its source, compiling each on each module call (docs/performance.md,
section 22)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import zipfile

from ansible_collections.backend_db.postgresql.plugins.plugin_utils import bytecode
from devtools.paths import ROOT

SOURCES = {
    "backend/__init__.py": b"",
    "backend/answer.py": b"VALUE = 6 * 7\n\n\ndef where():\n    return __file__\n",
}
# Imports the module named from the zip given with the zip importer's compiling of a source
# made unusable, so that only code compiled beforehand is imported; or, with "--compiling",
# as usual.
IMPORT = r"""
import json, sys, zipimport
archive, name, compiling = sys.argv[1], sys.argv[2], sys.argv[3] == "--compiling"
sys.path.insert(0, archive)
if not compiling:
    def unusable(*args, **kwargs):
        raise RuntimeError("compiled again")
    zipimport._compile_source = unusable
try:
    module = __import__(name, fromlist=["_"])
    print(json.dumps(["ok", getattr(module, "VALUE", None), module.__file__]))
except Exception as error:
    print(json.dumps(["error", f"{type(error).__name__}: {error}"[:200], None]))
"""


def imported(archive, name="backend.answer", compiling=False) -> list:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT, str(archive), name,
         "--compiling" if compiling else "--no-compiling"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def payload(path, sources: dict, zip_module=zipfile) -> None:
    with zip_module.ZipFile(path, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, source in sources.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source)


def test_a_payload_imports_from_its_compiled_code_without_compiling(tmp_path):
    writing = bytecode.zipfile_writing_compiled_code(str(tmp_path / "kept"))
    payload(tmp_path / "payload.zip", SOURCES, writing)
    names = zipfile.ZipFile(tmp_path / "payload.zip").namelist()
    assert sorted(names) == sorted([*SOURCES, *(f"{name}c" for name in SOURCES)])
    status, value, where = imported(tmp_path / "payload.zip")
    assert (status, value) == ("ok", 42), where
    # Its file is the compiled code's place in the zip: the folder is the source's.
    assert where == str(tmp_path / "payload.zip" / "backend" / "answer.pyc")
    # The test can fail: without compiled code, the source is compiled, which this cannot.
    payload(tmp_path / "plain.zip", SOURCES)
    status, message, _ = imported(tmp_path / "plain.zip")
    assert status == "error" and "compiled again" in message
    # Each file was compiled once for the run, and kept for the next payload.
    assert len(list((tmp_path / "kept").iterdir())) == len(SOURCES)


def test_compiled_code_of_another_python_or_of_another_source_is_not_used(tmp_path):
    writing = bytecode.zipfile_writing_compiled_code(str(tmp_path / "kept"))
    payload(tmp_path / "compiled.zip", SOURCES, writing)
    compiled = zipfile.ZipFile(tmp_path / "compiled.zip")
    code = compiled.read("backend/answer.pyc")
    # Another release of Python made it: its header says so, and the source is read.
    other_release = bytes([code[0] ^ 0xFF]) + code[1:]
    changed = b"VALUE = 7 * 7\n"
    for name, sources, value in (
        ("release.zip", {**SOURCES, "backend/answer.pyc": other_release}, 42),
        # The source is not the one it was compiled from: its digest differs.
        ("changed.zip", {**SOURCES, "backend/answer.py": changed, "backend/answer.pyc": code}, 49),
    ):
        payload(tmp_path / name, sources)
        assert imported(tmp_path / name, compiling=True)[:2] == ["ok", value]
        assert imported(tmp_path / name)[0] == "error"


def test_a_source_python_cannot_compile_is_sent_without_compiled_code(tmp_path):
    writing = bytecode.zipfile_writing_compiled_code(str(tmp_path / "kept"))
    payload(tmp_path / "broken.zip", {"broken.py": b"def (:\n"}, writing)
    assert zipfile.ZipFile(tmp_path / "broken.zip").namelist() == ["broken.py"]
    status, message, _ = imported(tmp_path / "broken.zip", "broken", compiling=True)
    assert status == "error" and "SyntaxError" in message


PLAY = """
- name: One module call
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The module answers
      ansible.builtin.ping:
        data: compiled
"""


def played(tmp_path, interpreter) -> zipfile.ZipFile:
    """The payload of a module called by a play with the preload callback on this machine,
    with that interpreter."""
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    remote = tmp_path / "remote"
    environment = {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "ANSIBLE_CALLBACKS_ENABLED": "backend_db.postgresql.preload",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local"),
        "ANSIBLE_REMOTE_TEMP": str(remote),
        # The payload stays on the "host" (this machine) to be read below.
        "ANSIBLE_KEEP_REMOTE_FILES": "1",
        "ANSIBLE_PIPELINING": "0",
    }
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "play.yml",
         "-e", f"ansible_connection=local ansible_python_interpreter={interpreter}"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "ok=1" in done.stdout, done.stdout[-2000:] + done.stderr
    # Nothing is left on the controller once the run has ended.
    assert list((tmp_path / "local").iterdir()) == []
    (wrapper,) = remote.glob("ansible-tmp-*/AnsiballZ_ping.py")
    data = re.search(r"^zip_data='([^']+)'", wrapper.read_text(), re.MULTILINE).group(1)
    (tmp_path / "payload.zip").write_bytes(base64.b64decode(data))
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(data)))


def test_a_module_run_with_the_preload_callback_carries_and_runs_its_compiled_code(tmp_path):
    names = set(played(tmp_path, sys.executable).namelist())
    sources = {name for name in names if name.endswith(".py")}
    assert "ansible/module_utils/basic.py" in sources
    assert {f"{name}c" for name in sources} <= names
    # What the module imports is imported from that code, without compiling.
    status, _, where = imported(tmp_path / "payload.zip", "ansible.module_utils.basic")
    assert status == "ok", _
    assert where == str(tmp_path / "payload.zip" / "ansible" / "module_utils" / "basic.pyc")


def test_a_host_python_named_for_another_release_is_sent_the_sources_alone(tmp_path):
    # The controller's Python, under the name interpreter discovery would give another
    # release's: its payload has no code that Python would reject.
    other = tmp_path / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1] + 1}"
    other.parent.mkdir()
    other.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    other.chmod(0o755)
    names = played(tmp_path, other).namelist()
    assert "ansible/module_utils/basic.py" in names
    assert not [name for name in names if name.endswith(".pyc")]


def test_a_python_is_the_controllers_release_by_its_name_or_by_being_the_controllers():
    major, minor = sys.version_info[:2]
    assert bytecode.controller_release(sys.executable)
    assert bytecode.controller_release(f"/usr/bin/python{major}.{minor}")
    assert not bytecode.controller_release(f"/usr/bin/python{major}.{minor + 1}")
    # Not named for a release: it could be any.
    assert not bytecode.controller_release("/usr/bin/python3")
    assert not bytecode.controller_release("/opt/backend-db/venv/bin/python")
    assert not bytecode.controller_release(None)
