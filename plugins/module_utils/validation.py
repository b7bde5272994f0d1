"""What the roles' variables may say: the checks they share, in plain Python.

Every variable that reaches a file, a command or SQL is checked by its type, its range
and its syntax before any change; each problem is one sentence that names the variable.
The checks of each role live beside this file (validation_postgresql.py,
validation_roles.py); the filter backend_db.postgresql.variable_errors runs a role's, and
the role's validation task joins the sentences into one message, so a run reports every
problem at once and changes nothing.
"""

from __future__ import annotations

import ipaddress
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.backend_db.postgresql.plugins.module_utils.secrets import (
    certificate_problem,
)

# A role or database name the templates write unquoted: an SQL identifier.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
# An operating-system user name as Debian's adduser accepts it.
OS_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
OS_USER_NAME = "operating-system user name"
# A host name (RFC 1123 labels).
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# A host name or an IP address (a certificate's subject alternative name).
HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$")
# An absolute path of plain characters, as the configuration files quote it.
PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
# A setting's name: a parameter, or an extension's class.parameter.
SETTING = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
LIBRARY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def early(context: dict) -> bool:
    """Whether a validation runs before the postgresql role ran (playbooks/server.yml's
    first check, context `early`), whose variables and the shared values that role names."""
    return boolean(context.get("early"), strict=False)


def shown(value: object) -> str:
    """A value as a message may show it: one line, control characters escaped."""
    text = value if isinstance(value, str) else repr(value)
    return CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def each_errors(variable: str, value: object, valid, kind: str, kinds: str) -> list[str]:
    """A list whose every item must be valid: `kind` names one item, `kinds` the list's."""
    if not isinstance(value, list):
        return [f"{variable} must be a list of {kinds}, not {shown(value)}"]
    return [
        f"{variable} has {shown(item)}, which is not {kind}" for item in value if not valid(item)
    ]


def name_errors(variable: str, value: object, pattern: re.Pattern, kind: str) -> list[str]:
    """A list of names, each matching `pattern`."""
    return each_errors(
        variable,
        value,
        lambda item: isinstance(item, str) and pattern.fullmatch(item) is not None,
        f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}",
        f"{kind}s",
    )


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
            for error in _control_characters(f"{variable}[{shown(key)}]", item)
        ]
    if isinstance(value, list):
        return [
            error
            for index, item in enumerate(value)
            for error in _control_characters(f"{variable}[{index}]", item)
        ]
    return []


def is_address(item: object) -> bool:
    if not isinstance(item, str):
        return False
    if item in ("*", "localhost"):
        return True
    try:
        ipaddress.ip_address(item)
    except ValueError:
        return HOST_NAME.fullmatch(item) is not None
    return True


def monitoring_address_errors(variable: str, value: object, reached: str) -> list[str]:
    """An address a metrics endpoint listens on for the monitoring network: empty (serve
    nothing), or one address of `reached` (such as "this host") - never "*"."""
    if value in ("", None) or (value != "*" and is_address(value)):
        return []
    return [
        f"{variable} must be the IP address or host name the monitoring network reaches"
        f" {reached} at, or empty, not {shown(value)}"
    ]


def is_ip(item: object) -> bool:
    try:
        ipaddress.ip_address(item)  # type: ignore[arg-type]
    except ValueError:
        return False
    return isinstance(item, str)


def is_network(item: object) -> bool:
    """A CIDR network with its host bits zero, such as 10.0.0.0/24."""
    if not isinstance(item, str) or "/" not in item:
        return False
    try:
        ipaddress.ip_network(item, strict=True)
    except ValueError:
        return False
    return True


def network_errors(variable: str, value: object) -> list[str]:
    """A list of CIDR networks, such as the client networks a pg_hba.conf admits."""
    return each_errors(
        variable, value, is_network, "a CIDR network such as 10.0.0.0/24 (host bits zero)",
        "CIDR networks such as [10.0.0.0/24]",
    )  # fmt: skip


def whole(value: object) -> int | None:
    """A whole number of 0 or more as an inventory may give it (an int, or its digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def positive(value: object) -> bool:
    """A number above zero, as an inventory may give it (an int, a float or their text)."""
    if isinstance(value, bool):
        return False
    try:
        return float(value) > 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def port_errors(variable: str, value: object) -> list[str]:
    number = whole(value)
    if number is None or not 1 <= number <= 65535:
        return [f"{variable} must be a port number from 1 to 65535, not {shown(value)}"]
    return []


def counts_errors(variables: dict, names: tuple, minimum: int = 1) -> list[str]:
    """Whole numbers of at least minimum (retention counts, seconds, processes)."""
    return [
        f"{name} must be a whole number of {minimum} or more, not {shown(variables.get(name))}"
        for name in names
        if whole(variables.get(name)) is None or whole(variables.get(name)) < minimum
    ]


def path_errors(variable: str, value: object) -> list[str]:
    if not isinstance(value, str) or not PATH.fullmatch(value) or ".." in value.split("/"):
        return [
            f"{variable} must be an absolute path of letters, digits and ._-/@+, not {shown(value)}"
        ]
    return []


def address_errors(variable: str, value: object) -> list[str]:
    if not is_address(value) or value == "*":
        return [f"{variable} must be an IP address or a host name, not {shown(value)}"]
    return []


def certificate_errors(variable: str, value: object) -> list[str]:
    """A certificate variable, when set: PEM certificates and nothing else (never a key)."""
    if not value:
        return []
    problem = certificate_problem(value)
    return [f"{variable} {problem}"] if problem else []


def control_errors(variables: dict, prefix: str, exempt: tuple = ()) -> list[str]:
    """Line breaks and control characters in every variable of a role but its PEM ones."""
    return [
        error
        for name, value in sorted(variables.items())
        if name.startswith(prefix) and name not in exempt
        for error in _control_characters(name, value)
    ]


def shared_errors(variables: dict) -> list[str]:
    """The shared role's values (backend_*), which every role reads: checked with each
    role's variables, whichever role runs first refuses a bad one."""
    v = variables
    errors = [
        error
        for name in ("backend_secrets_dir", "backend_ca_cert_path")
        for error in _control_characters(name, v.get(name))
    ]
    if not errors:
        errors += path_errors("backend_ca_cert_path", v.get("backend_ca_cert_path"))
    for name in (
        "backend_postgresql_port",
        "backend_patroni_restapi_port",
        "backend_pgbouncer_port",
    ):
        errors += port_errors(name, v.get(name))
    if str(v.get("backend_pgbouncer_port")) == str(v.get("backend_postgresql_port")):
        errors.append(
            "backend_pgbouncer_port must differ from backend_postgresql_port: PgBouncer and"
            " PostgreSQL listen on the same host"
        )
    # The roles a cluster's members use between them (the postgresql role admits them,
    # the patroni role creates them), and PgBouncer's lookup role.
    for name in ("backend_replication_user", "backend_rewind_user", "backend_pooler_user"):
        value = v.get(name)
        broken = _control_characters(name, value)
        if broken:
            errors += broken
        elif not isinstance(value, str) or not NAME.fullmatch(value) or value == "postgres":
            errors.append(f"{name} must be a role name other than postgres, not {shown(value)}")
    return errors
