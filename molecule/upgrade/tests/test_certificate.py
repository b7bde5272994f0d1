"""Verification of the server's certificate: the project CA's, naming the host, and renewed
by a converge when near its expiry, then served after a reload (systemd's) without a
restart. Clients that verify it, and pg_hba.conf checked by PostgreSQL, are tested in
tests/site/test_access.py."""

from __future__ import annotations

import datetime
import os
import subprocess
from pathlib import Path

import testinfra
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools.container import MAJOR_BY_RELEASE, psql_query
from devtools.site import recap
from devtools.waits import printed, wait_for

testinfra_hosts = [f"podman://backend-db-upgrade-{release}" for release in (12, 13)]
CA = "/etc/backend-db/ca.crt"


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


def on(release: str):
    """The container of `release`, its PostgreSQL major, and psql as postgres in it: for the
    tests that converge, which run on one release only (the logic is the controller's, and
    the other release runs tests/site through pytest-other-release)."""
    host = testinfra.get_host(f"podman://backend-db-upgrade-{release}")
    return host, MAJOR_BY_RELEASE[release], psql_query(host)


def test_a_certificate_near_expiry_is_renewed_by_a_converge_and_served_after_a_reload(converge):
    host, major, query = on("13")
    name = host.backend.name
    directory = f"/etc/postgresql/{major}/main"
    key, certificate = short_lived_certificate(served_certificate(host))
    put(name, f"{directory}/server.key", key, "0600")
    put(name, f"{directory}/server.crt", certificate, "0644")
    host.run_expect([0], f"systemctl reload postgresql@{major}-main")
    started = query("SELECT pg_postmaster_start_time()")
    short = x509.load_pem_x509_certificate(certificate)
    # The reload is asynchronous.
    wait_for(
        lambda: served_certificate(host).serial_number == short.serial_number, 10,
        "the short-lived certificate served after the reload", 0.5,
    )  # fmt: skip

    result = converge(name)
    assert result.returncode == 0, printed(result)
    assert recap(result, name)["changed"] > 0
    renewed = served_certificate(host)
    assert renewed.serial_number != short.serial_number
    remaining = renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert remaining.days >= 300
    # Taken up with a reload: the server has not restarted.
    assert query("SELECT pg_postmaster_start_time()") == started
