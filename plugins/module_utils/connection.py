"""The options that say how alembic_migrate connects to PostgreSQL, each stated once.

Every entry is the option's argument spec and its documentation together:
argument_spec() gives the module its spec, documentation() the manual of the doc
fragment backend_db.postgresql.connection (plugins/doc_fragments/connection.py, which
scripts/write_doc_fragment.py writes from it: ansible-test reads a fragment's text
without running it, so the fragment holds the text itself), and
LOGIN_OPTIONS and TLS_OPTIONS name the groups that both ways of connecting take (the
head check's psycopg2 arguments, alembic_head_check.login_connect_args, and the full
check's SQLAlchemy URL, alembic_migration.build_url). The names and defaults are
community.postgresql's, so a play's connection settings carry over.
"""

from __future__ import annotations

OPTIONS: dict[str, dict] = {
    "url": {
        "type": "str",
        "no_log": True,
        "description": [
            "SQLAlchemy URL of the database, such as C(postgresql://user:password@host:5432/db).",
            "Mutually exclusive with the login_* options.",
        ],
    },
    "login_host": {
        "type": "str",
        "default": "",
        "aliases": ["host"],
        "description": "Host to connect to. Empty means the Unix socket.",
    },
    "login_port": {
        "type": "int",
        "default": 5432,
        "aliases": ["port"],
        "description": "Port to connect to.",
    },
    "login_user": {
        "type": "str",
        "description": "Role to connect as. Unset, libpq's default (the operating-system"
        " user's name).",
    },
    "login_password": {
        "type": "str",
        "default": "",
        "no_log": True,
        "description": "Password of O(login_user).",
    },
    "login_unix_socket": {
        "type": "str",
        "default": "",
        "description": "Directory of the Unix socket, used when O(login_host) is empty.",
    },
    "login_db": {
        "type": "str",
        "aliases": ["db"],
        "description": "Database to connect to. Required unless O(url) is given.",
    },
    "ssl_mode": {
        "type": "str",
        "choices": ["allow", "disable", "prefer", "require", "verify-ca", "verify-full"],
        "description": [
            "How the connection uses TLS (libpq's C(sslmode)). Unset, libpq's default,"
            " C(prefer), which accepts any server and falls back to plain text. Over a network"
            " use C(verify-full) with O(ca_cert); the migrations role does whenever it connects"
            " over TCP.",
            "With O(url), put C(sslmode) and the other keywords in its query string instead.",
        ],
    },
    "ca_cert": {
        "type": "path",
        "aliases": ["ssl_rootcert"],
        "description": "File of the certificate authorities the server's certificate must chain"
        " to (libpq's C(sslrootcert)), for O(ssl_mode) C(verify-ca) or C(verify-full).",
    },
    "ssl_cert": {
        "type": "path",
        "description": "Client certificate file (libpq's C(sslcert)), for C(cert) authentication.",
    },
    "ssl_key": {
        "type": "path",
        "description": "Private key file of O(ssl_cert) (libpq's C(sslkey)).",
    },
    "connect_params": {
        "type": "dict",
        "default": {},
        "description": "Further libpq connection keywords, such as C(target_session_attrs) or"
        " C(sslcrl); they win over the options above.",
    },
    "connect_timeout": {
        "type": "int",
        "default": 10,
        "description": "Seconds to wait for the connection to the server.",
    },
}

# The login_* options, and the ones that become libpq keywords (none goes with url).
LOGIN_OPTIONS = tuple(name for name in OPTIONS if name.startswith("login_"))
TLS_OPTIONS = ("ssl_mode", "ca_cert", "ssl_cert", "ssl_key", "connect_params")
# What AnsibleModule reads of an entry; the rest is documentation.
SPEC_KEYS = ("type", "default", "aliases", "choices", "no_log", "elements", "required")


def argument_spec() -> dict:
    """The connection options' part of the module's argument spec."""
    return {
        name: {key: value for key, value in entry.items() if key in SPEC_KEYS}
        for name, entry in OPTIONS.items()
    }


def documentation() -> dict:
    """The doc fragment's DOCUMENTATION, as the YAML it holds reads."""
    return {
        "options": {
            name: {key: value for key, value in entry.items() if key != "no_log"}
            for name, entry in OPTIONS.items()
        }
    }
