"""Users: the accounts that own API keys, budgets, policies, payments and requests."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column, pg_enum, updated_at_column, uuid_primary_key


class UserStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


class User(Base):
    """A customer of the API. Users are deactivated through `status`, never deleted,
    because their payments and requests are history that must be kept."""

    __tablename__ = "users"

    user_id: Mapped[uuid.UUID] = uuid_primary_key()
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[UserStatus] = mapped_column(
        pg_enum(UserStatus, "user_status"),
        nullable=False,
        server_default=UserStatus.ACTIVE.value,
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __table_args__ = (
        # Unique regardless of case: Alice@Example.com and alice@example.com are one user.
        Index("uq_users_lower_email", func.lower(email), unique=True),
        CheckConstraint("position('@' in email) > 1", name="email_has_at"),
    )
