"""Declarative base shared by every model, with the project's naming convention.

Every constraint and index gets a stable, predictable name, so migrations can
refer to them and autogenerate never sees a spurious rename.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, MetaData, Uuid, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def pg_enum(python_enum: type[enum.Enum], name: str) -> Enum:
    """A native PostgreSQL ENUM type named `name` whose labels are the member values."""
    return Enum(
        python_enum,
        name=name,
        native_enum=True,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


def uuid_primary_key() -> Mapped[uuid.UUID]:
    """A UUID primary key the server fills in."""
    return mapped_column(Uuid, primary_key=True, server_default=text("gen_random_uuid()"))


def user_reference(ondelete: str) -> Mapped[uuid.UUID]:
    """The owning user: every child table has one, with the delete rule the design gives it."""
    return mapped_column(Uuid, ForeignKey("users.user_id", ondelete=ondelete), nullable=False)
