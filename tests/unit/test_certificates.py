"""Why a server needs a new certificate from the project CA, judged on the controller.

The postgresql role signs a new certificate for a host when certificate_renewal names a
reason: none in place, another issuer, a name missing, or an expiry within
postgresql_ssl_renew_before_days. Each reason is made here with real certificates (the
cryptography library, as a CA would make them), and once through Jinja, as the role's
variable calls the filter.
"""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.backend_db.postgresql.plugins.module_utils.secrets import (
    certificate_common_name,
    certificate_renewal,
)

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)
NAMES = ["DNS:db1", "DNS:localhost", "IP:127.0.0.1", "IP:::1"]


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str = "backend-db CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def make_server(ca, names=NAMES, days: int = 825, common_name: str = "db1") -> str:
    ca_key, ca_certificate = ca
    key = ec.generate_private_key(ec.SECP256R1())
    alt = [
        x509.IPAddress(ipaddress.ip_address(entry[3:]))
        if entry.startswith("IP:")
        else x509.DNSName(entry[4:])
        for entry in names
    ]
    return pem(
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def test_a_good_certificate_needs_no_new_one(ca):
    assert certificate_renewal(make_server(ca), pem(ca[1]), NAMES, 30, NOW) == ""


@pytest.mark.parametrize(
    "text", ["", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
)
def test_no_certificate_or_one_that_does_not_parse_needs_a_new_one(ca, text):
    assert certificate_renewal(text, pem(ca[1]), NAMES, 30, NOW) == "there is none"


def test_a_certificate_another_ca_issued_needs_a_new_one(ca):
    other = make_server(make_ca("another CA"))
    assert (
        certificate_renewal(other, pem(ca[1]), NAMES, 30, NOW) == "the project CA did not issue it"
    )


def test_a_certificate_without_a_name_it_must_carry_needs_a_new_one(ca):
    fewer = make_server(ca, names=NAMES[:-1])
    assert certificate_renewal(fewer, pem(ca[1]), NAMES, 30, NOW) == "it lacks names"
    # More names than asked for are fine (an address the host no longer listens on).
    more = make_server(ca, names=[*NAMES, "DNS:old-name"])
    assert certificate_renewal(more, pem(ca[1]), NAMES, 30, NOW) == ""


def test_a_certificate_that_expires_within_the_days_given_needs_a_new_one(ca):
    soon = make_server(ca, days=20)
    assert certificate_renewal(soon, pem(ca[1]), NAMES, 30, NOW) == "it expires within 30 days"
    assert certificate_renewal(soon, pem(ca[1]), NAMES, 19, NOW) == ""


def test_the_roles_expression_names_the_reason(template, ca):
    """As roles/postgresql/vars/main.yml writes it (the filter, from Jinja)."""
    expression = "{{ pem | backend_db.postgresql.certificate_renewal(ca, names, days) }}"
    given = {"ca": pem(ca[1]), "names": NAMES, "days": "36500"}
    assert template(expression, given | {"pem": make_server(ca)}).startswith("it expires within")
    assert template(expression, given | {"pem": "", "days": 30}) == "there is none"


def test_the_common_name_is_the_subjects(ca):
    assert certificate_common_name(make_server(ca, common_name="db1.example")) == "db1.example"
    assert certificate_common_name(pem(ca[1])) == "backend-db CA"
    assert certificate_common_name("garbage") == ""
