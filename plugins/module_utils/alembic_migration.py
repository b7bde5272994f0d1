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

This file runs the steps; each other part does one thing: connection.py connects (and
scrubs what a failure says), migration_plan.py decides what to run, migration_locks.py
takes the locks and bounds the waits, migration_failure.py says what failed, and
migrate_options.py states the module's options and their defaults.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import (
    KEEPALIVES,
    connect,
    describe,
    reason,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.migrate_options import DEFAULTS
from ansible_collections.backend_db.postgresql.plugins.module_utils.migration_failure import (
    step_failure,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.migration_locks import (
    CONCURRENT_INDEX,
    existing_tables,
    hold_bound,
    holding_for_at_most,
    is_lock_timeout,
    migration_lock,
    milliseconds,
    tables_to_lock,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.migration_plan import (
    REVISION_PATTERN,
    alembic_config,
    check_where_revisions_would_go,
    current_revisions,
    load_scripts,
    plan,
    render_sql,
    resolve_target,
    running_env_py,
    single_current,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import (
    MigrationError,
    MigrationResult,
    Step,
)

try:
    import sqlalchemy as sa
    from alembic import command
    from sqlalchemy.engine import URL
    from sqlalchemy.exc import DBAPIError
except ImportError as exc:  # reported by the module as a missing library
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None


@dataclass
class MigrationRequest:
    """What to migrate, where to, and how long to wait for what. A field named as one of
    the module's options (migrate_options.OPTIONS) means what its manual says, and has
    its default; the rest say where and how to connect and whether to change anything."""

    script_location: str
    url: URL
    check_mode: bool = False
    connect_timeout: int = 10
    revision: str = DEFAULTS["revision"]
    allow_downgrade: bool = DEFAULTS["allow_downgrade"]
    render_sql: bool = DEFAULTS["render_sql"]
    concurrent_run_timeout: float = DEFAULTS["concurrent_run_timeout"]
    lock_attempts: tuple[float, ...] = tuple(DEFAULTS["lock_attempts"])
    lock_retry_pause: float = DEFAULTS["lock_retry_pause"]
    allow_superuser: bool = DEFAULTS["allow_superuser"]
    idle_in_transaction_timeout: float = DEFAULTS["idle_in_transaction_timeout"]
    statement_timeout: float = DEFAULTS["statement_timeout"]
    lock_hold_timeout: float = DEFAULTS["lock_hold_timeout"]
    restore_point: bool = DEFAULTS["restore_point"]


# --- the run ------------------------------------------------------------------


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
                timed_out = is_lock_timeout(exc)
                record.update(
                    seconds=round(time.monotonic() - began, 4),
                    outcome="timeout" if timed_out else "failed",
                )
                if timed_out and attempt + 1 < len(schedule):
                    time.sleep(request.lock_retry_pause)
                    continue
                raise step_failure(request, connection, direction, steps, exc, attempt) from None
        previous = destination
    return attempts


def _apply(config, connection, request, direction, destination, sql, tables, constraints, timeout,
           bound=0.0):  # fmt: skip
    """One attempt at one revision: its table locks first, then the revision, committed
    (holding its locks for at most `bound` seconds)."""
    wait = milliseconds(timeout)
    if sql is None or "CONCURRENTLY" in sql.upper() or sql.upper().count("COMMIT;") > 1:
        # Concurrent index builds and batched backfills run outside the revision's
        # transaction, in Alembic's own autocommit_block (which writes a COMMIT into the
        # rendered SQL), and a revision whose SQL is unknown may do the same: no locks
        # are taken for them up front, and each statement waits for one at most the
        # attempt's time.
        with connection.begin():
            connection.exec_driver_sql(f"SET lock_timeout = {wait}")
        _drop_invalid_leftovers(connection, CONCURRENT_INDEX.findall(sql or ""))
        _run_alembic(config, direction, destination)
        if connection.in_transaction():
            connection.commit()
        return
    with connection.begin():
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {wait}")
        existing = existing_tables(connection, tables, constraints)
        if existing:
            # One statement for every lock, bounded as a whole by the attempt's timeout.
            # The revision's own statement timeout is set in the same message: sent on its
            # own, that SET would run under the attempt's timeout (its timer starts with
            # the statement), and a busy machine that kept the backend off the CPU that
            # long cancelled it, failing the revision instead of retrying it.
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {wait}")
            try:
                connection.exec_driver_sql(
                    f"LOCK TABLE {', '.join(existing)} IN ACCESS EXCLUSIVE MODE;"
                    f" SET LOCAL statement_timeout = {milliseconds(request.statement_timeout)}"
                )
            except DBAPIError as exc:
                # Cancelled by the attempt's timeout, it had not yet started the revision.
                exc.waiting_for_locks = True
                raise
        # Alembic sees a transaction already open and runs the revision inside it, bounded
        # in time once it holds locks on tables others use.
        holding = (
            holding_for_at_most(connection, bound, request.statement_timeout)
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


def _configure_session(connection: sa.Connection, request: MigrationRequest) -> None:
    """Bound what the migration's session can do to others, whatever its runner does."""
    settings = {
        "lock_timeout": milliseconds(request.lock_attempts[0]),
        "statement_timeout": milliseconds(request.statement_timeout),
        "idle_in_transaction_session_timeout": milliseconds(request.idle_in_transaction_timeout),
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
