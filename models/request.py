"""Requests: the metered log of every API call. By far the largest table."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at_column, pg_enum, user_reference


class RequestOutcome(enum.Enum):
    COMPLETED = "completed"
    RATE_LIMITED = "rate_limited"
    BUDGET_EXCEEDED = "budget_exceeded"
    POLICY_DENIED = "policy_denied"
    FAILED = "failed"


class APIRequest(Base):
    __tablename__ = "requests"

    request_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[uuid.UUID] = user_reference(ondelete="RESTRICT")
    # The key that made the request. A key that has made requests is revoked, never
    # deleted: the log keeps which key made each request, and deleting a key never
    # rewrites request rows. NULL for requests made without a key.
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("api_keys.api_key_id", ondelete="RESTRICT")
    )
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(2048), nullable=False)
    status_code: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    outcome: Mapped[RequestOutcome] = mapped_column(
        pg_enum(RequestOutcome, "request_outcome"), nullable=False
    )
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, server_default=text("0"))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # A user's requests and spend over a time window.
        Index("ix_requests_user_id_created_at", "user_id", "created_at"),
        # A key's requests; and what deleting a key checks for (ON DELETE RESTRICT).
        Index("ix_requests_api_key_id", "api_key_id"),
        CheckConstraint("status_code BETWEEN 100 AND 599", name="status_code_http"),
        CheckConstraint("cost >= 0", name="cost_not_negative"),
        CheckConstraint("latency_ms IS NULL OR latency_ms >= 0", name="latency_not_negative"),
    )
