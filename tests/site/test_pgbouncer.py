"""PgBouncer in front of the site's server (the pgbouncer role): TLS on both sides, SCRAM
through auth_query and a lookup role that can read nothing else, transaction and session
pools, and many more clients than the server has connections."""

from __future__ import annotations

import json
import threading
import time
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from devtools.pgserver import free_port
from devtools.waits import changed_tasks, printed

# The clients of the load test, against the server's default max_connections (100) and
# the runtime role's connection limit (50).
CLIENTS = 500
# What PgBouncer says to a client its pg_hba.conf has no line for: Debian 12's 1.18, 13's 1.24.
NO_HBA_LINE = "login rejected|no authentication method is found"
BACKENDS = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'backend_app'"


def test_the_runtime_role_reaches_its_database_through_pgbouncer_with_verified_tls_on_both_sides(
    site,
):
    with site.connect_pooled() as connection, connection.cursor() as cursor:
        # What the server says of the connection PgBouncer opened for this client.
        cursor.execute(
            "SELECT current_user, inet_server_port(), ssl, host(inet_client_addr())"
            " FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
        assert cursor.fetchone() == ("backend_app", site.port, True, "127.0.0.1")
        cursor.execute("SELECT count(*) FROM users")
    config = site.pgbouncer_config.read_text()
    assert "server_tls_sslmode = verify-full" in config
    assert "client_tls_sslmode = require" in config


def test_pgbouncer_holds_no_password_and_its_settings_no_secret(site):
    config = site.pgbouncer_config.read_text()
    assert all(password not in config for password in site.passwords())
    assert "auth_file" not in config
    userlist = Path("/etc/pgbouncer/userlist.txt")
    if userlist.exists():
        assert all(password not in userlist.read_text() for password in site.passwords())
    assert oct(site.pgbouncer_config.stat().st_mode & 0o777) == "0o640"


@pytest.mark.parametrize(
    "user, password, sslmode, refusal",
    [
        ("backend_app", "not-the-password", "verify-full", "SASL authentication failed"),
        ("postgres", "anything", "verify-full", "no such user"),
        # Not a client role: PgBouncer's pg_hba.conf has no line for it (PgBouncer 1.18
        # and 1.24 say so in their words).
        ("backend_pgbouncer", "anything", "verify-full", NO_HBA_LINE),
        ("backend_app", None, "disable", "SSL required"),
    ],
)
def test_pgbouncer_refuses_a_wrong_password_the_superuser_its_lookup_role_and_plain_tcp(
    site, user, password, sslmode, refusal
):
    with pytest.raises(psycopg2.OperationalError, match=refusal):
        site.connect_pooled(user=user, password=password, sslmode=sslmode).close()


def test_the_lookup_role_logs_in_only_with_the_hosts_certificate_and_reads_only_verifiers(
    site,
):
    # No password of any kind: the server refuses it without the certificate.
    with pytest.raises(psycopg2.OperationalError, match="valid client certificate"):
        site.connect(user="backend_pgbouncer", password="anything").close()
    assert site.superuser_rows(
        "SELECT rolpassword IS NULL, rolsuper, rolreplication, rolbypassrls FROM pg_authid"
        " WHERE rolname = 'backend_pgbouncer'"
    ) == [(True, False, False, False)]
    rows = site.superuser_rows(
        "SET ROLE backend_pgbouncer;"
        " SELECT username, password LIKE 'SCRAM-SHA-256$%%' FROM pgbouncer.lookup('backend_app')"
        " UNION ALL SELECT username, true FROM pgbouncer.lookup('postgres')",
        database="backend",
    )
    assert rows == [("backend_app", True)]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        site.superuser_rows("SET ROLE backend_pgbouncer; SELECT count(*) FROM pg_authid")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        site.superuser_rows(
            "SET ROLE backend_pgbouncer; SELECT count(*) FROM public.users", database="backend"
        )
    # The runtime role cannot call it.
    with (
        site.connect() as connection,
        connection.cursor() as cursor,
        pytest.raises(psycopg2.errors.InsufficientPrivilege),
    ):
        cursor.execute("SELECT * FROM pgbouncer.lookup('backend_owner')")


PID_AND_WORK_MEM = "SELECT pg_backend_pid(), current_setting('work_mem')"


def test_the_transaction_pool_keeps_no_session_state_and_the_session_pool_does(site):
    """A client SETs work_mem; other clients then open transactions and hold them. In the
    transaction pool one of them is lent the server connection the SET ran on (PgBouncer
    lends an idle one before it opens another), so the first client's next statement runs on
    another connection, without its SET. In the session pool that connection stays the
    first client's, with its SET, and no other client is lent it."""
    for database, kept in (("backend", False), ("backend_session", True)):
        # closing(): psycopg2's own "with connection" would hold one transaction throughout.
        with closing(site.connect_pooled(database=database)) as first, first.cursor() as mine:
            first.autocommit = True
            mine.execute("SET work_mem = '7MB'")
            mine.execute(PID_AND_WORK_MEM)
            server, work_mem = mine.fetchone()
            assert work_mem == "7MB"
            # More clients than the pool's connections (20 against 8 here), each holding
            # a transaction (psycopg2 begins one), until one is lent that connection.
            others, lent = [], False
            try:
                while len(others) < (3 if kept else 20) and not lent:
                    others.append(site.connect_pooled(database=database))
                    with others[-1].cursor() as other:
                        other.execute("SELECT pg_backend_pid()")
                        lent = other.fetchone()[0] == server
                assert lent is not kept, (database, len(others))
                mine.execute(PID_AND_WORK_MEM)
                now, work_mem = mine.fetchone()
            finally:
                for other in others:
                    other.close()
            if kept:
                assert (now, work_mem) == (server, "7MB")
            else:
                assert now != server and work_mem != "7MB", (now, work_mem)


def test_many_more_clients_than_the_server_has_connections_are_served(site):
    assert site.superuser_rows("SHOW max_connections") == [("100",)]
    opened = threading.Barrier(CLIENTS, timeout=120)
    errors: list[str] = []
    most_backends: list[int] = []

    def client() -> None:
        try:
            with site.connect_pooled() as connection, connection.cursor() as cursor:
                opened.wait()
                cursor.execute("SELECT count(*) FROM users")
                connection.commit()
        except Exception as error:  # every failure is counted
            errors.append(repr(error))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    watching = True

    def watch() -> None:
        while watching:
            most_backends.append(site.superuser_value(BACKENDS))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    for thread in threads:
        thread.join()
    watching = False
    watcher.join()
    assert errors == [], f"{len(errors)} of {CLIENTS} clients failed, the first: {errors[:3]}"
    # PgBouncer held the clients with a few server connections, within the role's limit.
    assert 0 < max(most_backends) <= 50, max(most_backends)


def test_a_new_port_is_listened_on_after_the_run_that_sets_it(site, tmp_path):
    """Listening sockets change only when PgBouncer starts: the run restarts it for a new
    port (and reloads it for any other setting), then back."""
    moved = free_port()
    extra = tmp_path / "port.json"
    extra.write_text(json.dumps({"pgbouncer_port": moved}))
    result = site.play("-e", f"@{extra}")
    try:
        assert result.returncode == 0, printed(result)
        # Stopped and started by its pid file here; restarted by systemd under it.
        assert any("new listening sockets" in task for task in changed_tasks(result.stdout)), (
            printed(result)
        )
        with site.connect(sslmode="verify-full", port=moved, sslrootcert=str(site.ca_cert)):
            pass
    finally:
        back = site.play()
    assert back.returncode == 0, printed(back)
    site.connect_pooled().close()
