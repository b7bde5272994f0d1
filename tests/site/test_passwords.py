"""The application's passwords: rotated without downtime, and never seen in output, logs,
process arguments, files or pg_stat_statements."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import psycopg2
import pytest

from devtools.site import VERSION
from devtools.waits import printed
from tests.helpers import recap


def test_no_password_in_vvv_output_or_server_log(site):
    _, verbose = site.runs
    output = verbose.stdout + verbose.stderr
    log = site.log()
    assert "backend_owner" in output and "ESTABLISH LOCAL CONNECTION" in output and log
    for password in site.passwords():
        assert password not in output
        assert password not in log


def test_no_password_in_any_process_arguments_during_a_run(site):
    assert any("ansible-playbook" in args for args in site.processes)
    assert len(site.processes) > 20, "the sampler saw too few processes to mean anything"
    for password in site.passwords():
        assert not [args for args in site.processes if password in args]


def test_no_password_left_in_files_outside_the_places_meant_for_them(site):
    places = [
        site.install_dir,
        Path("/var/tmp"),  # noqa: S108 - Ansible's remote temporary directory
        Path("/root/.ansible/tmp"),
        Path(f"/etc/postgresql/{VERSION}/{site.cluster}"),
        # pgBackRest's repository (encrypted), spool and logs; its configuration is the
        # one place meant for the passphrase.
        Path("/var/lib/pgbackrest"),
        Path("/var/spool/pgbackrest"),
        Path("/var/log/pgbackrest"),
    ]
    for password in site.passwords():
        found = subprocess.run(
            ["grep", "-rlsF", password, *map(str, places)],
            capture_output=True,
            text=True,
        )
        assert found.stdout == "", found.stdout


def test_rotating_the_runtime_password_keeps_open_sessions_working(site, tmp_path):
    """docs/operations.md: rotate the runtime role's password without downtime.

    The new password goes where the local inventory keeps it (its secrets file), and the
    run names the role to rotate. It changes the runtime role's password for the rest of
    the session; the old one stays among the passwords no output may show.
    """
    old_password = site.app_password
    open_session = site.connect()
    new_password = secrets.token_urlsafe(24)
    (site.secrets_dir / "backend_app").write_text(new_password + "\n")
    rotation = tmp_path / "rotation.json"
    # A password changes only for a role named for rotation.
    rotation.write_text(json.dumps({"app_database_rotate_passwords": ["backend_app"]}))

    result = site.play("-e", f"@{rotation}", playbook="playbooks/database.yml")
    assert result.returncode == 0, printed(result)
    assert recap(result)["changed"] == 1
    assert new_password not in result.stdout + result.stderr

    with open_session.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM users")
        assert cursor.fetchone()[0] >= 0
    open_session.close()
    with site.connect(password=new_password) as fresh, fresh.cursor() as cursor:
        cursor.execute("SELECT 1")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        site.connect(password=old_password)
    site.retired_passwords.append(old_password)


def test_no_password_rests_in_pg_stat_statements_after_a_converge_and_a_rotation(site):
    """The monitoring role (pg_monitor) reads every role's statement texts."""
    monitor = site.monitor_connection()
    try:
        with monitor.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_statements")
            texts = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        monitor.close()
    assert "PASSWORD 'SCRAM-SHA-256$" in texts  # the roles' statements are there, as verifiers
    secrets_seen = site.passwords()
    assert not [secret for secret in secrets_seen if secret in texts]
    stored = Path(f"/var/lib/postgresql/{VERSION}/{site.cluster}/pg_stat_tmp/pgss_query_texts.stat")
    if stored.exists():
        assert not [secret for secret in secrets_seen if secret.encode() in stored.read_bytes()]
