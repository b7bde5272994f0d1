"""What the postgresql role's variables may say, checked in Python before any change.

Every variable that reaches a file (postgresql.conf's drop-in, pg_hba.conf,
pg_ident.conf), a command or SQL: names, addresses, networks, pg_hba entries, settings
and certificates, with the shared checks of validation.py.
"""

from __future__ import annotations

import re

from ansible_collections.backend_db.postgresql.plugins.module_utils.secrets import (
    certificate_problem,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.validation import (
    HOST,
    LIBRARY,
    NAME,
    OS_USER,
    OS_USER_NAME,
    SETTING,
    certificate_errors,
    control_errors,
    each_errors,
    is_address,
    is_ip,
    is_network,
    name_errors,
    network_errors,
    path_errors,
    port_errors,
    shown,
    whole,
)

# Settings the roles write themselves, from variables of their own or as hardening:
# postgresql_settings may not set them (the drop-in would override or weaken them).
OWNED_SETTINGS = frozenset(
    {
        "listen_addresses",
        "port",
        "max_connections",
        "shared_buffers",
        "effective_cache_size",
        "work_mem",
        "maintenance_work_mem",
        "password_encryption",
        "log_connections",
        "log_disconnections",
        "log_statement",
        "log_line_prefix",
        "shared_preload_libraries",
        "hba_file",
        "ident_file",
        "config_file",
        "data_directory",
        "external_pid_file",
        "unix_socket_directories",
        "unix_socket_group",
        "unix_socket_permissions",
        "archive_mode",
        "archive_command",
        "archive_library",
        "archive_timeout",
        "restore_command",
        "primary_conninfo",
        "primary_slot_name",
        "include",
        "include_dir",
        "include_if_exists",
    }
)
OWNED_PREFIXES = ("ssl",)
# What a pg_hba entry of postgresql_hba_entries takes, and the methods of each type.
HBA_KEYS = ("type", "database", "user", "address", "method", "options")
HBA_METHODS = {
    "local": ("peer", "scram-sha-256", "reject"),
    "hostssl": ("scram-sha-256", "cert", "reject"),
}
# A database or role name (or keyword such as all or replication), +name for a role's members.
HBA_NAME = re.compile(r"^\+?[A-Za-z_][A-Za-z0-9_$]*$")
# A cluster's name, which names directories (/etc/postgresql/<major>/<cluster>).
CLUSTER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
# A memory size as postgresql.conf takes it unquoted.
MEMORY = re.compile(r"^[0-9]+(B|kB|MB|GB|TB)?$")
# A systemd unit and a Debian package, as the snapshot and apt take them.
UNIT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9@._:-]*$")
PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
# A path the snapshot reads, with the server's major as {version}.
READ_PATH = re.compile(r"^/[A-Za-z0-9._/@+{}-]*$")
PEM_VARIABLES = ("postgresql_ssl_certificate", "postgresql_ca_certificate")
PEM_LISTS = ("postgresql_ca_trusted_extra",)
SECRET_VARIABLES = ("postgresql_ssl_private_key", "postgresql_ca_private_key")


def _issuer_problem(certificate: str) -> str:
    """The CA that issued a certificate, when another did ('' when it signed itself)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    first = x509.load_pem_x509_certificates(certificate.encode("ascii"))[0]
    if first.issuer == first.subject:
        return ""
    names = first.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else "a CA"


def hba_entry_errors(where: str, entry: object, superuser_over_tcp: bool) -> list[str]:
    """One pg_hba entry of postgresql_hba_entries: every problem, one sentence each."""
    if not isinstance(entry, dict):
        return [f"{where} must be a mapping with type, database, user, address and method"]
    errors = []
    unknown = [key for key in entry if key not in HBA_KEYS]
    if unknown:
        errors.append(
            f"{where} has {', '.join(map(shown, unknown))}, which an entry does not take"
            f" (it takes {', '.join(HBA_KEYS)})"
        )
    kind, method = entry.get("type", ""), entry.get("method", "")
    methods = HBA_METHODS.get(kind, ()) if isinstance(kind, str) else ()
    if not methods:
        errors.append(
            f"{where} has type {shown(kind or '(none)')}, which must be local or hostssl"
            " (TCP without TLS is refused)"
        )
    elif method in ("trust", "password", "md5"):
        errors.append(
            f"{where} has method {method}, which the role never writes: use {' or '.join(methods)}"
        )
    elif method not in methods:
        errors.append(
            f"{where} has method {shown(method or '(none)')}, which must be"
            f" {' or '.join(methods)} for type {kind}"
        )
    names = {}
    for key in ("database", "user"):
        value = entry.get(key, [])
        names[key] = [value] if isinstance(value, str) else value
        if not isinstance(names[key], list):
            names[key] = [value]
    errors += [
        f"{where} has database or user {shown(name)}, which must be a role or database name"
        " (+name for members of a role), all or replication"
        for name in names["database"] + names["user"]
        if not isinstance(name, str) or not HBA_NAME.fullmatch(name)
    ]
    if not names["database"] or not names["user"]:
        errors.append(f"{where} must name a database and a user")
    if kind == "hostssl":
        if not is_network(entry.get("address")):
            errors.append(
                f"{where} has address {shown(entry.get('address', '(none)'))}, which must be"
                " a CIDR network such as 10.0.0.0/24 (host bits zero)"
            )
        if "postgres" in names["user"] and method != "reject" and not superuser_over_tcp:
            errors.append(
                f"{where} admits the postgres superuser over TCP, which the role refuses unless"
                " postgresql_unsafe_superuser_over_tcp is true"
            )
    elif "address" in entry:
        errors.append(f"{where} is a local (socket) entry and takes no address")
    if not isinstance(entry.get("options", ""), str):
        errors.append(
            f"{where} has options that are not one line of text such as clientcert=verify-full"
        )
    return errors


def _server_errors(v: dict) -> list[str]:
    """The server's release, cluster, sizes, and the names the snapshot and apt take."""
    errors = []
    version = v.get("postgresql_version")
    if version not in (None, "") and (whole(version) is None or not 10 <= whole(version) <= 99):
        errors.append(
            f"postgresql_version must be a PostgreSQL major such as 16, not {shown(version)}"
        )
    for name in ("postgresql_cluster", "postgresql_ha_cluster"):
        value = v.get(name)
        if (value or name == "postgresql_cluster") and not CLUSTER.fullmatch(str(value)):
            errors.append(
                f"{name} must be a cluster name of letters, digits, _ . and -, not {shown(value)}"
            )
    connections = whole(v.get("postgresql_max_connections"))
    if connections is None or not 1 <= connections <= 262143:
        errors.append(
            "postgresql_max_connections must be a whole number from 1 to 262143, not"
            f" {shown(v.get('postgresql_max_connections'))}"
        )
    for name in (
        "postgresql_shared_buffers",
        "postgresql_effective_cache_size",
        "postgresql_work_mem",
        "postgresql_maintenance_work_mem",
    ):
        value = v.get(name)
        if value not in (None, "") and not MEMORY.fullmatch(str(value)):
            errors.append(f"{name} must be a memory size such as 256MB, not {shown(value)}")
    addresses = v.get("postgresql_replication_addresses")
    if not isinstance(addresses, list) or not all(map(is_ip, addresses)):
        errors.append(
            "postgresql_replication_addresses must be a list of IP addresses (the cluster's"
            f" members), not {shown(addresses)}"
        )
    errors += name_errors("postgresql_ssl_names", v.get("postgresql_ssl_names"), HOST, "host name")
    # Paths the snapshot reads (never writes): {version} stands for the server's major.
    for paths in ("postgresql_snapshot_extra_paths", "postgresql_snapshot_extra_reads"):
        errors += name_errors(paths, v.get(paths), READ_PATH, "absolute path")
    errors += name_errors(
        "postgresql_snapshot_extra_services",
        v.get("postgresql_snapshot_extra_services"),
        UNIT,
        "systemd unit name",
    )
    for packages in ("postgresql_extra_packages", "postgresql_snapshot_extra_packages"):
        errors += name_errors(packages, v.get(packages), PACKAGE, "package name")
    return errors


def _server_certificate_errors(v: dict) -> list[str]:
    """How the certificate variables fit together: pairs, issuer, validity."""
    errors = []
    certificate, key = (
        v.get("postgresql_ssl_certificate") or "",
        v.get("postgresql_ssl_private_key") or "",
    )
    ca, ca_key = v.get("postgresql_ca_certificate") or "", v.get("postgresql_ca_private_key") or ""
    if bool(certificate) != bool(key):
        errors.append(
            "postgresql_ssl_certificate and postgresql_ssl_private_key are set together"
            " or not at all"
        )
    if ca_key and not ca:
        errors.append(
            "postgresql_ca_private_key needs postgresql_ca_certificate,"
            " the certificate of the same CA"
        )
    for name in PEM_VARIABLES:
        errors += certificate_errors(name, v.get(name))
    if not certificate and ca and not ca_key:
        errors.append(
            "postgresql_ca_certificate comes without postgresql_ca_private_key: give the CA"
            " its key, so that it can sign the server certificate, or supply the server"
            " certificate and key instead"
        )
    if certificate and not ca and not certificate_problem(certificate):
        issuer = _issuer_problem(certificate)
        if issuer:
            errors.append(
                f"postgresql_ssl_certificate was issued by {issuer}: set postgresql_ca_certificate"
                " to that CA certificate, so that clients can verify the server"
            )
    validity = whole(v.get("postgresql_ssl_validity_days"))
    renew = whole(v.get("postgresql_ssl_renew_before_days"))
    for name, days, least in (
        ("postgresql_ssl_validity_days", validity, 1),
        ("postgresql_ssl_renew_before_days", renew, 0),
    ):
        if days is None or days < least:
            errors.append(
                f"{name} must be a whole number of days, {least} or more, not {shown(v.get(name))}"
            )
    if validity is not None and renew is not None and renew >= validity:
        errors.append(
            f"postgresql_ssl_renew_before_days ({renew}) must be less than"
            f" postgresql_ssl_validity_days ({validity}), or every run would renew the certificate"
        )
    return errors


def settings_errors(settings: object) -> list[str]:
    if not isinstance(settings, dict):
        return [f"postgresql_settings must be a mapping of names to values, not {shown(settings)}"]
    errors = []
    for name, value in settings.items():
        if not isinstance(name, str) or not SETTING.fullmatch(name):
            errors.append(
                f"postgresql_settings has {shown(name)}, which is not a setting name such as"
                " statement_timeout"
            )
        elif name in OWNED_SETTINGS or name.startswith(OWNED_PREFIXES):
            errors.append(
                f"postgresql_settings may not set {name}, which the roles set themselves"
                " (use the role's own variable, if it has one)"
            )
        if not isinstance(value, (str, int, float, bool)):
            errors.append(
                f"postgresql_settings[{shown(name)}] must be a string, a number or a boolean"
            )
    return errors


def postgresql_errors(variables: dict, context: dict | None = None) -> list[str]:
    """Every problem with the postgresql role's variables that types cannot catch."""
    v = variables
    errors = control_errors(v, "postgresql_", PEM_VARIABLES + PEM_LISTS + SECRET_VARIABLES)
    errors += port_errors("postgresql_port", v.get("postgresql_port"))
    roles = v.get("postgresql_client_roles")
    errors += name_errors("postgresql_client_roles", roles, NAME, "role name")
    if "postgres" in (roles or []):
        errors.append(
            "postgresql_client_roles may not name postgres: the superuser never logs in over TCP"
        )
    errors += name_errors(
        "postgresql_client_databases", v.get("postgresql_client_databases"), NAME, "database name"
    )
    admins = v.get("postgresql_admin_os_users")
    errors += name_errors("postgresql_admin_os_users", admins, OS_USER, OS_USER_NAME)
    if isinstance(admins, list) and "root" not in admins:
        errors.append("postgresql_admin_os_users must include root, which the roles connect as")
    errors += path_errors("postgresql_ca_cert_path", v.get("postgresql_ca_cert_path"))
    addresses = v.get("postgresql_listen_addresses")
    errors += each_errors(
        "postgresql_listen_addresses", addresses if addresses != [] else "empty", is_address,
        "*, localhost, an IP address or a host name", "addresses such as [localhost]",
    )  # fmt: skip
    errors += network_errors("postgresql_client_networks", v.get("postgresql_client_networks"))
    entries = v.get("postgresql_hba_entries")
    if not isinstance(entries, list):
        errors.append(
            "postgresql_hba_entries must be a list of entries such as {type: hostssl,"
            " database: backend, user: monitor, address: 10.0.0.0/24, method: scram-sha-256}"
        )
    else:
        superuser = v.get("postgresql_unsafe_superuser_over_tcp") is True
        for index, entry in enumerate(entries):
            errors += hba_entry_errors(f"postgresql_hba_entries[{index}]", entry, superuser)
    errors += settings_errors(v.get("postgresql_settings"))
    libraries = v.get("postgresql_shared_preload_libraries")
    errors += name_errors("postgresql_shared_preload_libraries", libraries, LIBRARY, "library name")
    for name in PEM_LISTS:
        value = v.get(name) or []
        if not isinstance(value, list):
            errors.append(f"{name} must be a list of CA certificates in PEM form")
            continue
        errors += [
            f"{name}[{index}] {problem}"
            for index, problem in enumerate(map(certificate_problem, value))
            if problem
        ]
    for name in SECRET_VARIABLES:
        value = v.get(name) or ""
        if value and (not isinstance(value, str) or "PRIVATE KEY-----" not in value):
            errors.append(
                f"{name} must be a private key in PEM form (-----BEGIN ... PRIVATE KEY-----)"
            )
    return errors + _server_errors(v) + _server_certificate_errors(v)


def missing_libraries(libraries: list, installed: list) -> list:
    """The libraries named that the host's PostgreSQL does not have (by its lib directory)."""
    present = {path.rsplit("/", 1)[-1].removesuffix(".so") for path in installed}
    return [name for name in libraries if name not in present]
