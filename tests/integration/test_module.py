"""alembic_migrate through Ansible itself: `ansible localhost -m alembic_migrate`."""

from __future__ import annotations

import os
import subprocess

import pytest
import sqlalchemy as sa
import yaml

from ansible_collections.backend_db.postgresql.plugins.module_utils.migrate_options import (
    DEFAULT_LOCK_ATTEMPTS,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationResult
from ansible_collections.backend_db.postgresql.plugins.modules import alembic_migrate
from devtools.paths import MIGRATIONS, ROOT
from devtools.pgserver import TemporaryPostgres
from devtools.waits import run_bounded
from scripts import write_doc_fragment
from tests.helpers import (
    BIN,
    documented_options,
    head_revision,
    lineage,
    module_manual,
    run_module,
)


def ansible(*module_args: str, extra: tuple[str, ...] = (), json_output: bool = True):
    return run_module("alembic_migrate", *module_args, extra=extra, json_output=json_output)


def url_arg(database) -> str:
    return f"url={database.url.render_as_string(hide_password=False)}"


def test_module_reports_changed_then_unchanged(database):
    first, result = ansible(f"script_location={MIGRATIONS}", url_arg(database))
    assert first.returncode == 0, first.stdout
    assert result["changed"] is True
    assert [step["revision"] for step in result["applied"]] == lineage()
    second, result = ansible(f"script_location={MIGRATIONS}", url_arg(database))
    assert second.returncode == 0
    assert result["changed"] is False
    assert result["applied"] == []


def test_module_login_options_connect_like_community_postgresql(database):
    url = database.url
    completed, result = ansible(
        f"script_location={MIGRATIONS}",
        f"login_host={url.host}",
        f"login_port={url.port}",
        f"login_user={url.username}",
        f"login_password={url.password}",
        f"login_db={url.database}",
    )
    assert completed.returncode == 0, completed.stdout
    assert result["changed"] is True


def test_module_check_mode_with_diff_shows_the_sql_and_changes_nothing(database):
    completed, result = ansible(
        f"script_location={MIGRATIONS}", url_arg(database), extra=("--check", "--diff")
    )
    assert completed.returncode == 0, completed.stdout
    assert result["changed"] is True
    assert "CREATE TABLE users" in result["diff"]["prepared"]
    assert database.scalar("SELECT count(*) FROM pg_class WHERE relname = 'users'") == 0


def test_module_failure_is_one_line_without_secret_even_at_vvv(database):
    wrong = database.url.set(password="wr0ng-Secret-9")
    completed, _ = ansible(
        f"script_location={MIGRATIONS}",
        f"url={wrong.render_as_string(hide_password=False)}",
        extra=("-vvv",),
        json_output=False,
    )
    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    assert "password authentication failed" in output
    assert "wr0ng-Secret-9" not in output
    assert "Traceback" not in output


def test_module_refuses_url_and_login_db_together(database):
    completed, result = ansible(
        f"script_location={MIGRATIONS}", url_arg(database), "login_db=backend"
    )
    assert completed.returncode != 0
    assert "mutually exclusive" in result["msg"]


def test_ansible_doc_is_the_manual():
    manual = module_manual("alembic_migrate")
    for word in (
        "script_location",
        "allow_downgrade",
        "concurrent_run_timeout",
        "EXAMPLES",
        "RETURN VALUES",
        "applied",
    ):
        assert word in manual


def alembic_by_hand(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The alembic command line, run from the repository root."""
    return run_bounded([str(BIN / "alembic"), *args], 120, cwd=ROOT, env=env)


def test_alembic_by_hand_from_the_repository_root_with_database_url(database):
    """The original design's workflow: DATABASE_URL set, `alembic upgrade head` in the root."""
    url = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = dict(os.environ, DATABASE_URL=url)
    upgraded = alembic_by_hand("upgrade", "head", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert database.scalar("SELECT version_num FROM alembic_version") == head_revision()
    assert head_revision() in alembic_by_hand("current", env=env).stdout


def test_alembic_by_hand_without_database_url_says_what_to_set():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    completed = alembic_by_hand("upgrade", "head", env=env)
    assert completed.returncode != 0
    assert "DATABASE_URL is not set" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_module_refuses_to_migrate_as_a_superuser_and_has_no_superuser_default(postgres, database):
    superuser = database.admin_url
    completed, result = ansible(
        f"script_location={MIGRATIONS}",
        f"login_host={superuser.host}", f"login_port={superuser.port}",
        f"login_user={superuser.username}", f"login_password={superuser.password}",
        f"login_db={superuser.database}",
    )  # fmt: skip
    assert completed.returncode != 0
    assert result["msg"].startswith(f"{superuser.username} is a superuser: what it migrates")
    assert database.scalar("SELECT to_regclass('public.users') IS NULL") is True
    assert "default" not in documented_options("alembic_migrate")["login_user"]


def test_the_module_reaches_a_local_host_through_a_pipe_never_as_a_file_with_its_arguments(
    database,
):
    """A module file on disk holds its arguments, password included, until the run
    cleans it up; a run killed mid-migration (SIGTERM, Ctrl-C) would leave it there.
    With pipelining, the local connection too hands the module over on stdin."""
    completed, _ = ansible(
        f"script_location={MIGRATIONS}", url_arg(database), extra=("-vvv",), json_output=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-2000:]
    assert "ESTABLISH LOCAL CONNECTION" in output
    assert "AnsiballZ_alembic_migrate.py" not in output
    assert " PUT " not in output


@pytest.mark.parametrize(
    "option, named",
    [
        ("connect_timeout=0", "connect_timeout must be a whole number of seconds from 1"),
        ("lock_attempts=nan", "lock_attempts must be a number of seconds from 0.001"),
        ("lock_attempts=0.1,inf", "lock_attempts must be a number of seconds from 0.001"),
        ("lock_attempts=1e10", "lock_attempts must be a number of seconds from 0.001"),
        ("lock_attempts=0.0001", "lock_attempts must be a number of seconds from 0.001"),
        ("lock_attempts=0.1,0", "lock_attempts must be a number of seconds from 0.001"),
        ("concurrent_run_timeout=-1", "concurrent_run_timeout must be a number of seconds"),
        ("statement_timeout=inf", "statement_timeout must be a number of seconds"),
        ("lock_hold_timeout=-1", "lock_hold_timeout must be a number of seconds"),
    ],
)
def test_module_refuses_numbers_that_cannot_work_in_one_sentence(database, option, named):
    completed, result = ansible(f"script_location={MIGRATIONS}", url_arg(database), option)
    assert completed.returncode != 0
    assert result["msg"].startswith(named), result["msg"]
    assert "\n" not in result["msg"] and "please report" not in result["msg"]
    assert database.scalar("SELECT to_regclass('public.alembic_version') IS NULL") is True


def test_ad_hoc_use_can_leave_the_password_out_of_the_arguments(database, monkeypatch):
    """ansible-core prints a failed ad-hoc task's arguments, no_log or not; libpq reads
    PGPASSWORD (or ~/.pgpass), so the password need not be among them."""
    monkeypatch.setenv("PGPASSWORD", database.owner_password)
    without = database.url.set(password=None).render_as_string(hide_password=False)
    completed, result = ansible(f"script_location={MIGRATIONS}", f"url={without}")
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert result["changed"] is True and result["after"] == [head_revision()]

    elsewhere = database.url.set(password=None, database="nosuchdb")
    completed, _ = ansible(
        f"script_location={MIGRATIONS}",
        f"url={elsewhere.render_as_string(hide_password=False)}",
        json_output=False,
    )
    assert completed.returncode != 0
    assert database.owner_password not in completed.stdout + completed.stderr


def test_the_default_lock_schedule_is_the_same_in_the_manual_the_spec_and_the_logic():
    # One table (module_utils/migrate_options.py) gives the manual, the spec and the
    # logic's default; the manual is its fragment's text, written from it.
    spec = alembic_migrate.argument_spec()
    documented = documented_options("alembic_migrate")["lock_attempts"]["default"]
    assert tuple(documented) == tuple(spec["lock_attempts"]["default"])
    assert tuple(documented) == DEFAULT_LOCK_ATTEMPTS


def test_the_manual_documents_every_option_of_the_spec_as_the_spec_has_it():
    # The connection options come from one place (module_utils/connection.py) into both.
    spec, documented = alembic_migrate.argument_spec(), documented_options("alembic_migrate")
    assert set(spec) == set(documented)
    for name, entry in spec.items():
        for key in ("type", "default", "choices", "aliases", "elements"):
            assert documented[name].get(key) == entry.get(key), (name, key)


def test_module_pointed_at_a_standby_fails_in_one_sentence_before_any_change():
    """A Patroni replica is a standby: the module says so instead of failing mid-way."""
    password = "standby-App-Secret-7"
    with TemporaryPostgres() as server:
        admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE ROLE standby_app LOGIN PASSWORD '{password}'")
            connection.exec_driver_sql("CREATE DATABASE standby_app OWNER standby_app")
        admin.dispose()
        server.make_standby()
        url = server.url(user="standby_app", password=password, database="standby_app")
        for check in ((), ("--check",)):
            completed, result = ansible(
                f"script_location={MIGRATIONS}",
                f"url={url.render_as_string(hide_password=False)}",
                extra=check,
            )
            assert completed.returncode != 0
            assert (
                "is a read-only standby (pg_is_in_recovery() is true): point the migration"
                in (result["msg"])
            )
            assert password not in completed.stdout + completed.stderr
            assert "Traceback" not in completed.stdout + completed.stderr


@pytest.mark.parametrize("fragment", sorted(write_doc_fragment.FRAGMENTS))
def test_each_doc_fragment_is_written_from_its_table_of_options(fragment):
    written = write_doc_fragment.path(fragment).read_text()
    assert written == write_doc_fragment.text(fragment), "run scripts/write_doc_fragment.py"


def test_the_manual_returns_what_the_result_holds():
    # plugins/module_utils/result.py builds every answer; RETURN documents each key.
    documented = yaml.safe_load(alembic_migrate.RETURN)
    full = MigrationResult(True, "up", [], ["x"], "x", sql="", restore_point={}).as_dict()
    assert set(full) - {"changed"} == set(documented)
