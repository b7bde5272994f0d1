"""Alembic environment of backend-db.

Online, the connection comes from whoever runs Alembic: the alembic_migrate module
hands over its own (already holding the migration lock) through
``config.attributes["connection"]``; by hand, ``DATABASE_URL`` names the database.
Offline (``--sql``), SQL is rendered for PostgreSQL without connecting anywhere.
"""

from __future__ import annotations

import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

# models/ lives beside migrations/, both in the repository and on a provisioned host.
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if PROJECT_ROOT not in sys.path:
    sys.path.insert(0, PROJECT_ROOT)

import models  # noqa: E402

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

COMMON_OPTIONS = {
    "target_metadata": models.Base.metadata,
    "compare_type": True,
    "compare_server_default": True,
    # One transaction per revision: a failure leaves the database at the last
    # revision that completed, with nothing of the failed one behind.
    "transaction_per_migration": True,
}


def run_migrations_offline() -> None:
    context.configure(
        dialect_name="postgresql",
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **COMMON_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **COMMON_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return

    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit(
            "DATABASE_URL is not set: export it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE and run alembic again"
        )
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        # SQLAlchemy 2.1 would pick psycopg 3; the project ships psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    engine = create_engine(parsed, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, **COMMON_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
