"""The migration logic behind alembic_migrate, against a real PostgreSQL."""

from __future__ import annotations

import re
import secrets
import socket
from concurrent.futures import ProcessPoolExecutor

import pytest
import sqlalchemy as sa

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
    MigrationRequest,
    migrate,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import build_url
from ansible_collections.backend_db.postgresql.plugins.module_utils.migration_locks import (
    ADVISORY_LOCK_KEY,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationError
from devtools import catalog
from devtools.paths import ROOT
from tests.helpers import (
    add_locale_revision,
    add_revision,
    head_revision,
    lineage,
    run,
    silent_server,
)

HEAD = head_revision()
# Every revision, base to head: what an upgrade from an empty database applies.
LINEAGE = lineage()


def test_upgrade_from_empty_applies_every_revision_and_reports_it(database):
    result = run(database)
    assert result.changed
    assert result.direction == "upgrade"
    assert result.before == []
    assert result.after == [HEAD]
    assert [step.revision for step in result.applied] == LINEAGE
    assert result.applied[0].message.startswith("initial schema")
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD


def test_second_run_is_a_no_op(database):
    run(database)
    second = run(database)
    assert not second.changed
    assert second.direction == "none"
    assert second.before == second.after == [HEAD]
    assert second.applied == []


def test_check_mode_reports_pending_revisions_and_writes_nothing(database):
    result = run(database, check_mode=True)
    assert result.changed
    assert [step.revision for step in result.pending] == LINEAGE
    assert result.applied == []
    assert database.scalar("SELECT count(*) FROM pg_class WHERE relname = 'alembic_version'") == 0
    assert catalog.rows(database.engine(), catalog.TABLES) == []


def test_check_mode_on_a_database_at_head_reports_no_change(database):
    run(database)
    assert not run(database, check_mode=True).changed


def test_render_sql_gives_the_statements_of_pending_revisions_only(database, scripts):
    sql = run(database, check_mode=True, render_sql=True).sql
    assert "CREATE TYPE user_status AS ENUM" in sql
    assert "CREATE TABLE requests" in sql
    run(database)
    add_locale_revision(scripts, "b1c2d3e4f5a6")
    sql = run(database, scripts, check_mode=True, render_sql=True).sql
    assert "ALTER TABLE users ADD COLUMN locale VARCHAR(10)" in sql
    assert "CREATE TABLE" not in sql
    assert run(database, scripts, render_sql=True).sql == sql


def test_a_new_revision_is_applied_alone_and_keeps_the_data(database, scripts):
    run(database)
    database.execute("INSERT INTO users (email) VALUES ('ada@example.com')")
    add_locale_revision(scripts, "b1c2d3e4f5a6")
    result = run(database, scripts)
    assert [step.revision for step in result.applied] == ["b1c2d3e4f5a6"]
    assert result.before == [HEAD] and result.after == ["b1c2d3e4f5a6"]
    assert database.scalar("SELECT email FROM users") == "ada@example.com"
    assert database.scalar("SELECT count(*) FROM users WHERE locale IS NULL") == 1


def test_downgrade_is_refused_unless_allowed(database):
    run(database)
    with pytest.raises(MigrationError, match="allow_downgrade: true") as error:
        run(database, revision="base")
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD
    assert_one_clean_sentence(str(error.value), database)
    result = run(database, revision="base", allow_downgrade=True)
    assert result.changed and result.after == []
    assert [step.revision for step in result.applied] == LINEAGE[::-1]


def test_a_short_revision_id_is_resolved_to_the_full_one(database):
    result = run(database, revision=HEAD[:6])
    assert result.target == HEAD and result.after == [HEAD]


# --- concurrency ---------------------------------------------------------------------


def _migrate_in_another_process(url: str, location: str, check_mode: bool) -> dict:
    request = MigrationRequest(
        script_location=location,
        url=sa.make_url(url),
        check_mode=check_mode,
        concurrent_run_timeout=60,
    )
    return migrate(request).as_dict()


@pytest.mark.parametrize("start_at_head", [False, True], ids=["empty", "one-behind"])
def test_concurrent_runs_apply_each_revision_exactly_once(database, scripts, start_at_head):
    if start_at_head:
        run(database)
    add_locale_revision(scripts, "b1c2d3e4f5a6")
    url = database.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(_migrate_in_another_process, url, str(scripts), False) for _ in range(8)
        ]
        results = [future.result() for future in futures]
    changed = [result for result in results if result["changed"]]
    assert len(changed) == 1
    expected = ["b1c2d3e4f5a6"] if start_at_head else [*LINEAGE, "b1c2d3e4f5a6"]
    assert [step["revision"] for step in changed[0]["applied"]] == expected
    assert all(result["after"] == ["b1c2d3e4f5a6"] for result in results)
    assert database.scalar("SELECT count(*) FROM alembic_version") == 1
    assert (
        database.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'locale'"
        )
        == 1
    )


def test_waiting_for_the_migration_lock_is_bounded(database):
    holder = database.engine()
    with holder.connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        connection.commit()
        with pytest.raises(MigrationError, match="held the migration lock for more than 1 seconds"):
            run(database, concurrent_run_timeout=1)
    holder.dispose()
    assert database.scalar("SELECT count(*) FROM pg_class WHERE relname = 'users'") == 0
    assert run(database).changed


# --- failures --------------------------------------------------------------------------


def assert_one_clean_sentence(message: str, database=None) -> None:
    assert "\n" not in message
    assert "Traceback" not in message
    assert message == message.strip() and message
    if database is not None:
        assert database.owner_password not in message


def test_a_revision_that_fails_late_leaves_nothing_behind_and_is_named(database, scripts):
    run(database)
    add_revision(
        scripts,
        "c0ffee000001",
        HEAD,
        "add audit table then fail",
        """
                 op.create_table('audit', sa.Column('id', sa.Integer, primary_key=True))
                 op.add_column('users', sa.Column('locale', sa.String(10)))
                 op.execute('SELECT 1/0')
                 """,
    )
    with pytest.raises(MigrationError) as error:
        run(database, scripts)
    message = str(error.value)
    assert "c0ffee000001" in message and "add audit table then fail" in message
    assert f"leaving the database at revision {HEAD}" in message
    assert "division by zero" in message
    assert_one_clean_sentence(message, database)
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD
    assert database.scalar("SELECT count(*) FROM pg_class WHERE relname = 'audit'") == 0
    assert (
        database.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'locale'"
        )
        == 0
    )


def test_earlier_revisions_stay_applied_when_a_later_one_fails(database, scripts):
    add_revision(scripts, "c0ffee000001", HEAD, "broken", "op.execute('SELECT 1/0')")
    with pytest.raises(MigrationError, match=f"leaving the database at revision {HEAD}"):
        run(database, scripts)
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD


def test_a_statement_waiting_on_a_table_lock_gives_up_after_its_attempts(database, scripts):
    run(database)
    add_locale_revision(scripts, "b1c2d3e4f5a6")
    blocker = database.engine()
    with blocker.connect() as connection:
        connection.execute(sa.text("LOCK TABLE users IN ACCESS SHARE MODE"))
        with pytest.raises(MigrationError, match="lock timeout") as error:
            run(database, scripts, lock_attempts=(0.5,))
        assert "b1c2d3e4f5a6" in str(error.value)
        assert "(0.5 seconds each waiting for a table lock" in str(error.value)
        assert "lengthen lock_attempts" in str(error.value)
        connection.rollback()
    blocker.dispose()
    assert run(database, scripts).changed


def _request(url, location="migrations", **options) -> MigrationRequest:
    return MigrationRequest(script_location=str(location), url=url, **options)


def error_of(request: MigrationRequest) -> str:
    with pytest.raises(MigrationError) as error:
        migrate(request)
    return str(error.value)


def test_unreachable_server(database):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    message = error_of(_request(database.url.set(port=port)))
    assert message.startswith(f"cannot connect to database {database.name} on 127.0.0.1:{port}")
    assert "refused" in message
    assert_one_clean_sentence(message, database)


def test_connecting_to_a_silent_server_times_out(database):
    server, port, accepted = silent_server()
    try:
        message = error_of(_request(database.url.set(port=port), connect_timeout=2))
        assert accepted, "the client never reached the silent server"
    finally:
        server.close()
    assert f"cannot connect to database {database.name} on 127.0.0.1:{port}" in message
    assert "timeout" in message
    assert_one_clean_sentence(message, database)


def test_wrong_password(database):
    message = error_of(_request(database.url.set(password="not-the-password")))
    assert "password authentication failed" in message
    assert "not-the-password" not in message
    assert_one_clean_sentence(message, database)


def test_unknown_database(database):
    message = error_of(_request(database.url.set(database="nosuchdb")))
    assert 'database "nosuchdb" does not exist' in message
    assert_one_clean_sentence(message, database)


def test_unknown_revision(database):
    message = error_of(_request(database.url, revision="feedfacecafe"))
    assert "revision 'feedfacecafe' is not one of the migration scripts" in message
    assert_one_clean_sentence(message, database)
    message = error_of(_request(database.url, revision="head; drop table users"))
    assert "is not a revision id" in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://owner:s3cret-pw@host:notaport/db",
        "not a url s3cret-pw",
        "postgresql://owner:s3cret-pw@localhost:5432",
        "mysql://owner:s3cret-pw@localhost/db",
    ],
)
def test_malformed_url(url):
    with pytest.raises(MigrationError) as error:
        build_url(url=url)
    assert "url option" in str(error.value)
    assert "s3cret-pw" not in str(error.value)
    assert_one_clean_sentence(str(error.value))


def test_a_password_with_an_unencoded_at_sign_is_refused_before_connecting(database):
    unencoded = database.url.render_as_string(hide_password=False).replace(
        f":{database.owner_password}@", ":p@ss-S3cret@"
    )
    with pytest.raises(MigrationError) as error:
        build_url(url=unencoded)
    message = str(error.value)
    assert message == (
        "the url option has more than one @ before its host, so part of the password would "
        "be taken for the host name; write an @ in the password as %40 (a : as %3A, a / as %2F)"
    )
    assert "S3cret" not in message
    encoded = unencoded.replace("p@ss-S3cret", "p%40ss-S3cret")
    assert build_url(url=encoded).password == "p@ss-S3cret"


def test_login_options_build_the_url():
    url = build_url(
        login_host="db.example",
        login_port=6543,
        login_user="backend_owner",
        login_password="pw",
        login_db="backend",
    )
    assert (url.host, url.port, url.username, url.database) == (
        "db.example",
        6543,
        "backend_owner",
        "backend",
    )
    socket_url = build_url(login_unix_socket="/run/postgresql", login_db="backend")
    assert socket_url.host is None and socket_url.query["host"] == "/run/postgresql"
    with pytest.raises(MigrationError, match="set login_db"):
        build_url(login_host="db.example")


def test_script_location_missing(database, tmp_path):
    message = error_of(_request(database.url, tmp_path / "nowhere"))
    assert "is not a directory" in message and str(tmp_path / "nowhere") in message
    assert_one_clean_sentence(message, database)


def test_script_location_without_env_py(database, scripts):
    (scripts / "env.py").unlink()
    message = error_of(_request(database.url, scripts))
    assert "has no env.py" in message
    assert_one_clean_sentence(message, database)


def test_broken_revision_file(database, scripts):
    (scripts / "versions" / "broken.py").write_text("revision = 'x'\ndef upgrade(:\n")
    message = error_of(_request(database.url, scripts))
    assert "cannot load the migration scripts" in message and "SyntaxError" in message
    assert_one_clean_sentence(message, database)
    assert catalog.rows(database.engine(), catalog.TABLES) == []


def test_database_ahead_of_the_code(database):
    run(database)
    database.execute("UPDATE alembic_version SET version_num = 'fromthefuture'")
    message = error_of(_request(database.url))
    assert "is at revision fromthefuture, which the migration scripts" in message
    assert "deploy the code that contains that revision" in message
    assert_one_clean_sentence(message, database)
    assert database.scalar("SELECT version_num FROM alembic_version") == "fromthefuture"


def test_multiple_heads(database, scripts):
    add_revision(scripts, "aaaa00000001", HEAD, "one branch", "pass")
    add_revision(scripts, "bbbb00000002", HEAD, "another branch", "pass")
    message = error_of(_request(database.url, scripts))
    assert "have 2 heads (aaaa00000001, bbbb00000002)" in message
    assert "alembic merge heads" in message
    assert_one_clean_sentence(message, database)
    assert catalog.rows(database.engine(), catalog.TABLES) == []


def test_results_carry_no_password(database):
    result = run(database, render_sql=True)
    assert database.owner_password not in repr(result.as_dict())


def test_module_utils_need_no_path_tricks():
    """The module ships plugins/module_utils/; each file must stand alone."""
    for path in (ROOT / "plugins/module_utils").glob("*.py"):
        source = path.read_text()
        assert "import models" not in source and "from tests" not in source, path.name


# --- the database's state is read, not guessed ----------------------------------------


@pytest.fixture
def reader(postgres, database):
    """A role that may connect to the database but has no USAGE on schema public."""
    name, password = f"reader_{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    admin = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {name} LOGIN PASSWORD %(pw)s", {"pw": password})
    database.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    yield database.url.set(username=name, password=password)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP ROLE {name}")
    admin.dispose()


def test_a_role_that_cannot_read_the_version_table_is_told_so_not_that_the_database_is_empty(
    database, reader
):
    run(database)
    for check_mode in (True, False):
        message = error_of(_request(reader, check_mode=check_mode))
        assert (
            f"{reader.username} cannot read public.alembic_version, which records the "
            "revision of database" in message
        ), message
        assert "grant it USAGE on schema public and SELECT on the table" in message
        assert_one_clean_sentence(message, database)
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD


def test_the_version_table_is_found_whatever_the_search_path(database, scripts):
    run(database)
    elsewhere = database.url.set(query={"options": "-csearch_path=nowhere"})
    result = run_url(elsewhere)
    assert (result.changed, result.before, result.pending) == (False, [HEAD], [])
    # With a revision pending, Alembic would create its objects off the search path.
    add_locale_revision(scripts, "5ea2c4000001")
    message = error_of(_request(elsewhere, scripts))
    assert "public.alembic_version is not in the search_path of" in message, message
    assert_one_clean_sentence(message, database)
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD
    assert database.scalar("SELECT to_regclass('public.users') IS NOT NULL") is True


def test_migrating_as_a_superuser_is_refused_with_the_reason(postgres, database):
    superuser = database.admin_url
    message = error_of(_request(superuser))
    assert message == (
        f"{superuser.username} is a superuser: what it migrates would belong to it, so the "
        "database's owner could not migrate it further and the runtime role could not use it; "
        "log in as the database's owner (or set allow_superuser: true for a scratch database)"
    )
    assert database.scalar("SELECT to_regclass('public.users') IS NULL") is True
    assert run_url(superuser, allow_superuser=True, check_mode=True).pending


def run_url(url, location="migrations", **options):
    return migrate(_request(url, location, **options))


def test_an_ambiguous_revision_prefix_is_named_with_its_candidates(database):
    message = error_of(_request(database.url, revision="3"))
    assert message == (
        "revision '3' is ambiguous: 33e97be2731d and 34d3f5866348 both start with it; "
        "give more of the id"
    )
    assert database.scalar("SELECT to_regclass('public.users') IS NULL") is True


@pytest.mark.parametrize(
    "inserted, said",
    [
        ("raise RuntimeError('settings missing')", "failed: RuntimeError: settings missing"),
        ("sys.exit(3)", "exited with status 3 instead of running the migrations"),
    ],
    ids=["raises", "exits"],
)
def test_an_env_py_that_fails_is_blamed_on_env_py(database, scripts, inserted, said):
    run(database)
    add_locale_revision(scripts, "e0f0e0000001")
    env = scripts / "env.py"
    env.write_text(
        env.read_text().replace(
            "config = context.config\n", f"config = context.config\n{inserted}\n"
        )
    )
    message = error_of(_request(database.url, scripts))
    assert message == f"env.py in {scripts} {said}; fix env.py", message
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD


def test_an_index_built_concurrently_and_an_invalid_leftover_of_a_failed_build(database, scripts):
    run(database)
    database.execute(
        "INSERT INTO users (email, display_name) VALUES ('a@x.io', 'dup'), ('b@x.io', 'dup')"
    )
    add_revision(
        scripts, "c0c0c0000001", HEAD, "index display names concurrently",
        """
        with op.get_context().autocommit_block():
            op.create_index("ux_users_display_name", "users", ["display_name"], unique=True,
                            postgresql_concurrently=True)
        """,
        downgrade="""
        with op.get_context().autocommit_block():
            op.drop_index("ux_users_display_name", table_name="users", postgresql_concurrently=True)
        """,
    )  # fmt: skip
    valid = (
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('ux_users_display_name')"
    )
    message = error_of(_request(database.url, scripts))
    assert "c0c0c0000001" in message and "could not create unique index" in message, message
    # PostgreSQL leaves a failed concurrent build behind as an INVALID index.
    assert database.scalar(valid) is False
    database.execute("UPDATE users SET display_name = email WHERE display_name = 'dup'")
    result = run(database, scripts)
    assert [step.revision for step in result.applied] == ["c0c0c0000001"]
    assert database.scalar(valid) is True
    assert run(database, scripts, revision=HEAD, allow_downgrade=True).changed
    assert database.scalar("SELECT to_regclass('ux_users_display_name') IS NULL") is True


def test_a_revision_that_reads_data_online_cannot_be_rendered_offline_and_still_applies(
    database, scripts
):
    """op.get_bind() has no connection offline: the lock analysis must not need one."""
    run(database)
    add_revision(
        scripts, "b1d000000001", HEAD, "add a column if users exist",
        """
        if op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar() >= 0:
            op.add_column("users", sa.Column("seen", sa.Boolean))
        """,
    )  # fmt: skip
    result = run(database, scripts)
    assert [step.revision for step in result.applied] == ["b1d000000001"]
    assert [attempt["outcome"] for attempt in result.attempts] == ["applied"]


def restore_points_allowed(database, allowed: bool) -> None:
    """EXECUTE on pg_create_restore_point for the owner, as the app_database role grants it."""
    verb = "GRANT" if allowed else "REVOKE"
    engine = database.engine(admin=True)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"{verb} EXECUTE ON FUNCTION pg_catalog.pg_create_restore_point(text) "
                f"{'TO' if allowed else 'FROM'} {database.url.username}"
            )
    finally:
        engine.dispose()


def test_a_restore_point_is_written_before_pending_revisions_and_only_then(database):
    restore_points_allowed(database, True)
    before = database.scalar("SELECT pg_current_wal_insert_lsn()::text")
    result = run(database, restore_point=True)
    point = result.as_dict()["restore_point"]
    assert re.fullmatch(rf"before-{LINEAGE[0]}-\d{{8}}T\d{{6}}Z", point["name"]), point
    assert point["time"] == point["name"].rsplit("-", 1)[1]
    # Written into the WAL before anything was applied, after the run began.
    compare = "SELECT CAST(:a AS pg_lsn) <= CAST(:b AS pg_lsn)"
    assert database.scalar(compare, a=before, b=point["lsn"])
    again = run(database, restore_point=True)
    assert not again.changed and "restore_point" not in again.as_dict()


def test_without_the_right_to_write_a_restore_point_nothing_is_applied(database):
    restore_points_allowed(database, False)
    with pytest.raises(MigrationError) as failure:
        run(database, restore_point=True)
    message = str(failure.value)
    assert message.startswith("cannot write the restore point before-")
    assert "nothing was applied" in message and "pg_create_restore_point(text)" in message
    assert database.scalar("SELECT to_regclass('public.alembic_version') IS NULL")
