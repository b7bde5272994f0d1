"""Secrets the roles handle, computed in plain Python so that pytest tests them alone.

- SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677, as PostgreSQL stores them in
  pg_authid.rolpassword): a password reaches PostgreSQL only as its verifier, made on
  the controller, so no statement text, log line or statistics view ever holds it; a
  verifier already in place that matches the password is kept as it is, so a re-run
  changes nothing.
- Fingerprints: a salted, slow hash of a secret read on a host (the repository
  passphrase in pgBackRest's configuration), so that the controller can tell whether
  the host depends on the same secret as the inventory without the secret travelling
  back in a module's result.
- PEM checks: whether a certificate variable holds a private key too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import UTC, datetime

SCRAM_ITERATIONS = 4096
SCRAM_SALT_BYTES = 16
SCRAM_PATTERN = re.compile(
    r"^SCRAM-SHA-256\$(?P<iterations>[0-9]+):(?P<salt>[A-Za-z0-9+/=]+)"
    r"\$(?P<stored>[A-Za-z0-9+/=]+):(?P<server>[A-Za-z0-9+/=]+)$"
)
FINGERPRINT_ITERATIONS = 100_000
PRIVATE_KEY_PATTERN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scram_verifier(
    password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL would store for the password.

    PostgreSQL prepares the password with SASLprep; a password of printable ASCII,
    such as every password the roles generate, is its own SASLprep form. Other
    passwords are refused by the roles' validation, so the verifier never differs
    from the server's own.
    """
    salt = os.urandom(SCRAM_SALT_BYTES) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def scram_matches(password: str, verifier: str | None) -> bool:
    """Whether the verifier (a pg_authid.rolpassword value) was made from the password."""
    match = SCRAM_PATTERN.match(verifier or "")
    if not match:
        return False
    try:
        salt = base64.b64decode(match["salt"], validate=True)
    except ValueError:
        return False
    expected = scram_verifier(password, salt, int(match["iterations"]))
    return hmac.compare_digest(expected, verifier)


def scram_verifier_for(password: str, current: str | None = None) -> str:
    """The verifier to set: the current one when it matches the password, else a new one."""
    return current if current and scram_matches(password, current) else scram_verifier(password)


def fingerprint(secret: str, salt: bytes | None = None) -> dict:
    """A salted PBKDF2 hash of a secret: enough to compare, too slow to search."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, FINGERPRINT_ITERATIONS)
    return {"salt": _b64(salt), "pbkdf2_sha256": digest.hex()}


def fingerprint_matches(secret: str, found: dict | None) -> bool:
    """Whether a fingerprint (from fingerprint()) was made from the secret."""
    if not found:
        return False
    try:
        salt = base64.b64decode(found["salt"], validate=True)
    except (KeyError, TypeError, ValueError):
        return False
    expected = fingerprint(secret, salt)["pbkdf2_sha256"]
    return hmac.compare_digest(expected, str(found.get("pbkdf2_sha256")))


def ini_value(text: str, key: str) -> str | None:
    """The value of the last `key=value` line of an INI-like text (pgBackRest's format)."""
    value = None
    for line in text.splitlines():
        name, sep, rest = line.partition("=")
        if sep and name.strip() == key:
            value = rest.strip()
    return value


def yaml_value(text: str, key: str) -> str | None:
    """The value at a dotted key (`etcd3.password`) of a YAML text (Patroni's settings).

    Raises ValueError when the text is not YAML."""
    if not text.strip():
        return None
    import yaml  # Only where such a file exists: Patroni's hosts have it (python3-yaml).

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"it is not YAML ({error.__class__.__name__})") from None
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def config_value(path: str, text: str, key: str) -> str | None:
    """A value of a configuration file: by dotted key in YAML (.yml, .yaml), else INI-like."""
    if path.endswith((".yml", ".yaml")):
        return yaml_value(text, key)
    return ini_value(text, key)


def fingerprint_dependents(keys: dict, found: dict, user: str) -> dict:
    """By secret variable, what depends on it: `user` when the host's file holds a value
    under the variable's key (`keys` maps variable to key; `found` holds host_snapshot's
    fingerprints by key), else an empty string."""
    return {variable: user if found.get(key) else "" for variable, key in keys.items()}


def replaced_fingerprints(values: dict, keys: dict, found: dict) -> list:
    """The secret variables whose value (`values`, by variable) is not the one the host's
    file holds under the variable's key; a key the file does not hold replaces nothing."""
    return sorted(
        variable
        for variable, key in keys.items()
        if found.get(key) and not fingerprint_matches(str(values[variable]), found[key])
    )


def holds_private_key(text: object) -> bool:
    """Whether a PEM text (a certificate variable) holds a private key too."""
    return isinstance(text, str) and PRIVATE_KEY_PATTERN.search(text) is not None


def login_dependents(logins: list, verifiers: dict, host: str) -> dict:
    """By password variable, what logs in with it: a role that has a password on the host.

    `logins` holds {variable, role} mappings; `verifiers` the roles' rolpassword values.
    A role without a password yet depends on nothing: an empty string.
    """
    return {
        login["variable"]: f"the role {login['role']} on {host}"
        if verifiers.get(login["role"])
        else ""
        for login in logins
    }


def replaced_logins(pairs: list, verifiers: dict, rotate: list) -> list:
    """The logins whose role has a password on the host that is not the given one.

    `pairs` holds ({variable, role}, password) pairs; roles named in `rotate` may
    change their password, so they are left out.
    """
    return [
        login
        for login, password in pairs
        if login["role"] not in rotate
        and verifiers.get(login["role"])
        and not scram_matches(str(password), verifiers[login["role"]])
    ]


# The attributes a role in place is compared on, by their name in CREATE ROLE and the
# pg_authid column that holds them.
ROLE_ATTRIBUTES = {
    "LOGIN": "rolcanlogin",
    "SUPERUSER": "rolsuper",
    "CREATEDB": "rolcreatedb",
    "CREATEROLE": "rolcreaterole",
    "REPLICATION": "rolreplication",
    "BYPASSRLS": "rolbypassrls",
    "INHERIT": "rolinherit",
}


def role_in_place(
    rows: list, name: str, password: str | None, flags: str, connection_limit: int | None = None
) -> bool:
    """Whether the role is in place as a task would leave it, so that the task need not run.

    `rows` are pg_authid rows (rolname, rolpassword and the attribute columns); `flags`
    the role's attributes as postgresql_user's role_attr_flags writes them (LOGIN,NOINHERIT);
    a connection limit of None is not compared. The password must match the verifier in
    place, which a changed, rotated or missing password does not; a password of None
    says the role has none (it logs in with a certificate), and then it must hold none.
    """
    row = next((row for row in rows if row.get("rolname") == name), None)
    if row is None:
        return False
    if password is None:
        if row.get("rolpassword"):
            return False
    elif not scram_matches(str(password), row.get("rolpassword")):
        return False
    for flag in filter(None, (part.strip().upper() for part in flags.split(","))):
        wanted = not flag.startswith("NO") or flag[2:] not in ROLE_ATTRIBUTES
        column = ROLE_ATTRIBUTES.get(flag if wanted else flag[2:])
        if column is None or column not in row or bool(row[column]) != wanted:
            return False
    return connection_limit is None or row.get("rolconnlimit") == int(connection_limit)


def certificate_problem(text: object) -> str:
    """Why a text is not one or more PEM certificates and nothing else ('' when it is)."""
    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text:
        return "is not a certificate in PEM form (-----BEGIN CERTIFICATE-----)"
    if holds_private_key(text):
        return "holds a private key, which must never be written where certificates go"
    if not _certificates(text):
        return "does not parse as a PEM certificate"
    return ""


def key_problem(certificate: str, key: str) -> str:
    """Why a CA's private key cannot sign for its certificate ('' when it can)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        public = x509.load_pem_x509_certificate(certificate.encode("ascii")).public_key()
    except (ValueError, UnicodeError):
        return "The CA certificate does not parse"
    try:
        private = serialization.load_pem_private_key(key.encode("ascii"), password=None)
    except TypeError:
        return "The CA private key is encrypted; give it decrypted (vault the variable instead)"
    except (ValueError, UnicodeError):
        return "The CA private key does not parse"
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(der, spki) != public.public_bytes(der, spki):
        return "The CA private key does not belong to the CA certificate"
    return ""


def _certificates(text: object) -> list:
    """The certificates of a PEM text, parsed ([] when it holds none that parse)."""
    from cryptography import x509

    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text:
        return []
    try:
        return x509.load_pem_x509_certificates(text.encode("ascii"))
    except (ValueError, UnicodeError):
        return []


def _extension(certificate, kind) -> object:
    """An extension's value, or None when the certificate has none of that kind."""
    from cryptography import x509

    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def certificate_common_name(text: object) -> str:
    """The common name of a PEM certificate's subject (the last, if it has several), or ''."""
    from cryptography.x509.oid import NameOID

    found = _certificates(text)
    names = found[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME) if found else []
    return str(names[-1].value) if names else ""


def certificate_alt_names(certificate) -> list:
    """A certificate's DNS names and IP addresses, as DNS:name and IP:address."""
    from cryptography import x509

    names = _extension(certificate, x509.SubjectAlternativeName)
    if names is None:
        return []
    return [f"DNS:{name}" for name in names.get_values_for_type(x509.DNSName)] + [
        f"IP:{address}" for address in names.get_values_for_type(x509.IPAddress)
    ]


def certificate_renewal(
    text: object, ca_text: object, names: list, renew_before_days: int, now: datetime | None = None
) -> str:
    """Why a server needs a new certificate from the project CA, '' when it needs none.

    text: the certificate in place (PEM; may be empty); ca_text: the project CA's
    certificate; names: the DNS:name and IP:address entries it must carry. Reasons: there
    is none (or it does not parse), the project CA did not issue it (its authority key
    identifier is not the CA's subject key identifier), it lacks names, or it expires
    within renew_before_days days."""
    from cryptography import x509

    found = _certificates(text)
    if not found:
        return "there is none"
    certificate = found[0]
    authority = _extension(certificate, x509.AuthorityKeyIdentifier)
    cas = _certificates(ca_text)
    subject = _extension(cas[0], x509.SubjectKeyIdentifier) if cas else None
    if (authority and authority.key_identifier) != (subject and subject.digest):
        return "the project CA did not issue it"
    if set(names) - set(certificate_alt_names(certificate)):
        return "it lacks names"
    now = now or datetime.now(UTC)
    if (certificate.not_valid_after_utc - now).days < int(renew_before_days):
        return f"it expires within {renew_before_days} days"
    return ""


def pem_bundle(first: object, more: object = ()) -> str:
    """PEM texts as one file's content: each trimmed, one per line group, in order.

    One certificate gives exactly itself, trimmed, as a CA file always held it.
    """
    texts = [first, *(more or [])]
    return "\n".join(str(text).strip() for text in texts if text and str(text).strip())
