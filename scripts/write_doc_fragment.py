"""Write the doc fragments of plugins/doc_fragments/ from the option tables they document.

    .venv/bin/python scripts/write_doc_fragment.py

The options are stated once, each in a table of plugins/module_utils/: how a module
connects (connection.py, the fragment backend_db.postgresql.connection) and what
alembic_migrate itself takes (migrate_options.py, the fragment
backend_db.postgresql.alembic_migrate). A fragment holds its documentation as text
because ansible-test reads it without running it; tests/integration/test_module.py fails,
naming this script, when a fragment and its table differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.backend_db.postgresql.plugins.module_utils import (  # noqa: E402
    connection,
    migrate_options,
)

# Each fragment: its name, what it documents, and the table it is written from.
FRAGMENTS = {
    "connection": ("how a module connects to PostgreSQL", connection),
    "alembic_migrate": ("the alembic_migrate module's own options", migrate_options),
}
TEMPLATE = '''"""Doc fragment backend_db.postgresql.{name}: {what}.

Written by scripts/write_doc_fragment.py from plugins/module_utils/{source}.py, where
the options are stated once; edit them there.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
{text}"""
'''


class Dumper(yaml.SafeDumper):
    """Lists indented under their key, as the project's YAML is written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def path(name: str) -> Path:
    return ROOT / "plugins/doc_fragments" / f"{name}.py"


def text(name: str = "connection") -> str:
    what, table = FRAGMENTS[name]
    written = yaml.dump(table.documentation(), Dumper=Dumper, sort_keys=False, width=68)
    source = table.__name__.rsplit(".", 1)[1]
    return TEMPLATE.format(name=name, what=what, source=source, text=written)


if __name__ == "__main__":
    for name in FRAGMENTS:
        path(name).write_text(text(name))
        print(f"wrote {path(name).relative_to(ROOT)}")
