"""The project's migration scripts as Alembic reads them: their head and their order."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def scripts(location: Path = MIGRATIONS) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(location))
    return ScriptDirectory.from_config(config)


def head_revision(location: Path = MIGRATIONS) -> str:
    """The head of the migration scripts, read from the scripts themselves."""
    return scripts(location).get_current_head()


def lineage(location: Path = MIGRATIONS) -> list[str]:
    """Every revision of the scripts in the order an upgrade from base applies them."""
    return [script.revision for script in reversed(list(scripts(location).walk_revisions()))]
