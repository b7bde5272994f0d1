"""SCRAM verifiers made on the controller, against a real PostgreSQL: a role given only the
verifier made here logs in with the password, so the server never needs the password
itself, and a verifier the server made is recognised (a re-run changes nothing)."""

from __future__ import annotations

import psycopg2
import pytest

from ansible_collections.backend_db.postgresql.plugins.module_utils.secrets import (
    scram_matches,
    scram_verifier,
    scram_verifier_for,
)

PASSWORD = "Zx8pQ2mN4vB6cD1eF3gH5jK7"


def connection(server, user: str | None = None, password: str | None = None) -> dict:
    """psycopg2's keywords for the scratch server: its superuser, or the role given."""
    url = server.url() if user is None else server.url(user=user, password=password)
    return {"host": url.host, "port": url.port, "user": url.username, "password": url.password,
            "dbname": "postgres", "connect_timeout": 5}  # fmt: skip


def test_a_verifier_made_here_lets_the_role_log_in_with_the_password(postgres):
    verifier = scram_verifier(PASSWORD)
    admin = psycopg2.connect(**connection(postgres))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS verifier_test")
        cursor.execute("CREATE ROLE verifier_test LOGIN PASSWORD %s", (verifier,))
        cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'verifier_test'")
        assert cursor.fetchone()[0] == verifier
    try:
        with psycopg2.connect(**connection(postgres, "verifier_test", PASSWORD)):
            pass
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(**connection(postgres, "verifier_test", PASSWORD + "x"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute("DROP ROLE verifier_test")
        admin.close()


def test_a_verifier_the_server_made_matches_its_password_and_no_other(postgres):
    admin = psycopg2.connect(**connection(postgres))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SET password_encryption = 'scram-sha-256'")
        cursor.execute("DROP ROLE IF EXISTS server_made")
        cursor.execute(f"CREATE ROLE server_made PASSWORD '{PASSWORD}'")
        cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'server_made'")
        (server_verifier,) = cursor.fetchone()
        cursor.execute("DROP ROLE server_made")
    admin.close()
    assert scram_matches(PASSWORD, server_verifier)
    assert not scram_matches(PASSWORD + "x", server_verifier)
    # Kept as it is while it matches (a re-run changes nothing); new once the password is new.
    assert scram_verifier_for(PASSWORD, server_verifier) == server_verifier
    assert scram_verifier_for("another password entirely", server_verifier) != server_verifier
