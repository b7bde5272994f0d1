"""Helpers for verifying a converged Molecule container with testinfra."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from devtools import catalog
from devtools.paths import BIN, ROOT
from devtools.pgserver import TemporaryPostgres
from devtools.waits import run_bounded

SEPARATOR = "\x1f"
# The Debian releases the Molecule images are made for, and the PostgreSQL major each ships.
MAJOR_BY_RELEASE = {"12": 15, "13": 17}


def molecule_playbook(playbook: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """ansible-playbook from the project's root through Molecule's own inventory and settings.

    A run that outlasts the timeout fails with the end of what it printed: the task it
    was waiting on."""
    return run_bounded(
        [str(BIN / "ansible-playbook"), "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook,
         *args],
        timeout, f"ansible-playbook {playbook}", cwd=ROOT,
        # Molecule's environment sends -v's lines to stderr (ansible-compat sets
        # ANSIBLE_VERBOSE_TO_STDERR): kept on stdout, each stays under its task's heading.
        env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                 ANSIBLE_VERBOSE_TO_STDERR="False"),
    )  # fmt: skip


def parse(value: str) -> object:
    """psql's text form of a value, as the catalog helpers expect it."""
    if value == "":
        return None
    if value in ("t", "f"):
        return value == "t"
    if value.startswith("{") and value.endswith("}"):
        return [None if item == "NULL" else item for item in value[1:-1].split(",") if item]
    return value


# pgBackRest as the backup role runs it for the cluster main: as postgres, naming the
# stanza's own configuration.
PGBACKREST = "runuser -u postgres -- pgbackrest --config=/etc/pgbackrest/main.conf --stanza=main"


def parse_rows(output: str) -> list[tuple]:
    return [tuple(parse(field) for field in line.split(SEPARATOR)) for line in output.splitlines()]


def psql_query(host, database: str = "backend") -> catalog.Query:
    """Run SQL as postgres inside the container (peer over the socket)."""

    def query(sql: str) -> list[tuple]:
        result = host.run(
            "runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -F %s -d %s -c %s",
            SEPARATOR,
            database,
            sql,
        )
        assert result.rc == 0, result.stderr
        return parse_rows(result.stdout)

    return query


def local_psql_query(server: TemporaryPostgres, database: str) -> catalog.Query:
    """The same, against a TemporaryPostgres on the controller (trust on its socket)."""

    def query(sql: str) -> list[tuple]:
        result = subprocess.run(
            [
                "psql",
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-F",
                SEPARATOR,
                "-h",
                str(server.socket_dir),
                "-p",
                str(server.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return parse_rows(result.stdout)

    return query


def secret(name: str) -> str:
    """A password the scenario generated into Molecule's ephemeral directory."""
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / name).read_text().strip()


def install_pgpass(container: str, entries: list[tuple[str, str, str]]) -> None:
    """Give root in the container a ~/.pgpass, written through stdin, not arguments."""
    lines = "".join(f"*:*:{database}:{user}:{password}\n" for database, user, password in entries)
    subprocess.run(
        ["podman", "exec", "-i", container, "sh", "-c", "umask 077; cat > /root/.pgpass"],
        input=lines,
        text=True,
        check=True,
    )


def assert_reads_and_writes_over_tls(run_sql) -> None:
    """`run_sql` (psql over TCP as the runtime role) can write, read and delete, over TLS."""
    result = run_sql(
        "INSERT INTO users (email) VALUES ('tls-check@example.com');"
        " SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
        " DELETE FROM users WHERE email = 'tls-check@example.com'"
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "t"
