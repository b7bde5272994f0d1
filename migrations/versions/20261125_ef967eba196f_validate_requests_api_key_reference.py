"""validate requests' reference to api_keys

Checks the rows that existed before the previous revision against its NOT VALID
constraint. VALIDATE CONSTRAINT takes a SHARE UPDATE EXCLUSIVE lock on requests:
reads and writes go on while it scans.

Revision ID: ef967eba196f
Revises: 33e97be2731d
Create Date: 2026-11-25 00:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ef967eba196f"
down_revision: str | Sequence[str] | None = "33e97be2731d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE requests VALIDATE CONSTRAINT fk_requests_api_key_id_api_keys")


def downgrade() -> None:
    # A validated constraint stays valid; the previous revision's downgrade replaces it.
    pass
