"""The project's migration scripts as Alembic reads them: their head and their order."""

from __future__ import annotations

import shutil
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


# One revision more than the repository's head, which the upgrade scenario and the `ha`
# drills apply to a database already at head: its template is filled in here.
NEWER_REVISION = "0a1b2c3d4e5f"
NEWER_TEMPLATE = MIGRATIONS.parent / "molecule" / "upgrade" / "files" / "add_users_locale.py.j2"


def write_newer_copy(destination: Path) -> str:
    """A copy of the models and migrations in `destination` with NEWER_REVISION on top of
    the head; returns that revision."""
    for name in ("models", "migrations"):
        shutil.copytree(
            MIGRATIONS.parent / name, destination / name, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )  # fmt: skip
    script = destination / "migrations" / "versions" / f"{NEWER_REVISION}_add_users_locale.py"
    script.write_text(
        NEWER_TEMPLATE.read_text()
        .replace("{{ upgrade_new_revision }}", NEWER_REVISION)
        .replace("{{ upgrade_old_head }}", head_revision())
    )
    return NEWER_REVISION
