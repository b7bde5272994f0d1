"""Autogenerate a new Alembic revision against a throwaway database at head.

    make revision MESSAGE="add users.locale"

Starts a private PostgreSQL (the one the tests use), migrates it to the current
head, and lets Alembic compare that schema with models/. Nobody needs a live
database to write a migration, and the result never depends on one's drift.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.pgserver import TemporaryPostgres  # noqa: E402


def main(argv: list[str]) -> int:
    message = " ".join(argv).strip()
    if not message:
        print(
            'say what the revision does: make revision MESSAGE="add users.locale"', file=sys.stderr
        )
        return 2
    with TemporaryPostgres() as server:
        os.environ["DATABASE_URL"] = server.url().render_as_string(hide_password=False)
        config = Config(str(ROOT / "alembic.ini"))
        command.upgrade(config, "head")
        scripts = command.revision(config, message=message, autogenerate=True)
    for script in scripts if isinstance(scripts, list) else [scripts]:
        print(f"review and commit {os.path.relpath(script.path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
