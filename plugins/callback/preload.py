"""Load once, before any task, what every task's process would otherwise load again."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preload
type: aggregate
short_description: Loads the plugins every task uses once, before the first task
description:
  - Ansible runs each task of each host in a process of its own, forked from
    C(ansible-playbook) when the task starts. Each such process loads for itself the
    Jinja2 plugins its templates call (all of Ansible's filters and tests on the first
    one, and this collection's filter, test and lookup files), the template lexer and
    the action and connection plugins of its task, and forgets them when the task ends.
  - This callback loads them once in C(ansible-playbook)'s own process when a playbook
    starts, so that every task's process starts with them. It changes nothing a task
    does; a plugin it cannot load is loaded, and fails, where a task uses it.
  - Each task's process also compiles again every template it renders, though the
    task before it compiled the same text (a role variable that fifty tasks read is
    compiled fifty times). This callback makes a template text's compiled code kept, for
    the rest of the run, in a folder of the run's temporary directory (which Ansible
    removes when the run ends), where the next task's process reads it instead of
    compiling; the key is the text and every setting its compilation reads, so the code
    is the one compiling would give.
  - The host's Python compiles every file of a module's payload (the module and the
    module_utils it imports) on each module call, as it keeps no bytecode for what it
    imports from a zip. This callback makes each payload carry, beside each Python file,
    its compiled code as a checked hash-based C(.pyc), which the host's Python takes when
    it is the controller's release and the source is the one compiled; another release
    compiles the source as before. Each file is compiled once a run, kept in the same
    temporary directory.
  - To build a module's payload, Ansible parses every Python file the module imports to
    find what else to send, for each module again. This callback makes what a file
    imports, found by that parse, kept in the same temporary directory by a digest of
    the file's text, so each file is parsed once a run.
  - Enable it in C(callbacks_enabled) (the project's C(ansible.cfg) does). The measured
    gain is in the project's docs/performance.md.
version_added: 0.1.0
author: backend-db developers (!UNKNOWN)
requirements:
  - enabled in the callbacks_enabled setting
"""

import importlib  # noqa: E402
import os  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402

from ansible import constants as C  # noqa: E402
from ansible.errors import AnsibleError  # noqa: E402
from ansible.plugins.callback import CallbackBase  # noqa: E402
from ansible.plugins.loader import (  # noqa: E402
    action_loader,
    connection_loader,
    filter_loader,
    lookup_loader,
    test_loader,
)
from ansible.template import Templar, trust_as_template  # noqa: E402

from ansible_collections.backend_db.postgresql.plugins.plugin_utils import (  # noqa: E402
    bytecode,
    imports,
)
from ansible_collections.backend_db.postgresql.plugins.plugin_utils.deferred import (  # noqa: E402
    MODULE_UTILS,
)

try:
    # Reads Ansible's private template classes: an ansible-core without them keeps no code
    # (tests/unit/test_compiled.py holds the one this project pins).
    from ansible_collections.backend_db.postgresql.plugins.plugin_utils.compiled import (
        FOLDER,
        keep_compiled_code,
    )
except ImportError:  # pragma: no cover - another ansible-core
    keep_compiled_code = None

COLLECTION = "backend_db.postgresql"
PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Loading one filter (test) of a collection loads every filter (test) file of it.
JINJA = (
    (filter_loader, "ansible.builtin.bool"),
    (test_loader, "ansible.builtin.defined"),
    (filter_loader, f"{COLLECTION}.variable_errors"),
    (test_loader, f"{COLLECTION}.pgbackrest_lock_busy"),
)
# Ansible's lookups that the roles and inventories call (password: a common inventory's).
BUILTIN_LOOKUPS = ("env", "file", "password", "pipe", "template", "vars")
# The actions of the tasks the roles run most; "normal" runs every other module.
ACTIONS = (
    "ansible.builtin.normal",
    "ansible.builtin.command",
    "ansible.builtin.set_fact",
    "ansible.builtin.assert",
    "ansible.builtin.fail",
    "ansible.builtin.debug",
    "ansible.builtin.copy",
    "ansible.builtin.template",
    "ansible.builtin.validate_argument_spec",
)
CONNECTIONS = ("ansible.builtin.ssh", "ansible.builtin.local")
# What this collection's filters import only when one is called (so that a task that
# calls none loads quickly without this callback): its module_utils of those names.
FILTER_MODULE_UTILS = (
    "alembic_head_check",
    "patroni",
    "restore",
    "secrets",
    "validation",
    "validation_postgresql",
    "validation_roles",
)
MODULES = (
    *(f"{MODULE_UTILS}.{name}" for name in FILTER_MODULE_UTILS),
    # Ansible's own plugins addressed by their full names (ansible.builtin.bool).
    "ansible_collections.ansible.builtin.plugins.filter",
    "ansible_collections.ansible.builtin.plugins.test",
    "ansible_collections.ansible.builtin.plugins.lookup",
    # How a module's arguments and result are encoded, on every module call.
    "ansible.module_utils._internal._json._profiles._module_legacy_c2m",
    "ansible.module_utils._internal._json._profiles._module_legacy_m2c",
    # What the certificate filters import when called.
    "cryptography.x509",
    "cryptography.hazmat.primitives.serialization",
)


def lookups() -> list[str]:
    """This collection's lookups, by the names of their files."""
    folder = os.path.join(PLUGINS, "lookup")
    return sorted(
        f"{COLLECTION}.{name[:-3]}"
        for name in os.listdir(folder)
        if name.endswith(".py") and not name.startswith("_")
    )


def loads() -> list[tuple[Callable[[str], object], str]]:
    """Each load, as a function and the name it is given, in order."""
    jinja = [(loader.get, name) for loader, name in JINJA]
    lookup = [
        (lookup_loader.get, name)
        for name in lookups() + [f"ansible.builtin.{name}" for name in BUILTIN_LOOKUPS]
    ]
    actions = [(partial(action_loader.get, class_only=True), name) for name in ACTIONS]
    connections = [(partial(connection_loader.get, class_only=True), name) for name in CONNECTIONS]
    modules = [(importlib.import_module, name) for name in MODULES]
    # The lexer is made on a template's first rendering and kept for the process.
    lexer = [(lambda text: Templar().template(trust_as_template(text)), "{{ true | bool }}")]
    return jinja + lookup + actions + connections + modules + lexer


def preload() -> list[str]:
    """Load everything above in this process; the names that could not be loaded (a task
    that uses one loads it, and fails, as it would without this)."""
    missing = []
    for load, name in loads():
        try:
            if load(name) is None:
                missing.append(name)
        except (ImportError, AnsibleError, KeyError):
            missing.append(name)
    return missing


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "backend_db.postgresql.preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        missing = preload()
        if missing:
            self._display.vvv(f"preload: not loaded before the first task: {', '.join(missing)}")
        # In the run's temporary directory, which Ansible removes when the run ends.
        if keep_compiled_code:
            keep_compiled_code(os.path.join(C.DEFAULT_LOCAL_TMP, FOLDER))
        if not bytecode.add_compiled_code(os.path.join(C.DEFAULT_LOCAL_TMP, bytecode.FOLDER)):
            self._display.vvv("preload: this ansible-core's module payloads carry no bytecode")
        if not imports.keep_imports_found(os.path.join(C.DEFAULT_LOCAL_TMP, imports.FOLDER)):
            self._display.vvv("preload: this ansible-core parses each payload's files anew")
