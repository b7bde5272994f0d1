"""Budgets: spending limits a user sets per period."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Numeric,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    Base,
    created_at_column,
    pg_enum,
    updated_at_column,
    user_reference,
    uuid_primary_key,
)


class BudgetPeriod(enum.Enum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    TOTAL = "total"


class Budget(Base):
    __tablename__ = "budgets"

    budget_id: Mapped[uuid.UUID] = uuid_primary_key()
    user_id: Mapped[uuid.UUID] = user_reference(ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    period: Mapped[BudgetPeriod] = mapped_column(
        pg_enum(BudgetPeriod, "budget_period"), nullable=False
    )
    limit_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # Fraction of the limit at which the user is alerted (0.8 = at 80 %).
    alert_threshold: Mapped[Decimal] = mapped_column(
        Numeric(4, 3), nullable=False, server_default=text("0.8")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __table_args__ = (
        # A user's active budgets: looked up before every metered request.
        Index("ix_budgets_user_id_is_active", "user_id", "is_active"),
        CheckConstraint("limit_amount >= 0", name="limit_amount_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso_4217"),
        CheckConstraint(
            "alert_threshold > 0 AND alert_threshold <= 1", name="alert_threshold_fraction"
        ),
        CheckConstraint(
            "window_end IS NULL OR window_end > window_start", name="window_end_after_start"
        ),
    )
