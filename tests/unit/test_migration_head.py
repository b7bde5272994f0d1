"""The migration_head filter: the head a release's scripts reach, read on the controller,
which the migrations role compares with the server's record before it calls its module."""

from __future__ import annotations

import shutil

from devtools.paths import MIGRATIONS
from tests.helpers import add_revision, head_revision

EXPRESSION = "{{ scripts | backend_db.postgresql.migration_head }}"


def test_the_head_is_the_one_alembic_names(template, tmp_path):
    assert template(EXPRESSION, {"scripts": str(MIGRATIONS)}) == head_revision()
    scripts = shutil.copytree(MIGRATIONS, tmp_path / "migrations")
    add_revision(scripts, "c0ffee000001", head_revision(scripts), "one more", "pass")
    head = template(EXPRESSION, {"scripts": str(scripts)})
    assert head == "c0ffee000001" == head_revision(scripts)


def test_a_head_it_cannot_be_sure_of_is_empty(template, tmp_path):
    scripts = shutil.copytree(MIGRATIONS, tmp_path / "migrations")
    head = head_revision(scripts)
    add_revision(scripts, "aaaaaaaaaaaa", head, "one side", "pass")
    add_revision(scripts, "bbbbbbbbbbbb", head, "other side", "pass")
    assert template(EXPRESSION, {"scripts": str(scripts)}) == ""
    assert template(EXPRESSION, {"scripts": str(tmp_path / "none")}) == ""
