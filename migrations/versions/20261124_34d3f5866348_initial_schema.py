"""initial schema: users, api_keys, budgets, policies, payments, requests

Made by autogenerate against an empty database, then reviewed: tables in
foreign-key order, enum types created with their first table and dropped
explicitly on downgrade (drop_table leaves them behind).

Revision ID: 34d3f5866348
Revises:
Create Date: 2026-11-24 16:00:37.173506
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "34d3f5866348"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM_TYPES = (
    "user_status",
    "api_key_status",
    "budget_period",
    "policy_kind",
    "payment_status",
    "request_outcome",
)


def created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def updated_at() -> sa.Column:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def uuid_pk(name: str) -> sa.Column:
    return sa.Column(name, sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False)


# Default privileges give the runtime role DML on every table the owner creates,
# alembic_version included; the recorded revision must only change by migrating.
PROTECT_VERSION_TABLE = """
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants AS g
        WHERE g.table_schema = current_schema() AND g.table_name = 'alembic_version'
          AND g.grantee NOT IN (current_user, 'PUBLIC')
    LOOP
        EXECUTE format(
            'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM %I', grantee
        );
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.execute(PROTECT_VERSION_TABLE)
    op.create_table(
        "users",
        uuid_pk("user_id"),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "suspended", "deactivated", name="user_status"),
            server_default="active",
            nullable=False,
        ),
        created_at(),
        updated_at(),
        sa.CheckConstraint("position('@' in email) > 1", name=op.f("ck_users_email_has_at")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
    )
    op.create_index(
        "uq_users_lower_email", "users", [sa.literal_column("lower(email)")], unique=True
    )

    op.create_table(
        "api_keys",
        uuid_pk("api_key_id"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "revoked", "expired", name="api_key_status"),
            server_default="active",
            nullable=False,
        ),
        sa.Column(
            "scopes", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        created_at(),
        sa.CheckConstraint(
            "status <> 'revoked' OR revoked_at IS NOT NULL",
            name=op.f("ck_api_keys_revoked_has_revoked_at"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_api_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index("ix_api_keys_user_id_status", "api_keys", ["user_id", "status"])

    op.create_table(
        "budgets",
        uuid_pk("budget_id"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "period",
            sa.Enum("daily", "weekly", "monthly", "total", name="budget_period"),
            nullable=False,
        ),
        sa.Column("limit_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "alert_threshold",
            sa.Numeric(precision=4, scale=3),
            server_default=sa.text("0.8"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        created_at(),
        updated_at(),
        sa.CheckConstraint("limit_amount >= 0", name=op.f("ck_budgets_limit_amount_not_negative")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_budgets_currency_iso_4217")),
        sa.CheckConstraint(
            "alert_threshold > 0 AND alert_threshold <= 1",
            name=op.f("ck_budgets_alert_threshold_fraction"),
        ),
        sa.CheckConstraint(
            "window_end IS NULL OR window_end > window_start",
            name=op.f("ck_budgets_window_end_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_budgets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("budget_id", name=op.f("pk_budgets")),
    )
    op.create_index("ix_budgets_user_id_is_active", "budgets", ["user_id", "is_active"])

    op.create_table(
        "policies",
        uuid_pk("policy_id"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "rate_limit",
                "spend_cap",
                "endpoint_allowlist",
                "endpoint_denylist",
                name="policy_kind",
            ),
            nullable=False,
        ),
        sa.Column(
            "rules",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), server_default=sa.text("100"), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        created_at(),
        updated_at(),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_policies_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_policies")),
    )
    op.create_index(
        "ix_policies_user_id_priority",
        "policies",
        ["user_id", "priority"],
        postgresql_where=sa.text("enabled"),
    )
    op.create_index("uq_policies_user_id_name", "policies", ["user_id", "name"], unique=True)

    op.create_table(
        "payments",
        uuid_pk("payment_id"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "succeeded", "failed", "refunded", name="payment_status"),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("provider_reference", sa.String(length=200), nullable=False),
        created_at(),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_payments_currency_iso_4217")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_payments_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "provider", "provider_reference", name=op.f("uq_payments_provider_provider_reference")
        ),
    )
    op.create_index("ix_payments_user_id_created_at", "payments", ["user_id", "created_at"])

    op.create_table(
        "requests",
        sa.Column("request_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "completed",
                "rate_limited",
                "budget_exceeded",
                "policy_denied",
                "failed",
                name="request_outcome",
            ),
            nullable=False,
        ),
        sa.Column(
            "cost", sa.Numeric(precision=18, scale=6), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        created_at(),
        sa.CheckConstraint(
            "status_code BETWEEN 100 AND 599", name=op.f("ck_requests_status_code_http")
        ),
        sa.CheckConstraint("cost >= 0", name=op.f("ck_requests_cost_not_negative")),
        sa.CheckConstraint(
            "latency_ms IS NULL OR latency_ms >= 0", name=op.f("ck_requests_latency_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_requests_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.api_key_id"],
            name=op.f("fk_requests_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_requests")),
    )
    op.create_index("ix_requests_user_id_created_at", "requests", ["user_id", "created_at"])
    op.create_index("ix_requests_api_key_id", "requests", ["api_key_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints with it.
    for table in ("requests", "payments", "policies", "budgets", "api_keys", "users"):
        op.drop_table(table)
    for enum_type in ENUM_TYPES:
        op.execute(f"DROP TYPE {enum_type}")
