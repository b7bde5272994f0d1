"""The migrations role on this machine: the schema at head, the review of pending
revisions, the virtualenv it builds and the directory it owns."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
    MigrationRequest,
    migrate,
)
from devtools.paths import ROOT
from devtools.waits import printed
from tests.helpers import head_revision, lineage, recap, refused


def test_schema_is_at_head(site):
    with site.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT version_num FROM alembic_version")
        assert cursor.fetchone()[0] == head_revision()


def test_check_diff_on_a_host_behind_lists_pending_revisions_and_their_sql(site):
    owner = sa.engine.URL.create(
        "postgresql+psycopg2",
        username="backend_owner",
        password=site.owner_password,
        host="127.0.0.1",
        port=site.port,
        database="backend",
    )
    migrate(
        MigrationRequest(
            script_location=str(ROOT / "migrations"),
            url=owner,
            revision="base",
            allow_downgrade=True,
        )
    )
    try:
        review = site.workdir / "review"
        reviewed = site.play(
            "-e", f"migrations_sql_review_dir={review}", playbook="playbooks/migrate.yml"
        )
        assert reviewed.returncode == 0, reviewed.stdout[-4000:]
        sql = (review / "localhost.sql").read_text()
        assert f"-- pending: {', '.join(lineage())}" in sql and "CREATE TABLE requests" in sql

        result = site.play("--check", "--diff", playbook="playbooks/migrate.yml")
        assert result.returncode == 0, result.stdout[-4000:]
        assert recap(result)["changed"] == 1
        assert head_revision() in result.stdout
        assert "CREATE TABLE requests" in result.stdout
        owner_connection = site.connect(user="backend_owner", password=site.owner_password)
        with owner_connection, owner_connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('public.users') IS NULL")
            assert cursor.fetchone()[0] is True
    finally:
        migrate(MigrationRequest(script_location=str(ROOT / "migrations"), url=owner))


def test_a_migration_that_cannot_verify_the_server_fails_saying_so(site, tmp_path):
    # Another CA than the project's, installed by the role where the inventory says.
    other = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(tmp_path / "other.key"), "-subj", "/CN=another CA", "-days", "1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = site.ca_cert.with_name(f"{site.cluster}-other-ca.crt")
    extra = tmp_path / "extra.json"
    extra.write_text(
        json.dumps({"migrations_ca_cert_path": str(path), "migrations_ca_certificate": other})
    )
    try:
        result = site.play("-e", f"@{extra}", playbook="playbooks/migrate.yml")
    finally:
        path.unlink(missing_ok=True)
    assert result.returncode != 0
    assert "certificate verify failed" in result.stdout, printed(result)
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("damage", ["built for another Python", "cut off half-way"])
def test_a_virtualenv_not_built_for_this_host_is_built_again_then_left_alone(site, damage):
    (venv,) = site.install_dir.glob("venv-*")
    marker = venv / "backend-db-requirements.txt"
    complete = marker.read_text()
    if damage == "built for another Python":
        marker.write_text(complete.replace("# Python 3.", "# Python 2.", 1))
    else:
        shutil.rmtree(next((venv / "lib").glob("python3.*/site-packages/alembic")))
        marker.unlink()

    rebuilt = site.play(playbook="playbooks/migrate.yml")
    assert rebuilt.returncode == 0, printed(rebuilt)
    assert recap(rebuilt)["changed"] > 0
    assert marker.read_text() == complete
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import alembic, sqlalchemy, psycopg2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    again = site.play(playbook="playbooks/migrate.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, printed(again)


def test_an_install_directory_holding_other_files_is_refused_and_nothing_is_removed(site, tmp_path):
    shared = tmp_path / "x"
    for name in ("app-data", "venv-otherapp", "application.conf.d"):
        (shared / name).mkdir(parents=True)
        (shared / name / "keep").write_text(name)
    for check in ((), ("--check", "--diff")):
        result = site.play(
            "-e",
            json.dumps({"migrations_install_dir": str(shared)}),
            *check,
            playbook="playbooks/migrate.yml",
        )
        refused(
            result,
            f"migrations_install_dir {shared} on localhost holds app-data, application.conf.d,"
            " venv-otherapp, which this role did not make",
        )  # fmt: skip
        assert sorted(path.name for path in shared.iterdir()) == [
            "app-data", "application.conf.d", "venv-otherapp"
        ]  # fmt: skip
        assert all((shared / name / "keep").read_text() == name for name in ("app-data",))
