"""What a failed revision says: which one failed, where it left the database, and why.

One sentence for the operator, in the words of the server or of the lock schedule, never
with a password (connection.reason scrubs it); the revision is found from the one the
database records after the failure, read anew when the connection was lost.
"""

from __future__ import annotations

from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import reason
from ansible_collections.backend_db.postgresql.plugins.module_utils.migration_locks import (
    is_lock_timeout,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.migration_plan import (
    current_revisions,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationError


def step_failure(request, connection, direction, steps, exc, retries=0) -> MigrationError:
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
    if is_lock_timeout(exc):
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
