"""What the postgresql role's variables may say, checked in Python before any change.

Every variable that reaches a file (postgresql.conf's drop-in, pg_hba.conf,
pg_ident.conf), a command or SQL is checked by its type, its range and its syntax;
each problem is one sentence that names the variable. The role's validation task
(roles/postgresql/tasks/validate.yml) joins them into one message, so a run reports
every problem at once and changes nothing.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.backend_db.postgresql.plugins.module_utils.secrets import (
    certificate_problem,
)

# A role or database name the templates write unquoted: an SQL identifier.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
# An operating-system user name as Debian's adduser accepts it.
OS_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# A host name (RFC 1123 labels).
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# An absolute path of plain characters, as the configuration files quote it.
PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
# A setting's name: a parameter, or an extension's class.parameter.
SETTING = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
LIBRARY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
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
PEM_VARIABLES = ("postgresql_ssl_certificate", "postgresql_ca_certificate")
PEM_LISTS = ("postgresql_ca_trusted_extra",)
SECRET_VARIABLES = ("postgresql_ssl_private_key", "postgresql_ca_private_key")


def _shown(value: object) -> str:
    """A value as a message may show it: one line, control characters escaped."""
    text = value if isinstance(value, str) else repr(value)
    return CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def _names(variable: str, value: object, pattern: re.Pattern, kind: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{variable} must be a list of {kind}s, not {_shown(value)}"]
    return [
        f"{variable} has {_shown(item)}, which is not {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
        for item in value
        if not isinstance(item, str) or not pattern.match(item)
    ]


def _control_characters(variable: str, value: object) -> list[str]:
    """Line breaks and other control characters anywhere in a value, even nested."""
    if isinstance(value, str):
        if CONTROL.search(value):
            return [
                f"{variable} holds a line break or another control character, no file takes one"
            ]
        return []
    if isinstance(value, dict):
        keys = [key for key in value if isinstance(key, str) and CONTROL.search(key)]
        if keys:
            return [f"{variable} has a name with a line break or another control character"]
        return [
            error
            for key, item in value.items()
            for error in _control_characters(f"{variable}[{_shown(key)}]", item)
        ]
    if isinstance(value, list):
        return [
            error
            for index, item in enumerate(value)
            for error in _control_characters(f"{variable}[{index}]", item)
        ]
    return []


def _address(item: object) -> bool:
    if not isinstance(item, str):
        return False
    if item in ("*", "localhost"):
        return True
    try:
        ipaddress.ip_address(item)
    except ValueError:
        return HOST_NAME.match(item) is not None
    return True


def settings_errors(settings: object) -> list[str]:
    if not isinstance(settings, dict):
        return [f"postgresql_settings must be a mapping of names to values, not {_shown(settings)}"]
    errors = []
    for name, value in settings.items():
        if not isinstance(name, str) or not SETTING.match(name):
            errors.append(
                f"postgresql_settings has {_shown(name)}, which is not a setting name such as"
                " statement_timeout"
            )
        elif name in OWNED_SETTINGS or name.startswith(OWNED_PREFIXES):
            errors.append(
                f"postgresql_settings may not set {name}, which the roles set themselves"
                " (use the role's own variable, if it has one)"
            )
        if not isinstance(value, (str, int, float, bool)):
            errors.append(
                f"postgresql_settings[{_shown(name)}] must be a string, a number or a boolean"
            )
    return errors


def postgresql_errors(variables: dict) -> list[str]:
    """Every problem with the postgresql role's variables that types cannot catch."""
    v = variables
    errors: list[str] = []
    for name, value in sorted(v.items()):
        if (
            name.startswith("postgresql_")
            and name not in PEM_VARIABLES + PEM_LISTS + SECRET_VARIABLES
        ):
            errors += _control_characters(name, value)
    errors += _names("postgresql_client_roles", v.get("postgresql_client_roles"), NAME, "role name")
    if "postgres" in (v.get("postgresql_client_roles") or []):
        errors.append(
            "postgresql_client_roles may not name postgres: the superuser never logs in over TCP"
        )
    errors += _names(
        "postgresql_client_databases", v.get("postgresql_client_databases"), NAME, "database name"
    )
    admins = v.get("postgresql_admin_os_users")
    errors += _names("postgresql_admin_os_users", admins, OS_USER, "operating-system user name")
    if isinstance(admins, list) and "root" not in admins:
        errors.append("postgresql_admin_os_users must include root, which the roles connect as")
    for name in ("postgresql_replication_user", "postgresql_rewind_user"):
        value = v.get(name)
        if not isinstance(value, str) or not NAME.match(value) or value == "postgres":
            errors.append(f"{name} must be a role name other than postgres, not {_shown(value)}")
    path = v.get("postgresql_ca_cert_path")
    if not isinstance(path, str) or not PATH.match(path) or ".." in path.split("/"):
        errors.append(
            f"postgresql_ca_cert_path must be an absolute path of letters, digits and ._-/@+,"
            f" not {_shown(path)}"
        )
    addresses = v.get("postgresql_listen_addresses")
    if not isinstance(addresses, list) or not addresses:
        errors.append(
            "postgresql_listen_addresses must be a list of addresses such as [localhost],"
            f" not {_shown(addresses)}"
        )
    else:
        errors += [
            f"postgresql_listen_addresses has {_shown(item)}, which is not *, localhost,"
            " an IP address or a host name"
            for item in addresses
            if not _address(item)
        ]
    errors += settings_errors(v.get("postgresql_settings"))
    libraries = v.get("postgresql_shared_preload_libraries")
    errors += _names("postgresql_shared_preload_libraries", libraries, LIBRARY, "library name")
    for name in PEM_VARIABLES:
        value = v.get(name) or ""
        if value and not isinstance(value, str):
            errors.append(f"{name} must be PEM text")
        elif "PRIVATE KEY-----" in value:
            errors.append(
                f"{name} holds a private key: give the key in the matching _private_key"
                " variable (vault it), never with the certificate"
            )
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
    return errors


def missing_libraries(libraries: list, installed: list) -> list:
    """The libraries named that the host's PostgreSQL does not have (by its lib directory)."""
    present = {path.rsplit("/", 1)[-1].removesuffix(".so") for path in installed}
    return [name for name in libraries if name not in present]
