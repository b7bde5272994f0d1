"""Write plugins/doc_fragments/connection.py from plugins/module_utils/connection.py.

    .venv/bin/python scripts/write_doc_fragment.py

The connection options are stated once, in module_utils/connection.py; the doc fragment
holds their documentation as text because ansible-test reads a fragment without running
it. tests/test_module.py fails, naming this script, when the two differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import (  # noqa: E402
    documentation,
)

FRAGMENT = ROOT / "plugins/doc_fragments/connection.py"
TEMPLATE = '''"""Doc fragment backend_db.postgresql.connection: how a module connects to PostgreSQL.

Written by scripts/write_doc_fragment.py from plugins/module_utils/connection.py, where
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


def text() -> str:
    written = yaml.dump(documentation(), Dumper=Dumper, sort_keys=False, width=88)
    return TEMPLATE.format(text=written)


if __name__ == "__main__":
    FRAGMENT.write_text(text())
    print(f"wrote {FRAGMENT.relative_to(ROOT)}")
