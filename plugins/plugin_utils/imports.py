"""What each Python file of a module's payload imports, found once a run.

To build a module's payload, Ansible parses the module and every module_utils file it
imports, and each of those in turn, to find what else to put in the payload. A run
builds a payload for each module it calls, in the process of the task that calls it
first, and each build parses every file again: ansible.module_utils.basic and the fifty
files it imports once for each module. In a first converge that parsing took 4.2 s of the
controller's CPU (docs/performance.md, section 23).

keep_imports_found() makes what the parse of a file found (the names it imports, and
which of them it may go without) kept in a folder of the run's temporary directory, by a
digest of the file's name and text and Ansible's version; a later build reads it from
there instead of parsing the file again.
"""

from __future__ import annotations

import json

from ansible.release import __version__ as ansible_version

from ansible_collections.backend_db.postgresql.plugins.plugin_utils.kept import (
    digest,
    kept,
    make_folder,
)

FOLDER = "backend_db_module_imports"


class Unparsed:
    """A file's text, parsed only if what it imports is not kept."""

    __slots__ = ("name", "source")

    def __init__(self, name: str, source) -> None:
        self.name, self.source = name, source


def keep_imports_found(folder: str) -> bool:
    """Make every payload this process, and the processes it forks, build find what a
    file imports in `folder` before parsing it; False where this ansible-core builds its
    payloads otherwise."""
    try:
        from ansible.executor import module_common
    except ImportError:  # pragma: no cover - another ansible-core
        return False
    parse = getattr(module_common, "_compile_module_ast", None)
    finder = getattr(module_common, "ModuleDepFinder", None)
    metadata = getattr(module_common, "_get_module_metadata", None)
    if not (parse and finder and metadata):
        return False
    if getattr(parse, "keeps_imports_in", None):
        return True
    make_folder(folder)

    def tree(found):
        return parse(found.name, found.source) if isinstance(found, Unparsed) else found

    def compile_module_ast(module_name, source_code):
        return Unparsed(module_name, source_code)

    def get_module_metadata(module):
        return metadata(tree(module))

    class ModuleDepFinder:
        """What Ansible's finder finds in a file: its imports, and the optional ones."""

        def __init__(self, module_fqn, found, is_pkg_init=False):
            def find() -> bytes:
                # Ansible's finder names its own class by the module's global name.
                module_common.ModuleDepFinder = finder
                try:
                    found_now = finder(module_fqn, tree(found), is_pkg_init)
                finally:
                    module_common.ModuleDepFinder = ModuleDepFinder
                return json.dumps(
                    [sorted(found_now.submodules), sorted(found_now.optional_imports)]
                ).encode()

            if not isinstance(found, Unparsed):
                data = find()
            else:
                source = found.source
                text = source.encode() if isinstance(source, str) else bytes(source)
                name = digest(ansible_version, module_fqn, bool(is_pkg_init), text)
                data = kept(folder, name, find)
            submodules, optional = json.loads(data)
            self.submodules = {tuple(name) for name in submodules}
            self.optional_imports = {tuple(name) for name in optional}

    compile_module_ast.keeps_imports_in = folder
    module_common._compile_module_ast = compile_module_ast
    module_common._get_module_metadata = get_module_metadata
    module_common.ModuleDepFinder = ModuleDepFinder
    return True
