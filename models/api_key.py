"""API keys: credentials a user's programs present; only a hash of the secret is stored."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column, pg_enum, user_reference, uuid_primary_key


class ApiKeyStatus(enum.Enum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ApiKey(Base):
    __tablename__ = "api_keys"

    api_key_id: Mapped[uuid.UUID] = uuid_primary_key()
    user_id: Mapped[uuid.UUID] = user_reference(ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # The short public part of the key, shown to people so they can tell keys apart.
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    # Hex digest of the whole key; the request path looks keys up by it.
    key_hash: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    status: Mapped[ApiKeyStatus] = mapped_column(
        pg_enum(ApiKeyStatus, "api_key_status"),
        nullable=False,
        server_default=ApiKeyStatus.ACTIVE.value,
    )
    scopes: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # A user's keys, filtered by status: the key management page and the cascade.
        Index("ix_api_keys_user_id_status", "user_id", "status"),
        CheckConstraint(
            "status <> 'revoked' OR revoked_at IS NOT NULL", name="revoked_has_revoked_at"
        ),
    )
