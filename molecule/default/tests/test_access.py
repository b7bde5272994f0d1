"""Verification of access: the project CA's certificate, clients that verify it, its
renewal, pg_hba.conf checked by PostgreSQL, and memory settings from the host."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import testinfra
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.container import (
    MAJOR_BY_RELEASE,
    install_pgpass,
    molecule_playbook,
    psql_query,
    secret,
)
from tests.helpers import memory_settings_mb

testinfra_hosts = [f"podman://backend-db-default-{release}" for release in ("12", "13")]
CA = "/etc/backend-db/ca.crt"
# The roles whose passwords the tests give psql (all at once: each call replaces ~/.pgpass).
PGPASS = [("backend", "backend_app"), ("backend", "backend_monitor")]


@pytest.fixture(scope="module")
def psql(host):
    """psql over TCP inside the container as backend_app, with the given connection words."""
    install_pgpass(
        host.backend.name,
        [(database, user, secret(user)) for database, user in PGPASS],
    )

    def run(connection: str, sql: str = "SELECT 1"):
        dsn = f"port=5432 dbname=backend user=backend_app connect_timeout=5 {connection}"
        return host.run("psql -XAtq -v ON_ERROR_STOP=1 %s -c %s", dsn, sql)

    return run


def served_certificate(host) -> x509.Certificate:
    """The certificate the server presents on 127.0.0.1:5432 (TLS after PostgreSQL's request)."""
    result = host.run(
        "openssl s_client -starttls postgres -connect 127.0.0.1:5432 </dev/null 2>/dev/null"
        " | openssl x509"
    )
    assert result.rc == 0, result.stderr
    return x509.load_pem_x509_certificate(result.stdout.encode())


def test_the_server_certificate_is_the_project_cas_and_names_the_host(host, major):
    ca = x509.load_pem_x509_certificate(host.file(CA).content)
    served = served_certificate(host)
    assert served.issuer == ca.subject
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {host.backend.name, "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "::1"} <= {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    verified = host.run(f"openssl verify -CAfile {CA} /etc/postgresql/{major}/main/server.crt")
    assert verified.rc == 0, verified.stdout + verified.stderr


def test_verify_full_succeeds_and_a_client_expecting_another_name_fails(psql):
    verified = psql(f"host=127.0.0.1 sslmode=verify-full sslrootcert={CA}")
    assert verified.rc == 0, verified.stderr
    by_name = psql(f"host=localhost sslmode=verify-full sslrootcert={CA}")
    assert by_name.rc == 0, by_name.stderr
    other = psql(f"host=db.example.invalid hostaddr=127.0.0.1 sslmode=verify-full sslrootcert={CA}")
    assert other.rc != 0 and "does not match host name" in other.stderr, other.stderr


def test_a_plain_text_connection_is_refused(psql):
    plain = psql("host=127.0.0.1 sslmode=disable")
    assert plain.rc != 0 and "no encryption" in plain.stderr


def short_lived_certificate(like: x509.Certificate) -> tuple[bytes, bytes]:
    """A key and a certificate from the project CA with the subject and names of `like`,
    expiring in two days: wrong in nothing but its expiry."""
    ca_dir = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "ca"
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(like.subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            like.extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_key, certificate.public_bytes(serialization.Encoding.PEM)


def put(container: str, path: str, content: bytes, mode: str) -> None:
    """Write a file in the container through stdin, owned by postgres."""
    subprocess.run(
        ["podman", "exec", "-i", container, "sh", "-c",
         f"umask 077; cat > {path} && chown postgres:postgres {path} && chmod {mode} {path}"],
        input=content, check=True,
    )  # fmt: skip


def recap(output: str, name: str) -> dict[str, int]:
    match = re.search(rf"^{re.escape(name)}\s+:\s+(.*)$", output, re.M)
    assert match, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def on(release: str):
    """The container of `release`, its PostgreSQL major, and psql as postgres in it: for the
    tests that converge, which run on one release only (the logic is the controller's, and
    the other release runs it in tests/test_site.py through pytest-other-release)."""
    host = testinfra.get_host(f"podman://backend-db-default-{release}")
    return host, MAJOR_BY_RELEASE[release], psql_query(host)


def test_a_certificate_near_expiry_is_renewed_by_a_converge_and_served_after_a_reload():
    host, major, query = on("13")
    name = host.backend.name
    directory = f"/etc/postgresql/{major}/main"
    key, certificate = short_lived_certificate(served_certificate(host))
    put(name, f"{directory}/server.key", key, "0600")
    put(name, f"{directory}/server.crt", certificate, "0644")
    host.run_expect([0], f"systemctl reload postgresql@{major}-main")
    started = query("SELECT pg_postmaster_start_time()")
    short = x509.load_pem_x509_certificate(certificate)
    for _ in range(20):  # the reload is asynchronous
        if served_certificate(host).serial_number == short.serial_number:
            break
        time.sleep(0.5)
    assert served_certificate(host).serial_number == short.serial_number

    result = molecule_playbook("site.yml", "--limit", name, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert recap(result.stdout, name)["changed"] > 0
    renewed = served_certificate(host)
    assert renewed.serial_number != short.serial_number
    remaining = renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert remaining.days >= 300
    # Taken up with a reload: the server has not restarted.
    assert query("SELECT pg_postmaster_start_time()") == started


def test_a_pg_hba_line_postgresql_rejects_leaves_the_file_in_force():
    host, major, query = on("12")
    name = host.backend.name
    hba = f"/etc/postgresql/{major}/main/pg_hba.conf"
    before = host.file(hba).sha256sum
    entry = {
        "type": "hostssl", "database": "backend", "user": "backend_app",
        "address": "10.9.0.0/16", "method": "scram-sha-256", "options": "map=monitoring",
    }  # fmt: skip
    extra = json.dumps({"postgresql_hba_entries": [entry]})
    result = molecule_playbook("playbooks/server.yml", "--limit", name, "-e", extra, timeout=600)
    # The failure's message goes where Molecule's settings send failures (stdout or stderr).
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "PostgreSQL rejects pg_hba.conf line" in output and "map=monitoring" in output, output[
        -3000:
    ]
    assert "the previous file stays in force" in output
    assert host.file(hba).sha256sum == before
    assert query("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == [("0",)]
    assert host.run(f"ls {hba}.*").rc != 0, "a copy of the old file was left behind"


def test_the_monitoring_role_reads_pg_stat_statements_over_verified_tls_and_writes_nothing(host):
    install_pgpass(
        host.backend.name,
        [(database, user, secret(user)) for database, user in PGPASS],
    )
    dsn = (
        "host=localhost port=5432 dbname=backend user=backend_monitor"
        f" sslmode=verify-full sslrootcert={CA}"
    )

    def monitor(sql: str):
        return host.run("psql -XAtq -v ON_ERROR_STOP=1 %s -c %s", dsn, sql)

    loaded = monitor("SHOW shared_preload_libraries")
    assert loaded.rc == 0 and loaded.stdout.strip() == "pg_stat_statements", loaded.stderr
    # Statements of the owner role (the migration's), not only its own: pg_monitor's reach.
    seen = monitor(
        "SELECT count(*) > 0 FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
        " WHERE r.rolname = 'backend_owner'"
    )
    assert seen.rc == 0 and seen.stdout.strip() == "t", seen.stderr
    for sql in ("SELECT count(*) FROM users", "CREATE TABLE intruder (id int)"):
        refused = monitor(sql)
        assert refused.rc != 0 and "permission denied" in refused.stderr, (sql, refused.stderr)


def test_memory_settings_follow_the_containers_memory(host, query):
    memory = int(host.run("awk '/^MemTotal:/ {print $2}' /proc/meminfo").stdout) // 1024
    limit = host.run("cat /sys/fs/cgroup/memory.max").stdout.strip()
    memory = min(memory, int(limit) // 2**20) if limit.isdigit() else memory
    expected = memory_settings_mb(memory)
    rows = query(
        "SELECT name, pg_size_bytes(current_setting(name)) / 1048576 FROM unnest(ARRAY["
        + ",".join(f"'{name}'" for name in expected)
        + "]) name"
    )
    assert {name: int(value) for name, value in rows} == expected
