"""The plan of a migration: the scripts, the revisions, the database's place among them.

What a run decides before it changes anything: the migration scripts loaded and checked
(load_scripts), the target revision resolved (resolve_target), the revision the database
records read from its catalog (current_revisions), the steps from one to the other and
their direction (plan), and their SQL rendered offline (render_sql). Every failure is a
MigrationError in one sentence.
"""

from __future__ import annotations

import io
import os
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import describe
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import (
    MigrationError,
    Step,
)

try:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
except ImportError:  # alembic_migration reports it (IMPORT_ERROR)
    pass

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
        MigrationRequest,
    )

REVISION_PATTERN = re.compile(r"^[0-9A-Za-z_]+$")

# Where alembic_version is, looked up in the catalog (which every role may read), not
# through search_path: a role that may not read the table, or that searches other
# schemas, is told so instead of being told that the database is empty. Tables on the
# search path come first, in its order. (alembic_head_check.py's no-op check still
# resolves the name through search_path: it answers only "at head", which this lookup
# would find too.)
VERSION_TABLE_QUERY = (
    "SELECT n.nspname, has_schema_privilege(n.oid, 'USAGE')"
    " AND has_table_privilege(c.oid, 'SELECT'), array_position(current_schemas(false), n.nspname)"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = 'alembic_version' AND c.relkind IN ('r', 'p')"
    " ORDER BY 3 NULLS LAST, 1"
)


def alembic_config(script_location: str, output_buffer: io.StringIO | None = None) -> Config:
    config = Config(output_buffer=output_buffer)
    # ConfigParser interpolates %, so a literal % in the path must be doubled.
    config.set_main_option("script_location", script_location.replace("%", "%%"))
    return config


def load_scripts(script_location: str) -> ScriptDirectory:
    """The migration scripts, all loaded, or a MigrationError saying what is wrong with them."""
    if not os.path.isdir(script_location):
        raise MigrationError(
            f"script_location {script_location} is not a directory; point it at the "
            "directory that holds env.py and versions/"
        )
    env_py = os.path.join(script_location, "env.py")
    if not os.path.isfile(env_py):
        raise MigrationError(
            f"script_location {script_location} has no env.py, so it is not an Alembic "
            "environment; point it at the directory that holds env.py and versions/"
        )
    try:
        with open(env_py, encoding="utf-8") as source:
            compile(source.read(), env_py, "exec")
        scripts = ScriptDirectory.from_config(alembic_config(script_location))
        # Loading every revision is the check: what it yields is not needed.
        list(scripts.walk_revisions())
    except Exception as exc:
        raise MigrationError(
            f"cannot load the migration scripts in {script_location}: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())}; fix the file it names"
        ) from None
    return scripts


def resolve_target(scripts: ScriptDirectory, revision: str, script_location: str) -> str | None:
    """The full id of the target revision, or None for base (an empty schema)."""
    heads = scripts.get_heads()
    if revision == "head":
        if len(heads) > 1:
            raise MigrationError(
                f"the migration scripts in {script_location} have {len(heads)} heads "
                f"({', '.join(sorted(heads))}); join them with `alembic merge heads` and "
                "review the merge revision"
            )
        return heads[0] if heads else None
    if revision == "base":
        return None
    found = find_revision(scripts, revision)
    if found is None:
        candidates = sorted(
            script.revision
            for script in scripts.walk_revisions()
            if script.revision.startswith(revision)
        )
        if len(candidates) > 1:
            raise MigrationError(
                f"revision {revision!r} is ambiguous: {', '.join(candidates[:-1])} and "
                f"{candidates[-1]} {'both' if len(candidates) == 2 else 'all'} start with it; "
                "give more of the id"
            )
        raise MigrationError(
            f"revision {revision!r} is not one of the migration scripts in {script_location}; "
            "use head, base or a revision id listed by `alembic history`"
        )
    return found.revision


def find_revision(scripts: ScriptDirectory, revision: str):
    """The script of `revision`, or None when the scripts do not know it (or it is ambiguous)."""
    try:
        return scripts.get_revision(revision)
    except Exception:  # Alembic raises several kinds of error for unknown or ambiguous ids
        return None


def version_table(connection: sa.Connection) -> tuple[str, int | None] | None:
    """The schema of the alembic_version this role's runs use, and its place in the
    search path; None when no schema has one (nothing was ever migrated)."""
    rows = connection.exec_driver_sql(VERSION_TABLE_QUERY).all()
    if not rows:
        return None
    schema, readable, position = rows[0]
    ambiguous = len(rows) > 1 and position is None
    if ambiguous or not readable:
        user = connection.exec_driver_sql("SELECT current_user").scalar()
        where = describe(connection.engine.url)
        if ambiguous:
            raise MigrationError(
                f"{where} has alembic_version tables in schemas "
                f"{', '.join(row[0] for row in rows)} and none is in the search_path of "
                f"{user}; set the role's search_path to the schema these migrations keep "
                "their tables in"
            )
        raise MigrationError(
            f"{user} cannot read {schema}.alembic_version, which records the revision of "
            f"{where}: grant it USAGE on schema {schema} and SELECT on the table, or log in "
            "as the database's owner"
        )
    return schema, position


def current_revisions(connection: sa.Connection) -> tuple[str, ...]:
    """The revisions alembic_version records; none before the first migration.

    Two plain reads. Alembic's own check reflects the table through SQLAlchemy's
    inspector first, which costs more than the rest of a run with nothing to do.
    """
    with connection.begin():
        found = version_table(connection)
        if found is None:
            return ()
        quoted = connection.dialect.identifier_preparer.quote_identifier(found[0])
        return tuple(
            connection.exec_driver_sql(
                f"SELECT version_num FROM {quoted}.alembic_version"
            ).scalars()
        )


def check_where_revisions_would_go(connection: sa.Connection, request: MigrationRequest) -> None:
    """Refuse to apply revisions as a superuser, or off the version table's schema."""
    with connection.begin():
        user, superuser = connection.exec_driver_sql(
            "SELECT rolname, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).one()
        found = version_table(connection)
    if superuser and not request.allow_superuser:
        raise MigrationError(
            f"{user} is a superuser: what it migrates would belong to it, so the database's "
            "owner could not migrate it further and the runtime role could not use it; log in "
            "as the database's owner (or set allow_superuser: true for a scratch database)"
        )
    if found is not None and found[1] != 1:
        schema, position = found
        raise MigrationError(
            f"{schema}.alembic_version is not {'first ' if position else ''}in the search_path "
            f"of {user}, so Alembic would make the pending revisions' objects in another "
            f"schema; set the role's search_path to start with {schema}"
        )


def single_current(
    scripts: ScriptDirectory, heads: tuple[str, ...], script_location: str, url: URL
) -> str | None:
    """The database's one current revision, checked to be known to these scripts."""
    if len(heads) > 1:
        raise MigrationError(
            f"{describe(url)} records {len(heads)} current revisions ({', '.join(heads)}); "
            "this project keeps one line of history, so merge them by hand with alembic"
        )
    if not heads:
        return None
    if find_revision(scripts, heads[0]) is None:
        raise MigrationError(
            f"{describe(url)} is at revision {heads[0]}, which the migration scripts in "
            f"{script_location} do not know: the database was migrated by newer code; "
            "deploy the code that contains that revision"
        )
    return heads[0]


def lineage(scripts: ScriptDirectory, revision: str | None) -> list[str]:
    """`revision` and all its ancestors, newest first."""
    if revision is None:
        return []
    return [script.revision for script in scripts.iterate_revisions(revision, "base")]


def plan(
    scripts: ScriptDirectory, current: str | None, target: str | None
) -> tuple[str, list[Step]]:
    """The direction and the revisions to run, in the order they run."""
    if current == target:
        return "none", []
    up = lineage(scripts, target)
    if current is None or current in up:
        ids = up[: up.index(current)] if current else up
        return "upgrade", [_step(scripts, rev) for rev in reversed(ids)]
    down = lineage(scripts, current)
    if target is None or target in down:
        ids = down[: down.index(target)] if target else down
        return "downgrade", [_step(scripts, rev) for rev in ids]
    raise MigrationError(
        f"revision {target} and the database's revision {current} are on different branches; "
        "migrate to their common ancestor first"
    )


def _step(scripts: ScriptDirectory, revision: str) -> Step:
    script = scripts.get_revision(revision)
    return Step(revision=revision, message=(script.doc or "").strip())


@contextmanager
def running_env_py(script_location: str) -> Iterator[None]:
    """Blame on env.py what env.py itself does wrong, rather than a revision or us."""
    env_py = os.path.join(script_location, "env.py")
    try:
        yield
    except SystemExit as exc:
        said = f"with status {exc.code}" if isinstance(exc.code, int) else "saying why"
        raise MigrationError(
            f"env.py in {script_location} exited {said} instead of running the migrations; "
            "fix env.py"
        ) from None
    except MigrationError:
        raise
    except Exception as exc:
        # The innermost frame in the scripts' directory says whose code failed.
        ours = [
            frame.f_code.co_filename
            for frame, _line in traceback.walk_tb(exc.__traceback__)
            if os.path.abspath(frame.f_code.co_filename).startswith(script_location + os.sep)
        ]
        if ours and os.path.abspath(ours[-1]) == env_py:
            raise MigrationError(
                f"env.py in {script_location} failed: {type(exc).__name__}: "
                f"{' '.join(str(exc).split())}; fix env.py"
            ) from None
        raise


def render_sql(
    script_location: str, direction: str, current: str | None, target: str | None
) -> str:
    """The SQL of the planned steps, rendered offline (nothing is sent to the database)."""
    buffer = io.StringIO()
    config = alembic_config(script_location, output_buffer=buffer)
    with running_env_py(script_location):
        if direction == "upgrade":
            command.upgrade(config, f"{current}:{target}" if current else str(target), sql=True)
        elif direction == "downgrade":
            command.downgrade(config, f"{current}:{target or 'base'}", sql=True)
    return buffer.getvalue()
