"""What the monitoring tests share: a login role with pg_monitor and nothing else, as the
PostgreSQL exporter of monitoring/ connects (no superuser)."""

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
def monitor_login(postgres) -> Iterator[Login]:
    url = postgres.url()
    admin = Login(url.host, url.port, url.username, url.password).connect()
    admin.autocommit = True
    login = Login(url.host, url.port, f"monitor_{secrets.token_hex(4)}", secrets.token_urlsafe(18))
    with admin.cursor() as cursor:
        cursor.execute(
            f"CREATE ROLE {login.user} LOGIN IN ROLE pg_monitor PASSWORD %s", (login.password,)
        )
    yield login
    with admin.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {login.user}; DROP ROLE {login.user}")
    admin.close()
