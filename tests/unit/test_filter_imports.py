"""Ansible finds any one of the collection's filters by importing every filter file of the
collection (it reads on after a match, so that a later file may override), in each
task's process. So a filter file imports nothing at its top beyond Ansible and the
standard library: what its filters run is imported when one is called. Before, the
scan imported the collection's validators and secrets code, 18 ms in each task that used
any of its filters (a third of a second in a single server's re-run); a first version of
the migration_head filter added psycopg2 to that."""

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
imported = set(sys.modules) - before
print(json.dumps({
    "libraries": sorted({
        name.split(".")[0] for name in imported
        if not name.startswith("ansible_collections.")
        and name.split(".")[0] not in sys.stdlib_module_names
    }),
    "module_utils": sorted(name for name in imported if ".plugins.module_utils." in name),
}))
"""


def test_a_filter_file_imports_what_its_filters_run_only_when_one_is_called():
    imported = subprocess.run(
        [sys.executable, "-c", IMPORTS_EVERY_FILTER_FILE, str(ROOT / "collections")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(imported.stdout) == {"libraries": [], "module_utils": []}


def test_a_filter_that_imports_on_use_takes_keywords_as_its_function_does(template):
    # pem_bundle(first, more=()): called as a template may call it, by keyword.
    one = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----"
    two = one.replace("AAA", "BBB")
    bundled = template(
        "{{ one | backend_db.postgresql.pem_bundle(more=[two]) }}", {"one": one, "two": two}
    )
    assert bundled == one + "\n" + two
