"""Fixtures: one private PostgreSQL server per test session, a fresh database per test."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from devtools.paths import MIGRATIONS, ROOT
from devtools.pgserver import TemporaryPostgres

OWNER = "test_owner"


@dataclass
class Database:
    """A database owned by a password-protected, non-superuser owner role."""

    name: str
    url: URL
    admin_url: URL
    owner_password: str

    def engine(self, admin: bool = False) -> sa.Engine:
        return sa.create_engine(self.admin_url if admin else self.url, poolclass=sa.NullPool)

    def scalar(self, sql: str, **params: object) -> object:
        engine = self.engine()
        try:
            with engine.connect() as connection:
                return connection.execute(sa.text(sql), params).scalar()
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: object) -> None:
        engine = self.engine()
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(sql), params)
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture(scope="session")
def owner_password(postgres: TemporaryPostgres) -> str:
    password = secrets.token_urlsafe(18)
    engine = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %(pw)s",
            {"pw": password},
        )
    engine.dispose()
    return password


@pytest.fixture
def make_database(postgres: TemporaryPostgres, owner_password: str) -> Iterator:
    """Creates fresh databases owned by the owner role; drops them after the test."""
    admin = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> Database:
        name = f"test_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name} OWNER {OWNER}")
        # PostgreSQL 15 no longer lets every role create in public; the owner needs to.
        db_admin = sa.create_engine(postgres.url(database=name), isolation_level="AUTOCOMMIT")
        with db_admin.connect() as connection:
            connection.exec_driver_sql(f"ALTER SCHEMA public OWNER TO {OWNER}")
        db_admin.dispose()
        made.append(name)
        return Database(
            name=name,
            url=postgres.url(user=OWNER, password=owner_password, database=name),
            admin_url=postgres.url(database=name),
            owner_password=owner_password,
        )

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def database(make_database) -> Database:
    return make_database()


COPIED = [
    "models", "migrations", "alembic.ini", ".squawk.toml", "pyproject.toml", "scripts",
    "devtools", "plugins",
]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the parts of the project that make revision and the checks read."""
    for name in COPIED:
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    # The collection's name for the copy, as the repository's collections/ gives it.
    namespace = tmp_path / "collections" / "ansible_collections" / "backend_db"
    namespace.mkdir(parents=True)
    (namespace / "postgresql").symlink_to("../../..")
    return tmp_path


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """A private copy of the project's migrations/ that a test may add revisions to."""
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy
