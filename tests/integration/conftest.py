"""What the monitoring tests share: a login role with pg_monitor and nothing else, as the
PostgreSQL exporter of monitoring/ connects (no superuser), and pg_stat_statements in the
database it reads."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2
import pytest


@dataclass(frozen=True)
class Login:
    host: str
    port: int
    user: str
    password: str
    dbname: str = "postgres"

    def connect(self):
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=self.dbname,
        )  # fmt: skip


@pytest.fixture(scope="session")
def admin(postgres):
    """A connection as the server's superuser, in autocommit."""
    url = postgres.url()
    connection = Login(url.host, url.port, url.username, url.password).connect()
    connection.autocommit = True
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def monitor_login(postgres, admin) -> Iterator[Login]:
    url = postgres.url()
    login = Login(url.host, url.port, f"monitor_{secrets.token_hex(4)}", secrets.token_urlsafe(18))
    with admin.cursor() as cursor:
        cursor.execute(
            f"CREATE ROLE {login.user} LOGIN IN ROLE pg_monitor PASSWORD %s", (login.password,)
        )
        # In the database the exporter reads, as the app_database role creates it there.
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    yield login
    with admin.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {login.user}; DROP ROLE {login.user}")
