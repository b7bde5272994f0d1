"""What a payload's file imports is found once a run (plugins/plugin_utils/imports.py,
installed by the preload callback): Ansible parsed every file again for each module's
payload (docs/performance.md, section 23)."""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.paths import ROOT

# Finds what each source given imports as Ansible's payload builder does, with what is
# found kept in a folder; with "--no-parsing", Python's compile() is made unusable for
# the builder first, so that only what is kept can be found.
FIND = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.executor import module_common
from ansible_collections.backend_db.postgresql.plugins.plugin_utils import imports
folder, parsing, sources = sys.argv[2], sys.argv[3] == "--parsing", json.loads(sys.argv[4])
if folder:
    imports.keep_imports_found(folder)
if not parsing:
    def unusable(*args, **kwargs):
        raise RuntimeError("parsed again")
    module_common.compile = unusable
found = []
for name, source, package in sources:
    try:
        tree = module_common._compile_module_ast(name, source.encode())
        finder = module_common.ModuleDepFinder(name, tree, package)
        found.append([sorted(map(list, finder.submodules)),
                      sorted(map(list, finder.optional_imports))])
    except Exception as error:
        found.append(["error", type(error).__name__ + ": " + str(error)[:80]])
print(json.dumps(found))
"""
SOURCES = [
    [
        "ansible.module_utils.example",
        "from ansible.module_utils.basic import main\n",
        False,
    ],
    [
        "ansible_collections.backend_db.postgresql.plugins.module_utils.example",
        "try:\n    from ansible.module_utils.six import PY3\nexcept ImportError:\n    PY3 = True\n"
        "from ..module_utils import secrets\n",
        False,
    ],
    ["ansible.module_utils.package", "from . import basic\n", True],
]


def find(folder, sources, parsing=True) -> list:
    done = subprocess.run(
        [sys.executable, "-c", FIND, str(ROOT / "collections"), str(folder),
         "--parsing" if parsing else "--no-parsing", json.dumps(sources)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_what_a_file_imports_is_found_as_ansible_finds_it_then_read_without_parsing(tmp_path):
    ansible_finds = find("", SOURCES)
    assert ansible_finds[0][0] == [["ansible", "module_utils", "basic", "main"]]
    # The optional import (in a try) is told from the others, as Ansible tells it.
    assert ["ansible", "module_utils", "six", "PY3"] in ansible_finds[1][1]
    assert find(tmp_path, SOURCES) == ansible_finds
    assert len(list(tmp_path.iterdir())) == len(SOURCES)
    # A later process finds the same with the builder unable to parse: read from the folder.
    assert find(tmp_path, SOURCES, parsing=False) == ansible_finds
    # The test can fail: a file not found before is parsed, which that process cannot.
    other = [["ansible.module_utils.other", "import json\n", False]]
    unseen = find(tmp_path, other, parsing=False)
    assert unseen[0][0] == "error" and "parsed again" in unseen[0][1]


def test_a_file_that_does_not_parse_fails_the_build_as_it_did(tmp_path):
    broken = [["ansible.module_utils.broken", "def (:\n", False]]
    assert find(tmp_path, broken) == find("", broken)
    assert find(tmp_path, broken)[0][0] == "error"
    assert list(tmp_path.iterdir()) == []
