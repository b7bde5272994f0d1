"""Ansible finds a filter of the collection by importing the collection's filter files one
after another until one holds it, in each task's process. So each file must import no
library of its own at the top: one that did (psycopg2, in a first version of the
migration_head filter) made every task that uses any of the collection's filters slower."""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.paths import ROOT

IMPORTS_EVERY_FILTER_FILE = """
import importlib, json, pkgutil, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
import ansible.template
before = set(sys.modules)
import ansible_collections.backend_db.postgresql.plugins.filter as package
for found in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
    importlib.import_module(found.name)
libraries = {
    name.split(".")[0] for name in set(sys.modules) - before
    if not name.startswith("ansible_collections.")
    and name.split(".")[0] not in sys.stdlib_module_names
}
print(json.dumps(sorted(libraries)))
"""


def test_the_filter_files_import_no_library_when_ansible_looks_for_a_filter():
    imported = subprocess.run(
        [sys.executable, "-c", IMPORTS_EVERY_FILTER_FILE, str(ROOT / "collections")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(imported.stdout) == []
