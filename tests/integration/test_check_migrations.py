"""The migration checks `make test` runs, and `make revision`, on a copy of the project."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.waits import run_bounded
from tests.helpers import add_locale_to_the_model, add_revision, head_revision

HEAD = head_revision()


def run_script(project: Path, *args: str) -> subprocess.CompletedProcess:
    return run_bounded([sys.executable, *args], 300, cwd=project)


def test_the_projects_own_migrations_pass(project):
    result = run_script(project, "scripts/check_migrations.py")
    assert result.returncode == 0, result.stderr
    assert "one head" in result.stdout


def test_a_model_change_without_a_revision_fails_with_the_fixing_command(project):
    add_locale_to_the_model(project)
    result = run_script(project, "scripts/check_migrations.py")
    assert result.returncode == 1
    assert "the models and the migrations disagree" in result.stderr
    assert "locale" in result.stderr
    assert 'make revision MESSAGE="what changed"' in result.stderr
    assert "Traceback" not in result.stderr


def test_two_heads_fail_with_the_merge_command(project):
    add_revision(project / "migrations", "aaaa00000001", HEAD, "one branch", "pass")
    add_revision(project / "migrations", "bbbb00000002", HEAD, "another branch", "pass")
    result = run_script(project, "scripts/check_migrations.py")
    assert result.returncode == 1
    assert "2 heads (aaaa00000001, bbbb00000002)" in result.stderr
    assert "alembic merge heads" in result.stderr


@pytest.mark.parametrize(
    "operation, rule",
    [
        (
            "op.add_column('users', sa.Column('tier', sa.Text(), nullable=False))",
            "adding-required-field",
        ),
        ("op.alter_column('users', 'display_name', type_=sa.Text())", "changing-column-type"),
        (
            "op.create_index('ix_users_display_name', 'users', ['display_name'])",
            "require-concurrent-index-creation",
        ),
        (
            "op.alter_column('users', 'display_name', new_column_name='full_name')",
            "renaming-column",
        ),
        ("op.rename_table('policies', 'rules')", "renaming-table"),
    ],
)
def test_dangerous_operations_are_flagged_until_acknowledged(project, operation, rule):
    path = add_revision(project / "migrations", "d4a9e0000001", HEAD, "risky change", operation)
    flagged = run_script(project, "scripts/check_migrations.py")
    assert flagged.returncode == 1
    assert "revision d4a9e0000001" in flagged.stderr and rule in flagged.stderr
    assert f'squawk_exclude = ["{rule}"]' in flagged.stderr

    path.write_text(path.read_text() + f'\nsquawk_exclude = ["{rule}"]  # intended\n')
    acknowledged = run_script(project, "scripts/check_migrations.py")
    assert rule not in acknowledged.stderr


def test_make_revision_autogenerates_a_reviewed_ready_file_against_a_throwaway_database(project):
    add_locale_to_the_model(project)
    made = run_script(project, "scripts/new_revision.py", "add users locale")
    assert made.returncode == 0, made.stderr
    (created,) = [
        p
        for p in (project / "migrations" / "versions").glob("*.py")
        if "add_users_locale" in p.name
    ]
    assert re.fullmatch(r"\d{8}_[0-9a-f]{12}_add_users_locale\.py", created.name)
    source = created.read_text()
    assert 'op.add_column("users", sa.Column("locale"' in source
    assert 'op.drop_column("users", "locale")' in source
    assert f'down_revision: str | Sequence[str] | None = "{HEAD}"' in source

    checked = run_script(project, "scripts/check_migrations.py")
    assert checked.returncode == 0, checked.stderr
    passes_the_linters(project, created)


def passes_the_linters(project: Path, created: Path) -> None:
    """What `make lint` runs on a revision, with the project's ruff settings."""
    for command in (["check"], ["format", "--check"]):
        linted = run_script(project, "-m", "ruff", *command, str(created))
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_an_empty_revision_passes_the_linters_as_written(project):
    made = run_script(project, "scripts/new_revision.py", "a data fix written by hand")
    assert made.returncode == 0, made.stderr
    (created,) = (project / "migrations" / "versions").glob("*_a_data_fix_written_by_hand.py")
    source = created.read_text()
    # Nothing to do yet: the models did not change.
    assert "op." not in source.split("def upgrade")[1], source
    passes_the_linters(project, created)


def test_make_revision_without_a_message_says_how_to_call_it(project):
    result = run_script(project, "scripts/new_revision.py")
    assert result.returncode == 2
    assert 'make revision MESSAGE="' in result.stderr


def test_a_data_change_in_the_transaction_that_holds_ddl_locks_is_flagged_until_acknowledged(
    project,
):
    revision = add_revision(
        project / "migrations", "da7a00000001", HEAD, "add and fill users locale",
        "op.add_column('users', sa.Column('locale', sa.String(10)))\n"
        "op.execute(\"UPDATE users SET locale = 'en'\")",
        "op.drop_column('users', 'locale')",
    )  # fmt: skip
    result = run_script(project, "scripts/check_migrations.py")
    assert result.returncode == 1, result.stdout
    assert (
        "revision da7a00000001 (da7a00000001_add_and_fill_users_locale.py): it changes data"
        " (UPDATE users) in the"
        " transaction that holds its DDL locks on users"
    ) in result.stderr, result.stderr
    assert "migrations.online.backfill_in_batches" in result.stderr
    revision.write_text(revision.read_text() + '\ndata_in_ddl_transaction = "a test"\n')
    assert "it changes data" not in run_script(project, "scripts/check_migrations.py").stderr
