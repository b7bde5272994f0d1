"""Policies: rules (rate limits, spend caps, endpoint lists) applied to a user's requests."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    Base,
    created_at_column,
    pg_enum,
    updated_at_column,
    user_reference,
    uuid_primary_key,
)


class PolicyKind(enum.Enum):
    RATE_LIMIT = "rate_limit"
    SPEND_CAP = "spend_cap"
    ENDPOINT_ALLOWLIST = "endpoint_allowlist"
    ENDPOINT_DENYLIST = "endpoint_denylist"


class Policy(Base):
    __tablename__ = "policies"

    policy_id: Mapped[uuid.UUID] = uuid_primary_key()
    user_id: Mapped[uuid.UUID] = user_reference(ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[PolicyKind] = mapped_column(pg_enum(PolicyKind, "policy_kind"), nullable=False)
    rules: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # Lower numbers are evaluated first.
    priority: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("100"))
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __table_args__ = (
        # A user's enabled policies in evaluation order: read on every request.
        Index(
            "ix_policies_user_id_priority",
            "user_id",
            "priority",
            postgresql_where=text("enabled"),
        ),
        Index("uq_policies_user_id_name", "user_id", "name", unique=True),
    )
