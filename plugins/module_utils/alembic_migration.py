"""Idempotent Alembic migrations of a PostgreSQL database, for the alembic_migrate module.

Plain Python with no Ansible in it: the module is a thin face over `migrate()`, and
the tests call `migrate()` directly against a real PostgreSQL.

How a run goes:
1. the migration scripts are loaded and the target revision resolved, so that bad
   input fails before anything connects;
2. one connection is opened (bounded connect timeout) and, unless in check mode,
   takes a session-level PostgreSQL advisory lock, waiting a bounded time for a
   concurrent run on another host to finish;
3. under the lock the current revision is read and the steps to the target planned,
   so of several concurrent runs exactly one applies each revision and the others
   find nothing left to do;
4. Alembic runs the steps on that same connection, one transaction per revision.

Every failure an operator can cause becomes a `MigrationError` whose text is one
sentence saying what is wrong and what to do, with no traceback and no password.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The head check and this module connect under one name, which the tests look for.
from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_head_check import (
    APPLICATION_NAME,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import (
    MigrationResult,
    Step,
)

try:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError
    from sqlalchemy.pool import NullPool
except ImportError as exc:  # reported by the module as a missing library
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

# One lock per database, shared by every host that runs this module against it.
ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"backend-db alembic_migrate").digest()[:8], "big", signed=True
)
REVISION_PATTERN = re.compile(r"^[0-9A-Za-z_]+$")
# Eighteen attempts at a revision's locks: three each of 0.1, 0.2 and 0.5 seconds, then
# nine of 1 second, a second apart; about 28 seconds in all before the run gives up. No
# application query waits more than 1 second behind a lock request.
DEFAULT_LOCK_ATTEMPTS = (0.1,) * 3 + (0.2,) * 3 + (0.5,) * 3 + (1.0,) * 9
# Seconds a revision may hold the table locks it took before it is stopped and rolled back.
DEFAULT_LOCK_HOLD_TIMEOUT = 5.0
# The tables a revision's statements lock, read from its SQL rendered offline. An
# identifier, plain or quoted, optionally with its schema.
_NAME = r'(?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?'
_LOCKED_TABLES = re.compile(
    rf"\bALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?(?P<altered>{_NAME})"
    rf"|\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<dropped>{_NAME})"
    rf"|\bTRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?(?P<truncated>{_NAME})"
    rf"|\bREFERENCES\s+(?P<referenced>{_NAME})"
    rf"|\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY)(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?:{_NAME}\s+)?ON\s+(?:ONLY\s+)?(?P<indexed>{_NAME})",
    re.IGNORECASE,
)
_DROPPED_CONSTRAINT = re.compile(
    rf"\bALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?(?P<table>{_NAME})\s+"
    rf"DROP\s+CONSTRAINT\s+(?:IF\s+EXISTS\s+)?(?P<constraint>{_NAME})",
    re.IGNORECASE,
)
# The indexes a revision builds CONCURRENTLY: a failed or killed earlier build of one
# left it behind INVALID, under the name the revision needs.
_CONCURRENT_INDEX = re.compile(
    rf"\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<index>{_NAME})",
    re.IGNORECASE,
)
# ALTER TABLE ... VALIDATE CONSTRAINT is built to run beside traffic: no table lock first.
_VALIDATE_ONLY = re.compile(
    rf"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?{_NAME}\s+VALIDATE\s+CONSTRAINT\s+{_NAME}\s*$",
    re.IGNORECASE,
)
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
MASK = "********"


class MigrationError(Exception):
    """A failure explained in one sentence for the operator. Never carries a secret."""


@dataclass
class MigrationRequest:
    """What to migrate, where to, and how long to wait for what."""

    script_location: str
    url: URL
    revision: str = "head"
    allow_downgrade: bool = False
    check_mode: bool = False
    render_sql: bool = False
    connect_timeout: int = 10
    # Seconds to wait for a concurrent run (another host) to release the migration lock.
    concurrent_run_timeout: float = 300
    # How long each attempt at a revision may wait for its table locks, in seconds, in
    # order: short first, escalating slowly, so that application queries queue behind a
    # migration's lock request for no longer than the attempt's timeout. A revision
    # that cannot get its locks within the schedule gives up.
    lock_attempts: tuple[float, ...] = DEFAULT_LOCK_ATTEMPTS
    # Seconds between two attempts. Between attempts nothing is queued on the table,
    # so application traffic flows freely.
    lock_retry_pause: float = 1.0
    # What a superuser migrates belongs to it: the owner could not migrate it further
    # and the runtime role could not use it. Only for a scratch database.
    allow_superuser: bool = False
    # A session that sits idle inside a revision's transaction this many seconds (its
    # runner stopped, paused or cut off) is ended by the server, which rolls the
    # revision back and frees its tables; 0 never ends it.
    idle_in_transaction_timeout: float = 10
    # PostgreSQL statement_timeout for each migration statement, in seconds; 0: none.
    statement_timeout: float = 0
    # How long a revision may hold the table locks it took, in seconds, all its
    # statements together: application queries wait behind them that long at most. A
    # revision may give its own bound (a module-level lock_hold_timeout); 0: none.
    lock_hold_timeout: float = DEFAULT_LOCK_HOLD_TIMEOUT
    # Before applying anything, write a named restore point into the WAL, so that the
    # database can be recovered (from a backup and the archived WAL) to just before it.
    restore_point: bool = False


# --- connection -------------------------------------------------------------------


def build_url(
    url: str | None = None,
    login_host: str | None = None,
    login_port: int = 5432,
    login_user: str | None = None,
    login_password: str | None = None,
    login_unix_socket: str | None = None,
    login_db: str | None = None,
    options: dict[str, str] | None = None,
) -> URL:
    """The SQLAlchemy URL from either `url` or the community.postgresql login_* options.

    `options` are libpq keywords (sslmode, sslrootcert, ...) for the URL's query, which
    SQLAlchemy passes to psycopg2 as they are.
    """
    if url:
        # Everything between :// and the first / after it: user, password, host, port.
        authority = url.partition("://")[2].partition("/")[0]
        if authority.count("@") > 1:
            # make_url would take the password's tail for the host, and connect there.
            raise MigrationError(
                "the url option has more than one @ before its host, so part of the password "
                "would be taken for the host name; write an @ in the password as %40 "
                "(a : as %3A, a / as %2F)"
            )
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            # The parser's own message quotes the URL, password and all.
            raise MigrationError(
                "the url option is not a valid SQLAlchemy URL; "
                "write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            ) from None
        if parsed.get_backend_name() != "postgresql":
            raise MigrationError(
                f"the url option names the {parsed.get_backend_name()!r} database, "
                "but alembic_migrate works with PostgreSQL only; use a postgresql:// URL"
            )
        if parsed.drivername not in ("postgresql", "postgresql+psycopg2"):
            raise MigrationError(
                f"the url option asks for the {parsed.get_driver_name()!r} driver, but only "
                "psycopg2 is installed; use postgresql:// or postgresql+psycopg2://"
            )
        if not parsed.database:
            raise MigrationError("the url option names no database; end it with /DATABASE")
        return parsed.set(drivername="postgresql+psycopg2").update_query_dict(dict(options or {}))
    if not login_db:
        raise MigrationError("no database to migrate: set login_db (or url)")
    query = dict(options or {})
    if login_unix_socket and not login_host:
        query["host"] = login_unix_socket
    return URL.create(
        "postgresql+psycopg2",
        username=login_user or None,
        password=login_password or None,
        host=login_host or None,
        port=login_port,
        database=login_db,
        query=query,
    )


def describe(url: URL) -> str:
    """Where a URL points, for messages: host, port, database and user, never the password."""
    host = url.host or url.query.get("host") or "the local socket"
    port = f":{url.port}" if url.port else ""
    user = f" as {url.username}" if url.username else ""
    return f"database {url.database} on {host}{port}{user}"


def scrub(text: str, url: URL | None) -> str:
    """One line of a driver or server message, with the password masked if it shows up."""
    text = " ".join(str(text).split())
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", text).strip()
    text = re.sub(r"^connection to server (at|on) .*? failed: ", "", text)
    text = text.replace("FATAL: ", "").replace("ERROR: ", "").strip()
    if url is not None and url.password:
        text = text.replace(str(url.password), MASK)
    return text


def reason(exc: BaseException, url: URL) -> str:
    """The operator-facing part of an exception: the server's words when there are some."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return scrub(
            str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__, url
        )
    text = str(exc) or type(exc).__name__
    return scrub(text.splitlines()[0], url)


# TCP keepalives, on both ends of the connection: a peer that vanished (a network
# partition, a host powered off) is noticed after about 5 + 2 * 3 seconds of silence.
KEEPALIVES = {"idle": 5, "interval": 2, "count": 3}


@contextmanager
def connect(url: URL, connect_timeout: int) -> Iterator[sa.Connection]:
    engine = sa.create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": connect_timeout,
            "application_name": APPLICATION_NAME,
            "keepalives": 1,
            **{f"keepalives_{name}": value for name, value in KEEPALIVES.items()},
        },
    )
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise connection_failure(url, exc) from None
        with connection:
            yield connection
    finally:
        engine.dispose()


def connection_failure(url: URL, error: BaseException) -> MigrationError:
    """What a failed connection says, the same from either of the module's paths."""
    return MigrationError(f"cannot connect to {describe(url)}: {reason(error, url)}")


@contextmanager
def migration_lock(connection: sa.Connection, timeout: float, url: URL) -> Iterator[None]:
    """Hold the session-level advisory lock; wait at most `timeout` seconds for it."""
    try:
        with connection.begin():
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    except DBAPIError as exc:
        if _is_lock_timeout(exc):
            raise MigrationError(
                f"another migration of {describe(url)} held the migration lock for more than "
                f"{timeout:g} seconds; let it finish, or raise concurrent_run_timeout"
            ) from None
        raise MigrationError(
            f"cannot take the migration lock on {describe(url)}: {reason(exc, url)}"
        ) from None
    try:
        yield
    finally:
        # Closing the connection releases the lock as well; this only makes it prompt.
        try:
            with connection.begin():
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
        except DBAPIError:
            pass


# --- scripts and revisions --------------------------------------------------------


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


# --- the run ----------------------------------------------------------------------


def migrate(request: MigrationRequest) -> MigrationResult:
    """Bring the database to `request.revision`, or in check mode say what that would do."""
    started = time.monotonic()
    location = os.path.abspath(request.script_location)
    scripts = load_scripts(location)
    if not REVISION_PATTERN.match(request.revision):
        raise MigrationError(
            f"revision {request.revision!r} is not a revision id; use head, base or an id "
            "listed by `alembic history`"
        )
    target = resolve_target(scripts, request.revision, location)

    with connect(request.url, request.connect_timeout) as connection:
        refuse_standby(connection, request.url)
        before, current, direction, steps = _planned(request, scripts, connection, location, target)
        # Already at the target: a revision once recorded stays, so there is nothing a
        # concurrent run could change and no need to queue for the migration lock.
        restore_point = None
        if not request.check_mode and steps:
            with migration_lock(connection, request.concurrent_run_timeout, request.url):
                # Under the lock, plan again: another host may have migrated meanwhile.
                before, current, direction, steps = _planned(
                    request, scripts, connection, location, target
                )
                sql = _sql(request, location, direction, current, target, steps)
                if steps and request.restore_point:
                    restore_point = create_restore_point(connection, steps[0], request.url)
                attempts = (
                    _run_steps(
                        request,
                        connection,
                        scripts,
                        location,
                        direction,
                        current,
                        target,
                        steps,
                        started,
                    )
                    if steps
                    else []
                )
                after = list(current_revisions(connection))
                applied = steps
        else:
            sql = _sql(request, location, direction, current, target, steps)
            after = [target] if (steps and target) else ([] if steps else list(before))
            applied = []
            attempts = []
    return MigrationResult(
        changed=bool(steps),
        direction=direction,
        before=list(before),
        after=after,
        target=target,
        pending=steps,
        applied=applied,
        sql=sql,
        elapsed=time.monotonic() - started,
        attempts=attempts,
        restore_point=restore_point,
    )


def refuse_standby(connection: sa.Connection, url: URL) -> None:
    """A standby (a Patroni replica, say) cannot take a migration, and a check there would
    compare with a copy that may lag: say so before anything else."""
    if connection.execute(sa.text("SELECT pg_is_in_recovery()")).scalar():
        connection.rollback()
        raise MigrationError(
            f"{describe(url)} is a read-only standby (pg_is_in_recovery() is true): point the "
            "migration at the primary, for a Patroni cluster its leader or read-write endpoint"
        )
    connection.rollback()


def restore_point_name(step: Step, when: datetime) -> str:
    """before-<first revision to apply>-<UTC time>: found by the revision, ordered by time.

    The time also tells a restore which backup to start from: one that ended before it.
    """
    return f"before-{step.revision}-{when.strftime('%Y%m%dT%H%M%SZ')}"


def create_restore_point(connection: sa.Connection, step: Step, url: URL) -> dict[str, str]:
    """Write a named restore point into the WAL before `step`, and say where it is."""
    name = restore_point_name(step, datetime.now(UTC))
    try:
        with connection.begin():
            lsn = connection.execute(
                sa.text("SELECT pg_create_restore_point(:name)::text"), {"name": name}
            ).scalar_one()
    except DBAPIError as exc:
        raise MigrationError(
            f"cannot write the restore point {name} on {describe(url)} before migrating, so "
            f"nothing was applied: {reason(exc, url)}; grant EXECUTE on "
            "pg_create_restore_point(text) to the migrating role, or set restore_point: false"
        ) from None
    return {"name": name, "lsn": lsn, "time": name.rsplit("-", 1)[1]}


def _planned(request, scripts, connection, location, target):
    """The database's revision(s), its one current revision, and the plan to the target."""
    before = current_revisions(connection)
    current = single_current(scripts, before, location, request.url)
    direction, steps = plan(scripts, current, target)
    if steps:
        check_where_revisions_would_go(connection, request)
    if direction == "downgrade" and not request.allow_downgrade:
        raise MigrationError(
            f"{describe(request.url)} is at revision {current}, newer than the requested "
            f"revision {target or 'base'}; set allow_downgrade: true to downgrade it"
        )
    return before, current, direction, steps


def _sql(request, location, direction, current, target, steps) -> str | None:
    """The planned steps' SQL when asked for (rendered offline, once per run)."""
    if not request.render_sql:
        return None
    return render_sql(location, direction, current, target) if steps else ""


def _run_steps(
    request, connection, scripts, location, direction, current, target, steps, started
) -> list[dict[str, Any]]:
    """Apply the steps one revision at a time, each within the lock schedule.

    Each attempt at a revision first takes, in one statement bounded by the attempt's
    timeout, every table lock its statements will need, so the revision never holds
    one table while it waits for another; then it runs in the same transaction.
    """
    config = alembic_config(location)
    config.attributes["connection"] = connection
    _configure_session(connection, request)
    schedule = tuple(request.lock_attempts)
    attempts: list[dict[str, Any]] = []
    previous = current
    for index, step in enumerate(steps):
        if direction == "upgrade":
            destination = step.revision
        else:
            destination = steps[index + 1].revision if index + 1 < len(steps) else target
        try:
            sql: str | None = render_sql(location, direction, previous, destination)
        except MigrationError:
            raise
        except Exception:
            # A revision that reads the database (op.get_bind()) cannot be rendered
            # offline; it runs without locks taken up front.
            sql = None
        tables, constraints = tables_to_lock(sql) if sql is not None else ([], [])
        bound = hold_bound(scripts, step.revision, request)
        for attempt, timeout in enumerate(schedule):
            began = time.monotonic()
            record = {"revision": step.revision, "lock_timeout": timeout,
                      "started": round(began - started, 4)}  # fmt: skip
            attempts.append(record)
            try:
                with running_env_py(location):
                    _apply(config, connection, request, direction, destination, sql, tables,
                           constraints, timeout, bound)  # fmt: skip
                record.update(seconds=round(time.monotonic() - began, 4), outcome="applied")
                break
            except MigrationError:
                _rollback_quietly(connection)
                raise
            except Exception as exc:
                _rollback_quietly(connection)
                timed_out = _is_lock_timeout(exc)
                record.update(
                    seconds=round(time.monotonic() - began, 4),
                    outcome="timeout" if timed_out else "failed",
                )
                if timed_out and attempt + 1 < len(schedule):
                    time.sleep(request.lock_retry_pause)
                    continue
                raise _step_failure(request, connection, direction, steps, exc, attempt) from None
        previous = destination
    return attempts


def tables_to_lock(sql: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The tables a revision's SQL alters, drops, truncates, indexes or references, and
    the (table, constraint) pairs it drops (a dropped foreign key locks its target too)."""
    tables: set[str] = set()
    dropped: set[tuple[str, str]] = set()
    for statement in sql.split(";"):
        statement = "\n".join(
            line for line in statement.splitlines() if not line.lstrip().startswith("--")
        )
        if _VALIDATE_ONLY.match(statement):
            continue
        for match in _LOCKED_TABLES.finditer(statement):
            tables.update(name for name in match.groupdict().values() if name)
        dropped.update(
            (match["table"], match["constraint"])
            for match in _DROPPED_CONSTRAINT.finditer(statement)
        )
    tables.discard("alembic_version")
    return sorted(tables), sorted(dropped)


def hold_bound(scripts: ScriptDirectory, revision: str, request: MigrationRequest) -> float:
    """Seconds this revision may hold its table locks: its own module-level
    lock_hold_timeout, else the request's (0: no bound)."""
    try:
        module = scripts.get_revision(revision).module
    except Exception:
        return request.lock_hold_timeout
    own = getattr(module, "lock_hold_timeout", None)
    return float(own) if isinstance(own, (int, float)) and own >= 0 else request.lock_hold_timeout


@contextmanager
def _holding_for_at_most(connection: sa.Connection, bound: float, statement_timeout: float):
    """While a revision holds its table locks: every statement it runs gets the time left
    of the bound as its statement_timeout, so the revision as a whole stops at the bound
    (PostgreSQL then rolls it back and frees its tables). A statement stopped so carries
    `held_too_long` (the bound) for the message."""
    deadline = time.monotonic() + bound

    def bounded(conn, cursor, statement, parameters, context, executemany):
        left = max(1, int((deadline - time.monotonic()) * 1000))
        if statement_timeout:
            left = min(left, _milliseconds(statement_timeout))
        return f"SET LOCAL statement_timeout = {left}; {statement}", parameters

    sa.event.listen(connection, "before_cursor_execute", bounded, retval=True)
    try:
        yield
    except DBAPIError as exc:
        code = getattr(exc.orig, "pgcode", None)
        if code == "57014" and time.monotonic() >= deadline - 0.05:
            exc.held_too_long = bound
        raise
    finally:
        sa.event.remove(connection, "before_cursor_execute", bounded)


def _apply(config, connection, request, direction, destination, sql, tables, constraints, timeout,
           bound=0.0):  # fmt: skip
    """One attempt at one revision: its table locks first, then the revision, committed
    (holding its locks for at most `bound` seconds)."""
    wait = _milliseconds(timeout)
    if sql is None or "CONCURRENTLY" in sql.upper() or sql.upper().count("COMMIT;") > 1:
        # Concurrent index builds and batched backfills run outside the revision's
        # transaction, in Alembic's own autocommit_block (which writes a COMMIT into the
        # rendered SQL), and a revision whose SQL is unknown may do the same: no locks
        # are taken for them up front, and each statement waits for one at most the
        # attempt's time.
        with connection.begin():
            connection.exec_driver_sql(f"SET lock_timeout = {wait}")
        _drop_invalid_leftovers(connection, _CONCURRENT_INDEX.findall(sql or ""))
        _run_alembic(config, direction, destination)
        if connection.in_transaction():
            connection.commit()
        return
    with connection.begin():
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {wait}")
        existing = _existing_tables(connection, tables, constraints)
        if existing:
            # One statement for every lock, bounded as a whole by the attempt's timeout.
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {wait}")
            try:
                connection.exec_driver_sql(
                    f"LOCK TABLE {', '.join(existing)} IN ACCESS EXCLUSIVE MODE"
                )
            except DBAPIError as exc:
                # Cancelled by the statement timeout, it was still only waiting for locks.
                exc.waiting_for_locks = True
                raise
            connection.exec_driver_sql(
                f"SET LOCAL statement_timeout = {_milliseconds(request.statement_timeout)}"
            )
        # Alembic sees a transaction already open and runs the revision inside it, bounded
        # in time once it holds locks on tables others use.
        holding = (
            _holding_for_at_most(connection, bound, request.statement_timeout)
            if existing and bound
            else nullcontext()
        )
        with holding:
            _run_alembic(config, direction, destination)


def _drop_invalid_leftovers(connection: sa.Connection, indexes: list[str]) -> None:
    """Drop what an interrupted concurrent build of these indexes left behind: an index
    PostgreSQL marked INVALID (never used by queries, still maintained on every write),
    which would make the build fail with "already exists"."""
    if not indexes:
        return
    with connection.begin():
        invalid = (
            connection.exec_driver_sql(
                "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE NOT i.indisvalid AND i.indexrelid IN"
                " (SELECT to_regclass(name) FROM unnest(%(names)s::text[]) AS name)",
                {"names": indexes},
            )
            .scalars()
            .all()
        )
    # DROP INDEX CONCURRENTLY, like the build, runs outside a transaction.
    raw = connection.connection.dbapi_connection
    raw.autocommit = True
    try:
        with raw.cursor() as cursor:
            for name in invalid:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    finally:
        raw.autocommit = False


def _run_alembic(config, direction, destination) -> None:
    if direction == "upgrade":
        command.upgrade(config, destination)
    else:
        command.downgrade(config, destination or "base")


def _existing_tables(connection, tables, constraints) -> list[str]:
    """Of the named tables, and the targets of the named foreign keys, those that exist,
    as quoted, schema-qualified names in one order (so two runs lock alike)."""
    found = connection.exec_driver_sql(
        "SELECT DISTINCT format('%%I.%%I', n.nspname, c.relname)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid IN (SELECT to_regclass(name) FROM unnest(%(tables)s::text[]) AS name"
        "   UNION SELECT k.confrelid FROM pg_constraint k"
        "     JOIN unnest(%(tables_of)s::text[], %(names)s::text[]) AS d(tab, con)"
        "       ON k.conrelid = to_regclass(d.tab) AND k.conname = trim(both '\"' from d.con)"
        "     WHERE k.contype = 'f')"
        " ORDER BY 1",
        {
            "tables": tables,
            "tables_of": [table for table, _name in constraints],
            "names": [name for _table, name in constraints],
        },
    )
    return list(found.scalars())


def _milliseconds(seconds: float) -> int:
    return max(0, int(seconds * 1000))


def _configure_session(connection: sa.Connection, request: MigrationRequest) -> None:
    """Bound what the migration's session can do to others, whatever its runner does."""
    settings = {
        "lock_timeout": _milliseconds(request.lock_attempts[0]),
        "statement_timeout": _milliseconds(request.statement_timeout),
        "idle_in_transaction_session_timeout": _milliseconds(request.idle_in_transaction_timeout),
        # The server's side of the keepalives (ignored on a Unix socket).
        **{f"tcp_keepalives_{name}": value for name, value in KEEPALIVES.items()},
    }
    with connection.begin():
        for name, value in settings.items():
            connection.exec_driver_sql(f"SET {name} = {int(value)}")
        if (connection.dialect.server_version_info or (0,)) >= (14,):
            # If this process dies mid-revision, the server notices within a second,
            # rolls the revision back and releases the migration lock.
            connection.exec_driver_sql("SET client_connection_check_interval = 1000")


def _rollback_quietly(connection: sa.Connection) -> None:
    try:
        if connection.in_transaction():
            connection.rollback()
    except DBAPIError:
        pass  # the connection is gone; the server rolled the transaction back itself


def _is_lock_timeout(exc: BaseException) -> bool:
    """Whether a statement gave up waiting for a lock (lock_timeout, or the statement
    timeout of the statement that takes a revision's locks)."""
    # SQLAlchemy wraps the driver's error (orig); a raw psycopg2 error carries it itself.
    code = getattr(getattr(exc, "orig", None), "pgcode", None) or getattr(exc, "pgcode", None)
    return code == "55P03" or (code == "57014" and getattr(exc, "waiting_for_locks", False))


def _step_failure(request, connection, direction, steps, exc, retries=0) -> MigrationError:
    """Name the revision that failed and the revision the database was left at."""
    try:
        now: tuple[str, ...] | None = current_revisions(connection)
    except Exception:
        # The connection was lost (and the server rolled the open revision back): ask anew.
        try:
            with connection.engine.connect() as fresh:
                now = current_revisions(fresh)
        except Exception:
            now = None
    ids = [step.revision for step in steps]
    at = now[0] if now else None
    if at in ids:
        # Upgrading, `at` is the last step that completed; downgrading, the next to undo.
        position = ids.index(at) if direction == "downgrade" else ids.index(at) + 1
        failed = steps[min(position, len(steps) - 1)]
    else:
        failed = steps[0]
    what = reason(exc, request.url)
    if _is_lock_timeout(exc):
        tried = request.lock_attempts[: retries + 1]
        tries = f"{len(tried)} attempts of " if len(tried) > 1 else ""
        each = f"{tried[0]:g}" if len(set(tried)) == 1 else f"{min(tried):g} to {max(tried):g}"
        unit = "second" if max(tried) == 1 and len(set(tried)) == 1 else "seconds"
        what = (
            "canceling statement due to lock timeout "
            f"({tries}{each} {unit} each waiting for a table lock held by another session; "
            "retry when it is gone, or lengthen lock_attempts)"
        )
    held = getattr(exc, "held_too_long", None)
    if held:
        what = (
            f"it held its table locks past its bound of {held:g} seconds, which application"
            " queries wait behind: move its data changes out of the transaction (a batched"
            " backfill, docs/operations.md), or give the revision a module-level"
            " lock_hold_timeout of the seconds it needs"
        )
    if now is None:
        left = "and the database cannot be reached now to tell its revision; run again"
    else:
        left = f"leaving the database at revision {at or 'base'}"
    return MigrationError(
        f"revision {failed.revision} ({failed.message}) failed and was rolled back, {left}: {what}"
    )
