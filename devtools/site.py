"""site.yml on this machine, against a PostgreSQL cluster of its own: the harness of
tests/site/ and of bench/.

A `Site` runs the play exactly as `make site` runs it, except that it manages a separate
Debian cluster on a free port and installs into a temporary directory, so the machine's
own `main` cluster is left alone. Provisioning needs root, as `make site` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2

from devtools.paths import BIN, ROOT
from devtools.pgserver import free_port, server_major
from devtools.waits import COLOURS, WaitedTooLong, run_bounded

# The major this machine's Debian release ships, which the role picks by default.
VERSION = server_major()
# The longest a play may take here: a first converge takes about two minutes.
PLAY_TIMEOUT = 900
# The application's tables, whose rows the checksums below cover.
# The md5 of a table's rows (as t), in a fixed order.
CHECKSUM = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
TABLES = ("users", "api_keys", "budgets", "policies", "payments", "requests")


def drop_cluster(version: int, cluster: str) -> None:
    """A Debian cluster a test made, gone with everything of it: pg_dropcluster leaves the
    configuration directory behind when it holds files it did not make (the roles' drop-ins,
    the server's certificate and private key)."""
    subprocess.run(["pg_dropcluster", "--stop", str(version), cluster], capture_output=True)
    shutil.rmtree(f"/etc/postgresql/{version}/{cluster}", ignore_errors=True)


def recaps(result: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    """The counts of a run's last recap, by host: ok, changed, failed..."""
    recap_text = COLOURS.sub("", result.stdout).split("PLAY RECAP")[-1]
    found = {
        host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in re.findall(r"^(\S+)\s+:\s+(.*)$", recap_text, re.M)
    }
    assert found, result.stdout[-3000:] + result.stderr[-3000:]
    return found


@contextlib.contextmanager
def provisioned(prefix: str, *args: str):
    """A Site in a directory of its own, provisioned by a first run of site.yml (given
    ARGS, such as "-e", "backup_enabled=false"), and everything it made removed afterwards:
    what a benchmark measures against."""
    if not re.fullmatch(r"\d+", str(VERSION)):
        sys.exit("no PostgreSQL server on this machine: run make setup first")
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    site = Site(workdir)
    try:
        first = site.play(*args)
        if first.returncode != 0:
            sys.exit(f"the first converge failed:\n{first.stdout[-3000:]}{first.stderr}")
        yield site
    finally:
        site.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def recap(result: subprocess.CompletedProcess, host: str = "localhost") -> dict[str, int]:
    """The counts of one host's line of a run's recap (a local play's by default)."""
    found = recaps(result)
    assert host in found, result.stdout[-3000:] + result.stderr[-3000:]
    return found[host]


class Site:
    """One cluster of this machine that site.yml provisions: its variables, inventory and runs."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = f"bdtest{secrets.token_hex(3)}"
        self.port = free_port()
        self.install_dir = workdir / "opt"
        # The passwords and the repository's passphrase come from the local inventory's
        # secret lookups, as `make site` has them: made on the first run into a secrets
        # directory of the site's own, then read from there (`secret`). The monitoring
        # role's password is given, as a team's vault would give it.
        self.secrets_dir = workdir / "secrets"
        self.monitor_password = secrets.token_urlsafe(24)
        self.retired_passwords: list[str] = []
        self.ca_cert = Path(f"/etc/backend-db/{self.cluster}-ca.crt")
        self.backup_config = Path(f"/etc/pgbackrest/{self.cluster}.conf")
        # PgBouncer of its own, on a free port, with settings (and so a pid file) of its name.
        self.pgbouncer_port = free_port()
        self.pgbouncer_config = Path(f"/etc/pgbouncer/{self.cluster}.ini")
        self.vars_file = workdir / "vars.json"
        self.vars_file.write_text(
            json.dumps(
                {
                    "postgresql_cluster": self.cluster,
                    "postgresql_port": self.port,
                    "migrations_install_dir": str(self.install_dir),
                    "backend_secrets_dir": str(self.secrets_dir),
                    "app_database_monitor_password": self.monitor_password,
                    # The machine's own CA certificate (make site's) stays as it is.
                    "postgresql_ca_cert_path": str(self.ca_cert),
                    "pgbouncer_port": self.pgbouncer_port,
                    "pgbouncer_config_path": str(self.pgbouncer_config),
                }
            )
        )
        self.vars_file.chmod(0o600)
        (workdir / "group_vars").mkdir()
        shutil.copy(ROOT / "inventories/local/group_vars/dbservers.yml", workdir / "group_vars")
        self.inventory = workdir / "hosts.yml"
        self.inventory.write_text(
            json.dumps(
                {
                    "dbservers": {
                        "hosts": {
                            "localhost": {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": sys.executable,
                                "ansible_become": False,
                            }
                        }
                    }
                }
            )
        )

    def command(self, *args: str, playbook: str = "site.yml") -> list[str]:
        return [
            str(BIN / "ansible-playbook"), "-i", str(self.inventory),
            "-e", f"@{self.vars_file}", playbook, *args,
        ]  # fmt: skip

    @staticmethod
    def env() -> dict[str, str]:
        return dict(
            os.environ,
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            PATH=f"{BIN}:{os.environ['PATH']}",
            ANSIBLE_FORCE_COLOR="0",
        )

    def play(self, *args: str, playbook: str = "site.yml") -> subprocess.CompletedProcess:
        return run_bounded(
            self.command(*args, playbook=playbook), PLAY_TIMEOUT, f"ansible-playbook {playbook}",
            cwd=ROOT, env=self.env(),
        )  # fmt: skip

    def play_watching_processes(self, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
        """Run the play while sampling every process's arguments, as `ps` shows them."""
        seen: set[str] = set()
        process = subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT, env=self.env(),
        )  # fmt: skip
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                seen.update(process_arguments())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            stdout, stderr = process.communicate(timeout=PLAY_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            raise WaitedTooLong(f"waited {PLAY_TIMEOUT} s for ansible-playbook site.yml") from None
        finally:
            done.set()
            sampler.join()
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), seen

    def secret(self, name: str) -> str:
        """A secret as the lookup keeps it: backend_owner, backend_app, backup_repo_cipher_pass."""
        return (self.secrets_dir / name).read_text().strip()

    @property
    def owner_password(self) -> str:
        return self.secret("backend_owner")

    @property
    def app_password(self) -> str:
        return self.secret("backend_app")

    @property
    def cipher_pass(self) -> str:
        return self.secret("backup_repo_cipher_pass")

    def passwords(self) -> tuple[str, ...]:
        """Every password of the site, the ones in force and the ones rotated away."""
        return (
            self.owner_password, self.app_password, self.cipher_pass, self.monitor_password,
            *self.retired_passwords,
        )  # fmt: skip

    def connect(
        self,
        user: str = "backend_app",
        password: str | None = None,
        database: str = "backend",
        sslmode: str = "require",
        port: int | None = None,
        sslrootcert: str | None = None,
    ):
        """A TCP connection to the site's server (or to `port`), verifying its certificate
        against `sslrootcert` when sslmode asks."""
        return psycopg2.connect(
            host="127.0.0.1",
            port=port or self.port,
            user=user,
            dbname=database,
            sslmode=sslmode,
            sslrootcert=sslrootcert,
            password=self.app_password if password is None else password,
            connect_timeout=10,
        )

    def connect_pooled(self, sslmode: str = "verify-full", **options):
        """A connection through the site's PgBouncer, verifying its certificate."""
        return self.connect(
            sslmode=sslmode, port=self.pgbouncer_port, sslrootcert=str(self.ca_cert), **options
        )

    def log(self) -> str:
        path = Path(f"/var/log/postgresql/postgresql-{VERSION}-{self.cluster}.log")
        return path.read_text(errors="replace") if path.exists() else ""

    def destroy(self) -> None:
        pidfile = f"/var/run/postgresql/{self.cluster}.pid"
        subprocess.run(
            ["start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "10",
             "--pidfile", pidfile, "--exec", "/usr/sbin/pgbouncer"],
            capture_output=True,
        )  # fmt: skip
        # PgBouncer's settings and the pg_hba.conf beside them (the role names it after them).
        self.pgbouncer_config.unlink(missing_ok=True)
        self.pgbouncer_config.with_name(f"{self.cluster}_hba.conf").unlink(missing_ok=True)
        Path(f"/var/log/postgresql/{self.cluster}.log").unlink(missing_ok=True)
        drop_cluster(VERSION, self.cluster)
        self.ca_cert.unlink(missing_ok=True)
        # The stanza's configuration, repository, spool and logs (the cluster is the stanza).
        self.backup_config.unlink(missing_ok=True)
        for kind in ("archive", "backup"):
            shutil.rmtree(f"/var/lib/pgbackrest/{kind}/{self.cluster}", ignore_errors=True)
        shutil.rmtree(f"/var/spool/pgbackrest/archive/{self.cluster}", ignore_errors=True)
        for log in Path("/var/log/pgbackrest").glob(f"{self.cluster}-*.log"):
            log.unlink()
        # On a machine booted with systemd, the backup schedule's units too.
        units = list(Path("/etc/systemd/system").glob(f"backend-db-backup-{self.cluster}*"))
        if units:
            timers = [unit.name for unit in units if unit.suffix == ".timer"]
            subprocess.run(["systemctl", "disable", "--now", *timers], capture_output=True)
            for unit in units:
                unit.unlink()
            subprocess.run(["systemctl", "daemon-reload"], capture_output=True)

    def pgbackrest(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", "pgbackrest", f"--config={self.backup_config}",
             f"--stanza={self.cluster}", *args],
            capture_output=True, text=True, cwd="/", check=False,
        )  # fmt: skip

    def backups(self) -> list[dict]:
        """The stanza's backups, oldest first, as `pgbackrest info` lists them."""
        info = self.pgbackrest("--output=json", "info")
        assert info.returncode == 0, info.stderr
        return json.loads(info.stdout)[0]["backup"]

    def table_checksums(self) -> dict[str, tuple[int, str]]:
        owner = self.connect(user="backend_owner", password=self.owner_password)
        try:
            with owner.cursor() as cursor:
                sums = {}
                for table in TABLES:
                    cursor.execute(f"SELECT count(*), {CHECKSUM} FROM {table} t")
                    sums[table] = cursor.fetchone()
                return sums
        finally:
            owner.close()

    def seed(self) -> None:
        """Rows in every table: the upgrade scenario's seed, in place of whatever was there."""
        rows = (ROOT / "molecule" / "upgrade" / "files" / "seed.sql").read_text()
        owner = self.connect(user="backend_owner", password=self.owner_password)
        with owner, owner.cursor() as cursor:
            cursor.execute("DELETE FROM requests; DELETE FROM payments; DELETE FROM users")
            cursor.execute(rows)
        owner.close()

    def hba_rules(self) -> list[tuple]:
        """The rules of the pg_hba.conf on disk as PostgreSQL parses it."""
        return self.superuser_rows(
            "SELECT type, database, user_name, address, auth_method, options, error"
            " FROM pg_hba_file_rules ORDER BY line_number",
        )

    def monitor_connection(self):
        """The monitoring role's session, over TLS that verifies the server."""
        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user="backend_monitor", dbname="backend",
            password=self.monitor_password, sslmode="verify-full", sslrootcert=str(self.ca_cert),
        )  # fmt: skip

    def superuser_rows(
        self, sql: str, params: tuple = (), database: str = "postgres"
    ) -> list[tuple]:
        """Rows of `sql`, run as postgres over the cluster's socket (peer, as root)."""
        connection = psycopg2.connect(
            host="/var/run/postgresql", port=self.port, user="postgres", dbname=database
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def superuser_value(self, sql: str) -> object:
        return self.superuser_rows(sql)[0][0]

    def play_with(self, tmp_path, playbook: str, variables: dict) -> subprocess.CompletedProcess:
        """A playbook of playbooks/ (or site.yml) run with `variables` as extra variables."""
        extra = tmp_path / "extra.json"
        extra.write_text(json.dumps(variables))
        path = "site.yml" if playbook == "site" else f"playbooks/{playbook}.yml"
        return self.play("-e", f"@{extra}", playbook=path)


def socket_checksums(port: int) -> str:
    """Every table's row count and md5, read as postgres over the socket of the cluster on port."""
    sums = ", ".join(f"(SELECT count(*) || ':' || {CHECKSUM} FROM {table} t)" for table in TABLES)
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1",
         "-p", str(port), "-d", "backend", "-c", f"SELECT concat_ws(' ', {sums})"],
        capture_output=True, text=True, cwd="/", check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def process_arguments() -> set[str]:
    """Every process's arguments, as `ps -eo args` shows them (read from /proc/PID/cmdline
    directly: spawning ps twenty times a second would load the machine it measures)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        if arguments:
            found.add(arguments.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace"))
    return found


def installed(package: str) -> bool:
    status = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${db:Status-Status}", package],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return status.stdout == "installed"
