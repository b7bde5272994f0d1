"""Secrets that an operator's mistake cannot re-make, on this machine, as `make site` runs.

The session's site runs with the local inventory's own group variables (inventories/local),
so the passwords and the repository's passphrase come from the secret lookup and are
generated on its first run into a secrets directory of its own. Then the controller's copy
of each secret is lost or replaced the way a rushed operator would, and every run must
stop before any change, saying which file, what depends on it and how to restore it. Each
test leaves the site as it found it, but for the CA, which it rolls over to a new one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest

from devtools.waits import printed
from tests.helpers import recap, refused

# The controller's own work, alike whatever the host's release.
pytestmark = pytest.mark.controller


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_first_run_makes_each_secret_once_private_and_the_second_reuses_them(site):
    first, second = site.runs
    assert first.returncode == 0, first.stdout[-4000:]
    assert second.returncode == 0 and recap(second)["changed"] == 0, second.stdout[-4000:]
    for name in ("backend_owner", "backend_app", "backup_repo_cipher_pass", "ca/ca.key"):
        assert (site.secrets_dir / name).stat().st_mode & 0o077 == 0, name
    assert len(site.secret("backup_repo_cipher_pass")) == 48
    with (
        site.connect(password=site.secret("backend_app")) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT 1")


@pytest.mark.parametrize(
    "name, depends",
    [
        ("backup_repo_cipher_pass", "the pgBackRest repository /var/lib/pgbackrest"),
        ("backend_owner", "the role backend_owner on localhost"),
        ("backend_app", "the role backend_app on localhost"),
    ],
)
@pytest.mark.parametrize("mistake", ["lost", "replaced"])
def test_a_secret_lost_or_replaced_on_the_controller_stops_the_run_and_is_never_re_made(
    site, tmp_path, name, depends, mistake
):
    path = site.secrets_dir / name
    kept = path.read_text()
    config = digest(site.backup_config)
    # The same run also changes a setting of the server: it stops before that change too
    # (before: a role's password was compared after the server's play had applied it).
    pending = tmp_path / "pending.json"
    pending.write_text(json.dumps({"postgresql_settings": {"deadlock_timeout": "3s"}}))
    if mistake == "lost":
        path.unlink()
    else:
        path.write_text("another-secret-of-plenty-characters-0123456789\n")
    try:
        for check in ((), ("--check", "--diff")):
            result = site.play("-e", f"@{pending}", *check)
            if mistake == "lost":
                refused(result, f"{path} is missing on the controller", depends, "restore the file")
                assert not path.exists()
            else:
                refused(result, "restore the inventory's copy", "nothing was changed")
            assert digest(site.backup_config) == config
            assert site.superuser_value("SHOW deadlock_timeout") == "1s"
    finally:
        path.write_text(kept)
    # The run and the check stopped before any change (refused() read their recaps) and the
    # repository still opens with the passphrase; the CA roll-over's converges below run
    # with every secret restored, and the last of them must change nothing.
    assert subprocess.run(
        ["runuser", "-u", "postgres", "--", "pgbackrest", f"--config={site.backup_config}",
         f"--stanza={site.cluster}", "check"], capture_output=True, cwd="/", check=False,
    ).returncode == 0  # fmt: skip


def test_a_lost_ca_stops_even_a_check_which_makes_nothing_on_the_controller(site, tmp_path):
    ca = site.secrets_dir / "ca"
    trusted = digest(site.ca_cert)
    shutil.move(ca, tmp_path / "ca")
    try:
        checked = site.play("--check", "--diff")
        refused(checked, f"{ca}/ca.crt is missing on the controller", str(site.ca_cert), "restore")
        assert not ca.exists()
        run = site.play()
        refused(run, f"{ca}/ca.crt is missing on the controller")
        assert not ca.exists() and digest(site.ca_cert) == trusted
    finally:
        shutil.move(tmp_path / "ca", ca)


def test_another_ca_or_a_key_that_is_not_its_own_stops_the_run_before_the_hosts_ca_changes(
    site, tmp_path
):
    ca = site.secrets_dir / "ca"
    kept = {name: (ca / name).read_text() for name in ("ca.crt", "ca.key")}
    trusted = digest(site.ca_cert)
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(other / "ca.key"), "-out", str(other / "ca.crt"),
         "-subj", "/CN=other", "-days", "9"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        (ca / "ca.crt").write_text((other / "ca.crt").read_text())
        refused(site.play(), "is not the CA that the clients of localhost trust")
        assert digest(site.ca_cert) == trusted
        (ca / "ca.crt").write_text(kept["ca.crt"])
        (ca / "ca.key").write_text((other / "ca.key").read_text())
        refused(site.play(), "does not belong to the CA certificate", "restore the pair")
        (ca / "ca.key").unlink()
        refused(site.play(), f"{ca}/ca.key is missing", "restore it")
        assert digest(site.ca_cert) == trusted
    finally:
        for name, text in kept.items():
            (ca / name).write_text(text)


def new_ca(directory, name: str) -> str:
    """A CA made by hand, as an operator would make the next one (ca.key, ca.crt)."""
    directory.mkdir(mode=0o700)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.crt"),
         "-subj", f"/CN={name}", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        check=True, capture_output=True,
    )  # fmt: skip
    return (directory / "ca.crt").read_text()


def verified(site, ca_file) -> None:
    """A client that trusts only the CAs in ca_file connects with verify-full, to the
    server and through PgBouncer (which took the server's new certificate and CA bundle up
    in the same run, and verifies the server with that bundle)."""
    for port in (site.port, site.pgbouncer_port):
        psycopg2.connect(
            host="127.0.0.1", port=port, user="backend_app", dbname="backend",
            password=site.secret("backend_app"), sslmode="verify-full", sslrootcert=str(ca_file),
            connect_timeout=5,
        ).close()  # fmt: skip


def test_the_ca_rolls_over_with_both_cas_trusted_meanwhile(site, tmp_path):
    """docs/operations.md, Secrets: trust the new CA, switch to it, drop the old one."""
    old_pem = (site.secrets_dir / "ca/ca.crt").read_text()
    old_file = tmp_path / "old.crt"
    old_file.write_text(old_pem)
    new_pem = new_ca(tmp_path / "next", "backend-db next CA")
    new_file = tmp_path / "new.crt"
    new_file.write_text(new_pem)

    def converge(**variables) -> subprocess.CompletedProcess:
        extra = tmp_path / "extra.json"
        extra.write_text(json.dumps(variables))
        return site.play("-e", f"@{extra}")

    # Switching without trusting the new CA first would cut every client off.
    refused(
        converge(postgresql_ca_dir=str(tmp_path / "next")),
        "is not the CA that the clients of localhost trust", "postgresql_ca_trusted_extra",
    )  # fmt: skip
    first = converge(postgresql_ca_trusted_extra=[new_pem])
    assert first.returncode == 0, printed(first)
    assert (
        new_pem.strip() in site.ca_cert.read_text() and old_pem.strip() in site.ca_cert.read_text()
    )
    verified(site, old_file)  # the server still presents the old CA's certificate
    second = converge(
        postgresql_ca_dir=str(tmp_path / "next"), postgresql_ca_trusted_extra=[old_pem]
    )
    assert second.returncode == 0, printed(second)
    verified(site, new_file)  # now the new CA's, which a client of the bundle trusts too
    verified(site, site.ca_cert)
    third = converge(postgresql_ca_dir=str(tmp_path / "next"))
    assert third.returncode == 0, printed(third)
    assert site.ca_cert.read_text().strip() == new_pem.strip()
    again = converge(postgresql_ca_dir=str(tmp_path / "next"))
    assert again.returncode == 0 and recap(again)["changed"] == 0, printed(again)
    # The secrets directory keeps the CA the site uses from now on.
    shutil.rmtree(site.secrets_dir / "ca")
    shutil.copytree(tmp_path / "next", site.secrets_dir / "ca")


def test_the_repository_passphrase_changes_with_a_new_repository_only(site, tmp_path):
    """docs/operations.md, Rotate the repository passphrase: a new path with the new one;
    then back to the first repository with its own passphrase, as the site was."""
    passphrase = site.secrets_dir / "backup_repo_cipher_pass"
    kept = passphrase.read_text()
    passphrase.write_text("a-new-passphrase-for-a-new-repository-0123456789\n")
    repository = Path(f"/var/lib/pgbackrest-{site.cluster}")
    try:
        refused(
            site.play(), "restore the inventory's copy", "set backup_repo_path to a new directory"
        )
        extra = tmp_path / "extra.json"
        extra.write_text(json.dumps({"backup_repo_path": str(repository)}))
        rotated = site.play("-e", f"@{extra}")
        assert rotated.returncode == 0, printed(rotated)
        assert (repository / "backup" / site.cluster / "backup.info").exists()
        checked = site.pgbackrest("check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        again = site.play("-e", f"@{extra}")
        assert again.returncode == 0 and recap(again)["changed"] == 0, printed(again)
    finally:
        passphrase.write_text(kept)
    # The first repository still opens with its own passphrase: the way back is a
    # rotation too, and the tests after this one find the site as it was.
    back = site.play()
    assert back.returncode == 0, printed(back)
    checked = site.pgbackrest("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shutil.rmtree(repository, ignore_errors=True)
