"""Helpers for revisions that run beside live traffic.

A revision imports them as ``from migrations.online import backfill_in_batches``
(env.py puts the project's root on the path). docs/operations.md shows each safe
pattern with an example revision that the tests apply.
"""

from __future__ import annotations

from alembic import context, op


def backfill_in_batches(table: str, assignments: str, pending: str, batch_size: int = 5000) -> int:
    """Set ``assignments`` on the rows of ``table`` that ``pending`` matches, at most
    ``batch_size`` rows per transaction, until none is left; return how many it changed.

    Each batch locks only its own rows and commits at once (Alembic's autocommit block),
    so no long transaction holds locks or keeps old row versions alive, and application
    writes to other rows go on. A batch waits for rows the application holds no longer
    than the migration's lock timeout; if it gives up, the revision is tried again and
    the batches already committed stay done. ``pending`` must stop matching a row once
    it is set. It stops after a batch that found fewer than ``batch_size`` rows: rows
    the application writes meanwhile are its own to fill (from the expand revision on it
    writes the new column too, or the column has a default), or a backfill on a busy
    table would chase them for ever. Call it apart from the revision's other statements,
    which run in the revision's transaction.
    """
    statement = (
        f"UPDATE {table} SET {assignments} WHERE ctid = ANY (ARRAY("
        f"SELECT ctid FROM {table} WHERE {pending} LIMIT {int(batch_size)} FOR UPDATE))"
    )
    with op.get_context().autocommit_block():
        if context.is_offline_mode():
            # Rendered once for review; run, it repeats until a batch comes up short.
            op.execute(f"{statement} -- repeated until it updates fewer rows")
            return 0
        total = 0
        while True:
            changed = op.get_bind().exec_driver_sql(statement).rowcount
            total += changed
            if changed < batch_size:
                return total
