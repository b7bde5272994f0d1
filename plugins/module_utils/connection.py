"""How alembic_migrate connects to PostgreSQL: its options, and the connection itself.

The options are each stated once, in OPTIONS: every entry is the option's argument spec
and its documentation together. argument_spec() gives the module its spec,
documentation() the manual of the doc fragment backend_db.postgresql.connection
(plugins/doc_fragments/connection.py, which scripts/write_doc_fragment.py writes from
it: ansible-test reads a fragment's text without running it), and LOGIN_OPTIONS and
TLS_OPTIONS name the groups that both ways of connecting take. The names and defaults
are community.postgresql's, so a play's connection settings carry over.

Both ways of connecting are here too: the head check's psycopg2 arguments
(login_connect_args) and the full run's SQLAlchemy URL (build_url, connect), the libpq
keywords both take (libpq_options), the name both connect under (APPLICATION_NAME), and
what a failure says, with the password scrubbed (describe, scrub, reason). SQLAlchemy is
imported only inside the functions that need it: the head check, which answers most
runs, never loads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import URL

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


# --- the connection itself ----------------------------------------------------

# How the module's connections show in pg_stat_activity (both ways of connecting).
APPLICATION_NAME = "backend-db alembic_migrate"
MASK = "********"


# alembic_migrate's TLS options, by the libpq keyword each sets.
TLS_KEYWORDS = {
    "ssl_mode": "sslmode",
    "ca_cert": "sslrootcert",
    "ssl_cert": "sslcert",
    "ssl_key": "sslkey",
}


def libpq_options(
    ssl_mode: str | None = None,
    ca_cert: str | None = None,
    ssl_cert: str | None = None,
    ssl_key: str | None = None,
    connect_params: dict | None = None,
) -> dict[str, str]:
    """alembic_migrate's TLS options and connect_params as libpq keywords, unset ones left out.

    Both connections take them: login_connect_args, and build_url
    as the URL's query, which SQLAlchemy hands to psycopg2 as the same keywords.
    """
    given = {"ssl_mode": ssl_mode, "ca_cert": ca_cert, "ssl_cert": ssl_cert, "ssl_key": ssl_key}
    options = {
        TLS_KEYWORDS[name]: str(value) for name, value in given.items() if value not in (None, "")
    }
    options.update({str(name): str(value) for name, value in (connect_params or {}).items()})
    return options


def login_connect_args(
    login_host: str = "",
    login_port: int = 5432,
    login_user: str = "",
    login_password: str = "",
    login_unix_socket: str = "",
    login_db: str = "",
    options: dict[str, str] | None = None,
) -> dict[str, object]:
    """alembic_migrate's login_* options as psycopg2.connect arguments, unset ones left out.

    The same connection build_url describes to SQLAlchemy (a test
    keeps the two equal): the socket directory only when no host is given, and the
    libpq keywords of libpq_options.
    """
    args = {
        "host": login_host or login_unix_socket,
        "port": login_port,
        "user": login_user,
        "password": login_password,
        "dbname": login_db,
    }
    return {name: value for name, value in args.items() if value not in (None, "")} | dict(
        options or {}
    )


def build_url(
    url: str | None = None,
    login_host: str | None = None,
    login_port: int = 5432,
    login_user: str | None = None,
    login_password: str | None = None,
    login_unix_socket: str | None = None,
    login_db: str | None = None,
    options: dict[str, str] | None = None,
) -> URL:
    """The SQLAlchemy URL from either `url` or the community.postgresql login_* options.

    `options` are libpq keywords (sslmode, sslrootcert, ...) for the URL's query, which
    SQLAlchemy passes to psycopg2 as they are.
    """
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    if url:
        # Everything between :// and the first / after it: user, password, host, port.
        authority = url.partition("://")[2].partition("/")[0]
        if authority.count("@") > 1:
            # make_url would take the password's tail for the host, and connect there.
            raise MigrationError(
                "the url option has more than one @ before its host, so part of the password "
                "would be taken for the host name; write an @ in the password as %40 "
                "(a : as %3A, a / as %2F)"
            )
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            # The parser's own message quotes the URL, password and all.
            raise MigrationError(
                "the url option is not a valid SQLAlchemy URL; "
                "write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            ) from None
        if parsed.get_backend_name() != "postgresql":
            raise MigrationError(
                f"the url option names the {parsed.get_backend_name()!r} database, "
                "but alembic_migrate works with PostgreSQL only; use a postgresql:// URL"
            )
        if parsed.drivername not in ("postgresql", "postgresql+psycopg2"):
            raise MigrationError(
                f"the url option asks for the {parsed.get_driver_name()!r} driver, but only "
                "psycopg2 is installed; use postgresql:// or postgresql+psycopg2://"
            )
        if not parsed.database:
            raise MigrationError("the url option names no database; end it with /DATABASE")
        return parsed.set(drivername="postgresql+psycopg2").update_query_dict(dict(options or {}))
    if not login_db:
        raise MigrationError("no database to migrate: set login_db (or url)")
    query = dict(options or {})
    if login_unix_socket and not login_host:
        query["host"] = login_unix_socket
    return URL.create(
        "postgresql+psycopg2",
        username=login_user or None,
        password=login_password or None,
        host=login_host or None,
        port=login_port,
        database=login_db,
        query=query,
    )


def describe(url: URL) -> str:
    """Where a URL points, for messages: host, port, database and user, never the password."""
    host = url.host or url.query.get("host") or "the local socket"
    port = f":{url.port}" if url.port else ""
    user = f" as {url.username}" if url.username else ""
    return f"database {url.database} on {host}{port}{user}"


def scrub(text: str, url: URL | None) -> str:
    """One line of a driver or server message, with the password masked if it shows up."""
    text = " ".join(str(text).split())
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", text).strip()
    text = re.sub(r"^connection to server (at|on) .*? failed: ", "", text)
    text = text.replace("FATAL: ", "").replace("ERROR: ", "").strip()
    if url is not None and url.password:
        text = text.replace(str(url.password), MASK)
    return text


def reason(exc: BaseException, url: URL) -> str:
    """The operator-facing part of an exception: the server's words when there are some."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return scrub(
            str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__, url
        )
    text = str(exc) or type(exc).__name__
    return scrub(text.splitlines()[0], url)


# TCP keepalives, on both ends of the connection: a peer that vanished (a network
# partition, a host powered off) is noticed after about 5 + 2 * 3 seconds of silence.
KEEPALIVES = {"idle": 5, "interval": 2, "count": 3}


@contextmanager
def connect(url: URL, connect_timeout: int) -> Iterator[sa.Connection]:
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": connect_timeout,
            "application_name": APPLICATION_NAME,
            "keepalives": 1,
            **{f"keepalives_{name}": value for name, value in KEEPALIVES.items()},
        },
    )
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise connection_failure(url, exc) from None
        with connection:
            yield connection
    finally:
        engine.dispose()


def connection_failure(url: URL, error: BaseException) -> MigrationError:
    """What a failed connection says, the same from either of the module's paths."""
    return MigrationError(f"cannot connect to {describe(url)}: {reason(error, url)}")
