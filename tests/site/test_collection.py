"""The collection as another repository uses it: built, installed, and converged.

`ansible-galaxy collection build` makes the artifact from this repository; a new project
in a temporary directory installs it from its own requirements.yml and runs a play of its
own on this machine: the postgresql, app_database and migrations roles by their collection
names, with the application's own models and migrations (migrations_project_dir), then the
alembic_migrate module called directly. Like the other tests of tests/site/, it manages a cluster of
its own on a free port and installs into the temporary directory. Needs root.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import textwrap
from pathlib import Path

import psycopg2
import pytest
import yaml

from devtools.paths import ROOT
from devtools.pgserver import free_port
from devtools.site import VERSION
from devtools.waits import printed, run_bounded
from tests.helpers import BIN, drop_cluster, recap

# The controller's own work, alike whatever the host's release.
pytestmark = pytest.mark.controller

REVISION = "a1b2c3d4e5f6"

# The application's own project: a model, its Alembic environment and one revision.
MODELS = """
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Widget(Base):
    __tablename__ = "widgets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
"""
ENV = """
import sys
from pathlib import Path

from alembic import context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import models

options = {"target_metadata": models.Base.metadata, "transaction_per_migration": True}
if context.is_offline_mode():
    # The module renders the pending revisions' SQL without connecting.
    context.configure(dialect_name="postgresql", literal_binds=True, **options)
else:
    # The module hands over its connection, holding the migration lock.
    context.configure(connection=context.config.attributes["connection"], **options)
with context.begin_transaction():
    context.run_migrations()
"""
FIRST_REVISION = f'''
"""widgets"""
import sqlalchemy as sa
from alembic import op

revision = "{REVISION}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "widgets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(40), nullable=False),
    )


def downgrade():
    op.drop_table("widgets")
'''
PLAY = """
- name: The application's database, by the collection's roles
  hosts: dbservers
  gather_facts: false
  roles:
    - role: backend_db.postgresql.postgresql
    - role: backend_db.postgresql.app_database
    - role: backend_db.postgresql.migrations
      vars:
        migrations_project_dir: "{{ playbook_dir }}"
  post_tasks:
    - name: The module, called by its collection name, finds nothing left to apply
      backend_db.postgresql.alembic_migrate:
        script_location: "{{ playbook_dir }}/migrations"
        login_host: 127.0.0.1
        login_port: "{{ postgresql_port }}"
        login_db: backend
        login_user: backend_owner
        login_password: "{{ app_database_owner_password }}"
        ssl_mode: verify-full
        ca_cert: "{{ postgresql_ca_cert_path }}"
      check_mode: true
      register: app_migration

    - name: The module reports the application's own head, with no change
      ansible.builtin.assert:
        that:
          - app_migration is not changed
          - app_migration.pending == []
"""


class Consumer:
    def __init__(self, workdir: Path) -> None:
        self.app = workdir / "app"
        self.cluster = f"bdconsumer{secrets.token_hex(3)}"
        self.port = free_port()
        self.owner_password = secrets.token_urlsafe(24)
        self.app_password = secrets.token_urlsafe(24)
        self.ca_cert = Path(f"/etc/backend-db/{self.cluster}-ca.crt")
        self.built = self.run(
            "ansible-galaxy", "collection", "build", "--output-path", str(workdir / "dist"),
            str(ROOT), cwd=ROOT,
        )  # fmt: skip
        (self.artifact,) = (workdir / "dist").glob("backend_db-postgresql-*.tar.gz")
        self.write_project()
        # The collections it depends on come with the `ansible` package here (no Galaxy).
        self.installed = self.run(
            "ansible-galaxy", "collection", "install", "--offline", "-r", "requirements.yml",
            "-p", "collections",
        )  # fmt: skip

    def write_project(self) -> None:
        files = {
            "requirements.yml": yaml.safe_dump(
                {"collections": [{"name": str(self.artifact), "type": "file"}]}
            ),
            "ansible.cfg": "[defaults]\ncollections_path = collections\n"
            "interpreter_python = auto_silent\n[connection]\npipelining = true\n",
            "site.yml": PLAY,
            "models/__init__.py": MODELS,
            "migrations/env.py": ENV,
            f"migrations/versions/{REVISION}_widgets.py": FIRST_REVISION,
            # The host's packages, pinned as this project pins them.
            "requirements.lock": (ROOT / "requirements.lock").read_text(),
        }
        for name, text in files.items():
            path = self.app / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())
        variables = {
            "postgresql_cluster": self.cluster,
            "postgresql_port": self.port,
            "postgresql_ca_cert_path": str(self.ca_cert),
            "migrations_install_dir": str(self.app / "opt"),
            "app_database_owner_password": self.owner_password,
            "app_database_app_password": self.app_password,
        }
        inventory = {"dbservers": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python"),
            **variables,
        }}}}  # fmt: skip
        (self.app / "hosts.yml").write_text(json.dumps(inventory))
        (self.app / "hosts.yml").chmod(0o600)

    def run(self, *command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = dict(
            os.environ, ANSIBLE_CONFIG=str(self.app / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
            PATH=f"{BIN}:{os.environ['PATH']}",
        )  # fmt: skip
        return run_bounded([str(BIN / command[0]), *command[1:]], 900, cwd=cwd or self.app, env=env)

    def play(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("ansible-playbook", "-i", "hosts.yml", "site.yml", *args)

    def destroy(self) -> None:
        drop_cluster(VERSION, self.cluster)
        self.ca_cert.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    consumer = Consumer(tmp_path_factory.mktemp("consumer"))
    yield consumer
    consumer.destroy()


def test_the_built_collection_installs_from_a_requirements_file(consumer):
    assert consumer.built.returncode == 0, consumer.built.stderr
    assert consumer.installed.returncode == 0, consumer.installed.stdout + consumer.installed.stderr
    installed = consumer.app / "collections/ansible_collections/backend_db/postgresql"
    manifest = json.loads((installed / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == "0.1.0"
    # What a user runs, and nothing of the project's own development.
    shipped = ("roles/migrations", "plugins/modules/alembic_migrate.py", "playbooks/site.yml",
               "models", "migrations", "requirements.lock", "LICENSE", "CHANGELOG.md")  # fmt: skip
    for path in shipped:
        assert (installed / path).exists(), path
    for path in ("molecule", "bench", ".venv", "collections", "tests/site/test_collection.py"):
        assert not (installed / path).exists(), path


def test_a_play_of_its_own_checks_and_converges_with_its_own_migrations(consumer):
    syntax = consumer.play("--syntax-check")
    assert syntax.returncode == 0, printed(syntax)

    first = consumer.play()
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert recap(first)["changed"] > 0
    # The roles came from the installed artifact, not from this repository.
    assert str(ROOT / "roles") not in first.stdout

    with psycopg2.connect(
        host="127.0.0.1", port=consumer.port, dbname="backend", user="backend_app",
        password=consumer.app_password, sslmode="verify-full", sslrootcert=str(consumer.ca_cert),
        connect_timeout=5,
    ) as connection, connection.cursor() as cursor:  # fmt: skip
        cursor.execute("SELECT version_num FROM alembic_version")
        assert cursor.fetchall() == [(REVISION,)]
        cursor.execute("INSERT INTO widgets (label) VALUES ('first') RETURNING id")
        assert cursor.fetchone()[0] == 1
    assert "The module reports the application's own head" in first.stdout

    again = consumer.play()
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again)["changed"] == 0, again.stdout[-4000:]
