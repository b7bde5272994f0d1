"""The locks a migration takes, and how long it may wait for them and hold them.

The migration lock (a session-level advisory lock, one per database, shared by every
host that runs the module) makes concurrent runs apply each revision once. A revision's
table locks are read from its SQL rendered offline (tables_to_lock) and taken together,
in one statement bounded by the attempt's timeout, before it runs; while it holds them,
its statements share the time left of its bound (hold_bound, holding_for_at_most).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import (
    describe,
    reason,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationError

try:
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError
except ImportError:  # alembic_migration reports it (IMPORT_ERROR)
    pass

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import URL

    from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
        MigrationRequest,
    )

# One lock per database, shared by every host that runs this module against it.
ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"backend-db alembic_migrate").digest()[:8], "big", signed=True
)
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
CONCURRENT_INDEX = re.compile(
    rf"\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<index>{_NAME})",
    re.IGNORECASE,
)
# ALTER TABLE ... VALIDATE CONSTRAINT is built to run beside traffic: no table lock first.
_VALIDATE_ONLY = re.compile(
    rf"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?{_NAME}\s+VALIDATE\s+CONSTRAINT\s+{_NAME}\s*$",
    re.IGNORECASE,
)


@contextmanager
def migration_lock(connection: sa.Connection, timeout: float, url: URL) -> Iterator[None]:
    """Hold the session-level advisory lock; wait at most `timeout` seconds for it."""
    try:
        with connection.begin():
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    except DBAPIError as exc:
        if is_lock_timeout(exc):
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
def holding_for_at_most(connection: sa.Connection, bound: float, statement_timeout: float):
    """While a revision holds its table locks: every statement it runs gets the time left
    of the bound as its statement_timeout, so the revision as a whole stops at the bound
    (PostgreSQL then rolls it back and frees its tables). A statement stopped so carries
    `held_too_long` (the bound) for the message."""
    deadline = time.monotonic() + bound

    def bounded(conn, cursor, statement, parameters, context, executemany):
        left = max(1, int((deadline - time.monotonic()) * 1000))
        if statement_timeout:
            left = min(left, milliseconds(statement_timeout))
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


def existing_tables(connection, tables, constraints) -> list[str]:
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


def milliseconds(seconds: float) -> int:
    return max(0, int(seconds * 1000))


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether a statement gave up waiting for a lock (lock_timeout, or the statement
    timeout of the statement that takes a revision's locks)."""
    # SQLAlchemy wraps the driver's error (orig); a raw psycopg2 error carries it itself.
    code = getattr(getattr(exc, "orig", None), "pgcode", None) or getattr(exc, "pgcode", None)
    return code == "55P03" or (code == "57014" and getattr(exc, "waiting_for_locks", False))
