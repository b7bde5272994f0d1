"""What alembic_migrate returns, built in this one place, and how it fails.

Both of the module's answers build it here: the full check
(alembic_migration.migrate) and the head check's quick "nothing to do"
(plugins/modules/alembic_migrate.py), which must not import Alembic or SQLAlchemy, so
this module imports neither. The module's RETURN documents these keys (a test keeps
them equal). A failure is a MigrationError, whichever part raises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class MigrationError(Exception):
    """A failure explained in one sentence for the operator. Never carries a secret."""


@dataclass(frozen=True)
class Step:
    revision: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"revision": self.revision, "message": self.message}


@dataclass
class MigrationResult:
    changed: bool
    direction: str
    before: list[str]
    after: list[str]
    target: str | None
    pending: list[Step] = field(default_factory=list)
    applied: list[Step] = field(default_factory=list)
    sql: str | None = None
    elapsed: float = 0.0
    # Each attempt at a revision: its lock timeout, when it started (seconds into the
    # run), how long it took and whether it got its locks ("applied") or not ("timeout").
    attempts: list[dict[str, Any]] = field(default_factory=list)
    # The restore point written before the first revision was applied: name, lsn, time.
    restore_point: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "changed": self.changed,
            "direction": self.direction,
            "before": self.before,
            "after": self.after,
            "target": self.target,
            "pending": [step.as_dict() for step in self.pending],
            "applied": [step.as_dict() for step in self.applied],
            "attempts": self.attempts,
            "elapsed": round(self.elapsed, 4),
        }
        if self.sql is not None:
            result["sql"] = self.sql
        if self.restore_point is not None:
            result["restore_point"] = self.restore_point
        return result
