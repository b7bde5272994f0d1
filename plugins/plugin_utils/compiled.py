"""Jinja's compiled code of a template, shared by every task's process of a run.

Ansible compiles a template each time it renders one, in the process of the task that
renders it, and that process ends with the task: a role variable that fifty tasks read is
compiled fifty times. keep_compiled_code() makes the compilation of a template's text
keep its code object in a folder of the run's own temporary directory, where the next
task's process finds it; Jinja's own bytecode cache does the same for templates it loads
from files. The code is the same as compiling again would give: the key is the text and
every setting of the environment that its parsing and code generation read.
"""

from __future__ import annotations

import marshal

from ansible._internal._templating._jinja_bits import (
    _TEMPLATE_OVERRIDE_FIELD_NAMES,
    AnsibleEnvironment,
    _TemplateCompileContext,
)

from ansible_collections.backend_db.postgresql.plugins.plugin_utils.kept import (
    digest,
    kept,
    make_folder,
)

FOLDER = "backend_db_jinja_code"


def key(environment: AnsibleEnvironment, source: str, name, filename, defer_init: bool) -> str:
    """The file name of a template's code: a digest of its text and of the environment's
    settings that change how it is parsed or compiled."""
    context = _TemplateCompileContext.current(optional=True)
    settings = (
        type(environment).__qualname__,
        environment.code_generator_class.__qualname__,
        tuple(getattr(environment, field) for field in _TEMPLATE_OVERRIDE_FIELD_NAMES),
        bool(context and context.escape_backslashes),
        environment.is_async,
        environment.optimized,
        environment.autoescape,
        tuple(sorted(environment.extensions)),
        name,
        filename,
        defer_init,
    )
    return digest(settings, str(source))


def keep_compiled_code(folder: str) -> None:
    """Make every AnsibleEnvironment of this process, and of the processes it forks, keep
    the code of each template text it compiles in `folder`, and use the code kept there."""
    compile_text = AnsibleEnvironment.compile
    if getattr(compile_text, "keeps_code_in", None):
        return
    make_folder(folder)

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        # A node tree (an expression), Python source asked for, or a template being
        # debugged: compiled as always.
        if raw or not isinstance(source, str) or self._debuggable_template_source:
            return compile_text(self, source, name, filename, raw, defer_init)
        made = []

        def make() -> bytes:
            made.append(compile_text(self, source, name, filename, raw, defer_init))
            return marshal.dumps(made[0])

        code = kept(folder, key(self, source, name, filename, defer_init), make)
        if made:
            return made[0]
        try:
            return marshal.loads(code)  # noqa: S302 - this run's own, in its private folder
        except (EOFError, ValueError, TypeError):
            return compile_text(self, source, name, filename, raw, defer_init)

    compile.keeps_code_in = folder
    AnsibleEnvironment.compile = compile
