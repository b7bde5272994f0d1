"""restrict deleting api keys that made requests

A key that has made requests is revoked (api_keys.status), never deleted: with
ON DELETE SET NULL, deleting a key rewrote every request row it had made (a new row
version and an entry in each index per request) and erased from the log which key
made them. RESTRICT keeps the log as it is, like the other history the schema keeps.

The new constraint is added NOT VALID, which needs only a brief lock; the next
revision validates the existing rows without blocking reads or writes.

Revision ID: 33e97be2731d
Revises: 34d3f5866348
Create Date: 2026-11-25 00:26:46.575874
"""

from collections.abc import Sequence

from alembic import op

revision: str = "33e97be2731d"
down_revision: str | Sequence[str] | None = "34d3f5866348"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "fk_requests_api_key_id_api_keys"
# The constraint is dropped and added again in one transaction, so the reference is
# never missing; PostgreSQL cannot change ON DELETE in place.
squawk_exclude = ["ban-drop-constraint"]


def _replace_constraint(ondelete: str) -> None:
    op.drop_constraint(CONSTRAINT, "requests", type_="foreignkey")
    op.create_foreign_key(
        CONSTRAINT,
        "requests",
        "api_keys",
        ["api_key_id"],
        ["api_key_id"],
        ondelete=ondelete,
        postgresql_not_valid=True,
    )


def upgrade() -> None:
    _replace_constraint("RESTRICT")


def downgrade() -> None:
    _replace_constraint("SET NULL")
    op.execute(f"ALTER TABLE requests VALIDATE CONSTRAINT {CONSTRAINT}")
