"""Small builders shared by the tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
    MigrationRequest,
    migrate,
)
from devtools.paths import BIN, MIGRATIONS, ROOT
from devtools.revisions import head_revision, lineage  # noqa: F401 (the tests' helpers)
from devtools.site import drop_cluster, recap  # noqa: F401 (the tests' helpers)
from devtools.waits import run_bounded, said

# The repository is this collection; ansible.cfg's collections_path finds it here.
COLLECTION = "backend_db.postgresql"
MODULES = ROOT / "plugins" / "modules"


def ansible_env() -> dict[str, str]:
    """The environment Ansible's commands run in here: the project's ansible.cfg, the venv."""
    return dict(
        os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH=f"{BIN}:{os.environ['PATH']}"
    )


def host_memory_mb() -> int:
    """This machine's memory in MiB as the kernel counts it, or its control group's lower limit."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = Path(path).read_text().strip() if os.access(path, os.R_OK) else "max"
        memory = min(memory, int(text) // 2**20) if text.isdigit() else memory
    return memory


def memory_settings_mb(memory: int, max_connections: int = 100) -> dict[str, int]:
    """The postgresql role's documented memory settings, in MiB, for a host's memory in MiB."""
    shared_buffers = min(max(memory // 4, 32), 16384)
    return {
        "shared_buffers": shared_buffers,
        "effective_cache_size": max(memory * 3 // 4, 128),
        "work_mem": min(max((memory - shared_buffers) // (4 * max_connections), 4), 64),
        "maintenance_work_mem": min(max(memory // 16, 64), 2048),
    }


def add_revision(
    location: Path,
    revision: str,
    down_revision: str | None,
    message: str,
    upgrade: str,
    downgrade: str = "pass",
) -> Path:
    """Write a revision file into `location`/versions and return its path."""

    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip(), "    ")

    source = "\n".join(
        [
            f'"""{message}"""',
            "import sqlalchemy as sa",
            "from alembic import op",
            "",
            f"revision = {revision!r}",
            f"down_revision = {down_revision!r}",
            "branch_labels = None",
            "depends_on = None",
            "",
            "",
            "def upgrade():",
            body(upgrade),
            "",
            "",
            "def downgrade():",
            body(downgrade),
            "",
        ]
    )
    path = location / "versions" / f"{revision}_{message.replace(' ', '_')}.py"
    path.write_text(source)
    return path


def add_locale_revision(
    location: Path, revision: str = "b1c2d3e4f5a6", down_revision: str | None = None
) -> Path:
    """A revision on top of the head that adds users.locale (and drops it on downgrade)."""
    return add_revision(
        location, revision, down_revision or head_revision(), "add users locale",
        "op.add_column('users', sa.Column('locale', sa.String(10)))",
        "op.drop_column('users', 'locale')",
    )  # fmt: skip


def run(database, location: Path = MIGRATIONS, **options):
    """Run the migration logic as the module would, against `database`."""
    return migrate(MigrationRequest(script_location=str(location), url=database.url, **options))


def add_locale_to_the_model(project: Path) -> None:
    """Edit a project copy's User model the way a developer adds a column."""
    user = project / "models" / "user.py"
    source = user.read_text()
    anchor = "    display_name: Mapped[str | None] = mapped_column(String(200))\n"
    assert anchor in source
    user.write_text(
        source.replace(
            anchor, anchor + "    locale: Mapped[str | None] = mapped_column(String(10))\n"
        )
    )


def refused(result: subprocess.CompletedProcess, *phrases: str) -> str:
    """A play that failed before any change, saying each phrase, with no traceback."""
    text = said(result)
    assert result.returncode != 0, text[-3000:]
    for phrase in phrases:
        assert phrase in text, (phrase, text[-3000:])
    assert recap(result)["changed"] == 0, text[-3000:]
    assert "Traceback" not in text
    return text


def run_module(
    module: str, *module_args: str, extra: tuple[str, ...] = (), json_output: bool = True
):
    """One of the project's modules through Ansible itself: `ansible localhost -m MODULE`.

    Returns the finished process and, with json_output, the module's result.
    """
    env = ansible_env()
    if json_output:
        env.update(
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"
        )
    completed = run_bounded(
        [
            str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}",
            "-m", f"{COLLECTION}.{module}", "-a", " ".join(module_args), *extra,
        ],
        120, f"ansible -m {module}", env=env, cwd=ROOT,
    )  # fmt: skip
    if not json_output:
        return completed, None
    return completed, json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def module_manual(module: str) -> str:
    """What `ansible-doc` prints for one of the project's modules; fails if it cannot."""
    completed = run_bounded(
        [str(BIN / "ansible-doc"), f"{COLLECTION}.{module}"], 60, cwd=ROOT, env=ansible_env()
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def documented_options(module: str) -> dict:
    """The options one of the project's modules documents, as `ansible-doc` reads them:
    its own DOCUMENTATION with its doc fragments (the connection options) merged in."""
    completed = run_bounded(
        [str(BIN / "ansible-doc"), "--json", f"{COLLECTION}.{module}"],
        60,
        cwd=ROOT,
        env=ansible_env(),
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)[f"{COLLECTION}.{module}"]["doc"]["options"]


def silent_server() -> tuple[socket.socket, int, list]:
    """A loopback port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list = []  # held by the caller so the accepted socket stays open

    def accept_forever() -> None:
        while True:
            try:
                accepted.append(server.accept())
            except OSError:
                return

    threading.Thread(target=accept_forever, daemon=True).start()
    return server, server.getsockname()[1], accepted
