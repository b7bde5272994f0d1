"""The preload callback loads, in ansible-playbook's own process before the first task,
what each task's process would load again: every filter, test and lookup file of the
collection, the module_utils its filters import when called, Ansible's own filters and
tests, and the template lexer. A task's process is forked from that process and starts
with them (docs/performance.md, section 19)."""

from __future__ import annotations

import ast
import configparser
import json
import subprocess
import sys

import yaml

from devtools.paths import ROOT

PRELOADED = """
import json, sys
from ansible.plugins.loader import filter_loader, init_plugin_loader
init_plugin_loader([sys.argv[1]])
before = set(sys.modules)
from ansible._internal._templating._jinja_bits import AnsibleEnvironment
lexers = len(AnsibleEnvironment._lexer_cache)
from ansible_collections.backend_db.postgresql.plugins.callback import preload
missing = preload.preload()
print(json.dumps({
    "missing": missing,
    "imported": sorted(set(sys.modules) - before),
    "lexers": [lexers, len(AnsibleEnvironment._lexer_cache)],
    "ansible_filters": len(filter_loader._cached_non_collection_wrappers),
}))
"""
PLUGIN = "ansible_collections.backend_db.postgresql.plugins"


def preloaded() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PRELOADED, str(ROOT / "collections")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def imported_on_call(path) -> set[str]:
    """The module_utils a plugin file imports inside its functions, or through deferred()."""
    names = set()
    marker = ".plugins.module_utils"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and marker in (inner.module or ""):
                    module = inner.module.split(marker)[1].lstrip(".")
                    names.update([module] if module else [alias.name for alias in inner.names])
        called = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "deferred"
        if called and node.args and isinstance(node.args[0], ast.Constant):
            names.add(node.args[0].value)
    return names


def test_every_plugin_file_and_what_its_filters_import_when_called_is_loaded_once():
    found = preloaded()
    assert found["missing"] == []
    imported = set(found["imported"])
    files = {
        f"{PLUGIN}.{kind}.{path.stem}": path
        for kind in ("filter", "test", "lookup")
        for path in (ROOT / "plugins" / kind).glob("*.py")
    }
    assert set(files) <= imported
    on_call = set().union(*(imported_on_call(path) for path in files.values()))
    assert on_call, "the filters import no module_utils when called: the scan found nothing"
    assert {f"{PLUGIN}.module_utils.{name}" for name in on_call} <= imported
    # Ansible's own filters and tests, and a lexer made before any template of a task.
    assert found["ansible_filters"] > 50
    assert found["lexers"][0] == 0 and found["lexers"][1] >= 1


def test_the_projects_runs_and_every_scenario_enable_it():
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    assert "backend_db.postgresql.preload" in config["defaults"]["callbacks_enabled"].split(",")
    molecule = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
    enabled = molecule["provisioner"]["config_options"]["defaults"]["callbacks_enabled"]
    assert "backend_db.postgresql.preload" in enabled.split(",")
