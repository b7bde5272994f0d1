"""The day-two workflows of docs/operations.md, each run for real."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationError
from devtools.waits import run_bounded
from tests.helpers import (
    add_locale_revision,
    add_locale_to_the_model,
    add_revision,
    head_revision,
    run,
)

HEAD = head_revision()


def script(project, *args: str) -> subprocess.CompletedProcess:
    return run_bounded([sys.executable, *args], 300, cwd=project)


def with_a_user(database):
    run(database)
    database.execute("INSERT INTO users (email) VALUES ('ada@example.com')")
    return database


def test_add_a_column_end_to_end(project, make_database):
    staging, production = with_a_user(make_database()), with_a_user(make_database())
    location = project / "migrations"

    # 1. Change the model, 2. autogenerate the revision, 3. review it (lint + drift).
    add_locale_to_the_model(project)
    assert script(project, "scripts/new_revision.py", "add users locale").returncode == 0
    (new_file,) = (location / "versions").glob("*_add_users_locale.py")
    new = new_file.name.split("_")[1]
    checked = script(project, "scripts/check_migrations.py")
    assert checked.returncode == 0, checked.stderr

    # 4. Preview on staging: the pending revision and its SQL, nothing written.
    preview = run(staging, location, check_mode=True, render_sql=True)
    assert [step.revision for step in preview.pending] == [new]
    assert "ALTER TABLE users ADD COLUMN locale VARCHAR(10)" in preview.sql
    assert staging.scalar("SELECT version_num FROM alembic_version") == HEAD

    # 5. Apply to staging, then 6. to production: only the new revision, data kept.
    for environment in (staging, production):
        applied = run(environment, location)
        assert [step.revision for step in applied.applied] == [new]
        assert environment.scalar("SELECT email FROM users WHERE locale IS NULL") == (
            "ada@example.com"
        )
        assert not run(environment, location).changed


def test_roll_back_one_revision(database, scripts):
    with_a_user(database)
    add_locale_revision(scripts, "10ca1e000001")
    run(database, scripts)
    with pytest.raises(MigrationError, match="allow_downgrade: true"):
        run(database, scripts, revision=HEAD)
    rolled_back = run(database, scripts, revision=HEAD, allow_downgrade=True)
    assert rolled_back.direction == "downgrade"
    assert [step.revision for step in rolled_back.applied] == ["10ca1e000001"]
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD
    assert (
        database.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'locale'"
        )
        == 0
    )
    assert database.scalar("SELECT count(*) FROM users") == 1


def test_recover_from_a_failed_migration(database, scripts):
    with_a_user(database)
    # A NOT NULL column without a default fails on a table that has rows.
    path = add_revision(
        scripts,
        "7e1e00000001",
        HEAD,
        "add users tier",
        "op.add_column('users', sa.Column('tier', sa.Text(), nullable=False))",
    )
    with pytest.raises(MigrationError) as failure:
        run(database, scripts)
    assert "7e1e00000001" in str(failure.value) and "contains null values" in str(failure.value)
    assert database.scalar("SELECT version_num FROM alembic_version") == HEAD

    # Fix the revision (give the column a default) and run again.
    path.write_text(
        path.read_text().replace("nullable=False)", "nullable=False, server_default='free')")
    )
    fixed = run(database, scripts)
    assert [step.revision for step in fixed.applied] == ["7e1e00000001"]
    assert database.scalar("SELECT tier FROM users") == "free"
