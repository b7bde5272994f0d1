"""The no-op fast path of alembic_migrate: the head read from source, the record with psycopg2."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_head_check import (
    CannotConnect,
    recorded_head,
    single_head,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import (
    build_url,
    libpq_options,
    login_connect_args,
)
from devtools.paths import MIGRATIONS
from tests.helpers import (
    add_locale_revision,
    add_revision,
    documented_options,
    head_revision,
    run,
    run_module,
    silent_server,
)


@pytest.fixture
def scripts(tmp_path) -> Path:
    """A copy of the project's migration scripts that a test may change."""
    return Path(shutil.copytree(MIGRATIONS, tmp_path / "migrations"))


def connect_args(database) -> dict[str, object]:
    url = database.url
    return {
        "host": url.host, "port": url.port, "user": url.username, "password": url.password,
        "dbname": url.database, "connect_timeout": 5,
    }  # fmt: skip


def login_options(database) -> list[str]:
    url = database.url
    return [
        f"login_host={url.host}", f"login_port={url.port}", f"login_user={url.username}",
        f"login_password={url.password}", f"login_db={url.database}",
    ]  # fmt: skip


def documented_login_options() -> set[str]:
    return {name for name in documented_options("alembic_migrate") if name.startswith("login_")}


TLS = {
    "ssl_mode": "verify-full", "ca_cert": "/etc/backend-db/ca.crt", "ssl_cert": "/root/client.crt",
    "ssl_key": "/root/client.key", "connect_params": {"target_session_attrs": "read-write"},
}  # fmt: skip


@pytest.mark.parametrize(
    "login, tls",
    [
        ({"login_host": "db.example", "login_port": 6543, "login_user": "owner",
          "login_password": "secret", "login_unix_socket": "/run/pg", "login_db": "backend"}, TLS),
        ({"login_host": "", "login_port": 5432, "login_user": "postgres",
          "login_password": "", "login_unix_socket": "/var/run/postgresql", "login_db": "backend"},
         dict.fromkeys(TLS)),
    ],
    ids=["tcp", "socket"],
)  # fmt: skip
def test_the_head_check_connects_where_the_full_check_does(login, tls):
    # Every login_* and TLS option of the module is mapped by both; one added to the
    # module and to only one mapping fails here.
    assert set(login) == documented_login_options()
    assert set(tls) <= set(documented_options("alembic_migrate"))
    options = libpq_options(**tls)
    url = build_url(**login, options=options)
    _, sqlalchemy_connect_args = PGDialect_psycopg2().create_connect_args(url)
    assert login_connect_args(**login, options=options) == sqlalchemy_connect_args


def test_the_tls_options_are_libpqs_keywords():
    assert libpq_options(**TLS) == {
        "sslmode": "verify-full", "sslrootcert": "/etc/backend-db/ca.crt",
        "sslcert": "/root/client.crt", "sslkey": "/root/client.key",
        "target_session_attrs": "read-write",
    }  # fmt: skip
    assert libpq_options() == {}


def test_the_head_read_from_source_is_alembics_head(scripts):
    assert single_head(str(MIGRATIONS)) == head_revision()
    add_locale_revision(scripts)
    assert single_head(str(scripts)) == head_revision(scripts) == "b1c2d3e4f5a6"


@pytest.mark.parametrize(
    "change",
    [
        "two heads",
        "branch label",
        "dependency",
        "computed revision id",
        "syntax error",
        "unknown parent",
        "no env.py",
    ],
)
def test_anything_unusual_leaves_the_decision_to_alembic(scripts, change):
    head = head_revision(scripts)
    if change == "two heads":
        add_revision(scripts, "aaaaaaaaaaaa", head, "one side", "pass")
        add_revision(scripts, "bbbbbbbbbbbb", head, "other side", "pass")
    elif change in ("branch label", "dependency", "computed revision id"):
        path = add_locale_revision(scripts)
        old, new = {
            "branch label": ("branch_labels = None", "branch_labels = ('locale',)"),
            "dependency": ("depends_on = None", f"depends_on = {head!r}"),
            "computed revision id": ("revision = 'b1c2d3e4f5a6'", "revision = 'b1c2' + 'd3e4f5a6'"),
        }[change]
        path.write_text(path.read_text().replace(old, new))
    elif change == "syntax error":
        add_locale_revision(scripts).write_text("revision = 'b1c2d3e4f5a6'\ndef upgrade(:\n")
    elif change == "unknown parent":
        add_locale_revision(scripts, down_revision="ffffffffffff")
    else:
        (scripts / "env.py").unlink()
    assert single_head(str(scripts)) is None


def test_recorded_head_only_when_the_database_records_exactly_the_head(database, scripts):
    assert recorded_head(str(MIGRATIONS), **connect_args(database)) is None  # no alembic_version
    run(database)
    assert recorded_head(str(MIGRATIONS), **connect_args(database)) == head_revision()
    add_locale_revision(scripts)
    assert recorded_head(str(scripts), **connect_args(database)) is None  # one behind
    # A failed connection is not "unsure": the usual path would fail the same way.
    wrong = dict(connect_args(database), password="not-the-password")
    with pytest.raises(CannotConnect, match="password authentication failed"):
        recorded_head(str(MIGRATIONS), **wrong)


def test_module_no_op_answer_matches_the_full_check(database):
    run(database)
    completed, fast = run_module(
        "alembic_migrate", f"script_location={MIGRATIONS}", *login_options(database)
    )
    assert completed.returncode == 0, completed.stdout
    full = run(database).as_dict()
    for result in (fast, full):
        result.pop("elapsed")
    assert {key: fast[key] for key in full} == full


def test_module_no_op_run_does_not_import_alembic(database, tmp_path, monkeypatch):
    run(database)
    # An alembic that cannot be imported: only a run that avoids it succeeds.
    (tmp_path / "alembic").mkdir()
    (tmp_path / "alembic" / "__init__.py").write_text("raise ImportError('no alembic here')\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    completed, result = run_module(
        "alembic_migrate", f"script_location={MIGRATIONS}", *login_options(database)
    )
    assert completed.returncode == 0, completed.stdout
    assert result["changed"] is False and result["before"] == [head_revision()]
    # A run with something to do needs Alembic, and says so.
    completed, result = run_module(
        "alembic_migrate", "revision=base", "allow_downgrade=true",
        f"script_location={MIGRATIONS}", *login_options(database),
    )  # fmt: skip
    assert completed.returncode != 0
    assert "alembic" in result["msg"]


@pytest.mark.parametrize(
    "damage", ["env.py with a syntax error", "a revision importing a missing module"]
)
def test_both_paths_refuse_scripts_the_full_path_cannot_load(database, scripts, damage):
    run(database)  # at head, with the intact scripts
    if damage.startswith("env.py"):
        env = scripts / "env.py"
        env.write_text(env.read_text() + "\ndef broken(:\n")
    else:
        (initial,) = (scripts / "versions").glob("*_34d3f5866348_*.py")
        initial.write_text("import backend_db_no_such_module\n" + initial.read_text())
    url = database.url.render_as_string(hide_password=False)
    answers = [
        run_module("alembic_migrate", f"script_location={scripts}", *options)
        for options in (login_options(database), [f"url={url}"])
    ]
    (login, login_result), (by_url, url_result) = answers
    assert login.returncode != 0 and by_url.returncode != 0, login_result
    assert login_result["msg"] == url_result["msg"]
    assert login_result["msg"].startswith(f"cannot load the migration scripts in {scripts}")


def test_an_unreachable_server_costs_one_connect_timeout_on_either_path(database):
    server, port, accepted = silent_server()
    try:
        attempts, messages = [], []
        for options in (
            ["login_host=127.0.0.1", f"login_port={port}", f"login_user={database.url.username}",
             f"login_db={database.name}"],
            [f"url={database.url.set(port=port).render_as_string(hide_password=False)}"],
        ):  # fmt: skip
            before = len(accepted)
            completed, result = run_module(
                "alembic_migrate", f"script_location={MIGRATIONS}", "connect_timeout=2", *options
            )
            assert completed.returncode != 0
            messages.append(result["msg"])
            attempts.append(len(accepted) - before)
    finally:
        server.close()
    assert messages[0] == messages[1], messages
    assert messages[0].startswith(f"cannot connect to database {database.name} on 127.0.0.1:{port}")
    # One connection each, so one connect timeout: the head check's failure is the answer,
    # not a reason to try again by the full check's path. (Counted, not timed: a timing
    # failed here when the machine was busy.)
    assert attempts == [1, 1], attempts
