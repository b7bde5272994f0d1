"""A throwaway PostgreSQL server for tests and for autogenerating revisions.

Runs the PostgreSQL server binaries that this machine's Debian release ships (15 on
Debian 12, 17 on Debian 13; the newest installed major, or PG_BINDIR) in a temporary
directory on a free loopback port. As root the server runs as the `postgres` user,
because PostgreSQL refuses to run as root. Nothing outside the temporary directory is
touched.

    python -m devtools.pgserver     # start one, print its URL, stop on Ctrl-C
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL

DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"


def server_bindir() -> Path:
    """PG_BINDIR, or the newest major's binaries that Debian's packages installed."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    installed = [path.parent for path in Path("/").glob(DEBIAN_BINDIRS.lstrip("/") + "/initdb")]
    if not installed:
        raise RuntimeError(
            "no PostgreSQL server binaries under /usr/lib/postgresql; run `make setup` "
            "(it installs the server this machine's Debian release ships) or set PG_BINDIR"
        )
    return max(installed, key=lambda path: int(path.parent.name))


def server_major() -> int:
    """The major version of the server binaries the tests run, as initdb reports it."""
    # "initdb (PostgreSQL) 17.6 (Debian 17.6-0+deb13u1)"
    reported = subprocess.run(
        [str(server_bindir() / "initdb"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(reported[2].split(".")[0])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryPostgres:
    """A private PostgreSQL cluster: password (scram) over TCP, trust on its own socket."""

    def __init__(self, bindir: str | None = None) -> None:
        self.bindir = Path(bindir) if bindir else server_bindir()
        if not (self.bindir / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL server binaries not found in {self.bindir}; "
                "run `make setup` or set PG_BINDIR to a directory holding initdb"
            )
        self.superuser_password = secrets.token_urlsafe(24)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="backend-db-pg-"))
        self.datadir = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.logfile = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> TemporaryPostgres:
        self.socket_dir.mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        pwfile.chmod(0o600)
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            for path in (self.socket_dir, pwfile):
                shutil.chown(path, "postgres")
        try:
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink()
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100 "
            # As the postgresql role's servers load it (postgresql_shared_preload_libraries).
            "-c shared_preload_libraries=pg_stat_statements"
        )
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", options, "-w", "start"
        )
        return self

    def make_standby(self) -> TemporaryPostgres:
        """Restart the server as a standby: in recovery, read-only, as a replica is."""
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c hot_standby=on"
        )
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")
        (self.datadir / "standby.signal").touch()
        if self._as_postgres:
            shutil.chown(self.datadir / "standby.signal", "postgres")
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", options, "-w", "start"
        )
        return self

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(
        self, user: str = SUPERUSER, password: str | None = None, database: str = "postgres"
    ) -> URL:
        if user == SUPERUSER and password is None:
            password = self.superuser_password
        return URL.create(
            "postgresql+psycopg2",
            username=user,
            password=password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


if __name__ == "__main__":
    import signal

    with TemporaryPostgres() as server:
        print(server.url().render_as_string(hide_password=False), flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
