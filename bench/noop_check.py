"""The cost of a no-op migration check: alembic_migrate against `alembic upgrade head`.

    .venv/bin/python bench/noop_check.py [--runs 15]

On a database already at head, in the same virtualenv, against the same private
PostgreSQL. The module answers such a run with its head check (plugins/
module_utils/alembic_head_check.py: the head read from the scripts' source, the recorded revision
with psycopg2, no Alembic); when that check is unsure it runs the full check
(plugins/module_utils/alembic_migration.migrate), which is measured too.

Inside: each one's elapsed time in this process (the head check timed around
recorded_head, the full check's own MigrationResult.elapsed) against
`command.upgrade(config, "head")` timed in the same process. Outside: the wall time
of a fresh Python process running each, as a module run starts one. Reports medians
and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
# The project, and its collection as Ansible loads the modules' code (ansible_collections.*).
PATHS = [str(ROOT), str(ROOT / "collections")]
sys.path[:0] = PATHS

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_head_check import (  # noqa: E402
    recorded_head,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (  # noqa: E402
    MigrationRequest,
    migrate,
)
from devtools.pgserver import TemporaryPostgres  # noqa: E402

HEAD_CHECK_RUN = (
    "import os, json\n"
    "from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_head_check"
    " import recorded_head\n"
    "assert recorded_head('migrations', **json.loads(os.environ['ARGS']))\n"
)
FULL_CHECK_RUN = (
    "import os, sqlalchemy as sa\n"
    "from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration"
    " import MigrationRequest, migrate\n"
    "migrate(MigrationRequest(script_location='migrations', url=sa.make_url(os.environ['URL'])))\n"
)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs

    with TemporaryPostgres() as server:
        url = server.url()
        # A scratch server, migrated as its superuser.
        request = MigrationRequest(
            script_location=str(ROOT / "migrations"), url=url, allow_superuser=True
        )
        migrate(request)  # to head, once
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["configure_logger"] = False
        os.environ["DATABASE_URL"] = url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        args = {
            "host": url.host, "port": url.port, "user": url.username,
            "password": url.password, "dbname": url.database, "connect_timeout": 10,
        }  # fmt: skip
        env = dict(
            os.environ,
            URL=url.render_as_string(hide_password=False),
            ARGS=json.dumps(args),
            PYTHONPATH=os.pathsep.join(PATHS),
        )
        cli = [str(Path(sys.executable).parent / "alembic"), "-c", str(ROOT / "alembic.ini")]

        inside = {"head check": [], "full check": [], "cli": []}
        outside = {"head check": [], "full check": [], "cli": []}
        for _ in range(runs):
            started = time.perf_counter()
            assert recorded_head(str(ROOT / "migrations"), **args)
            inside["head check"].append(time.perf_counter() - started)
            result = migrate(request)
            assert not result.changed
            inside["full check"].append(result.elapsed)
            started = time.perf_counter()
            command.upgrade(config, "head")
            inside["cli"].append(time.perf_counter() - started)

            outside["head check"].append(timed([sys.executable, "-c", HEAD_CHECK_RUN], env))
            outside["full check"].append(timed([sys.executable, "-c", FULL_CHECK_RUN], env))
            outside["cli"].append(timed([*cli, "upgrade", "head"], env))

    print(f"runs: {runs}")
    for where, samples in (("inside", inside), ("outside", outside)):
        cli_ms = median_ms(samples["cli"])
        print(f"{where}: alembic upgrade head {cli_ms:.1f} ms")
        for check in ("head check", "full check"):
            ms = median_ms(samples[check])
            print(f"  module {check}: {ms:.1f} ms, ratio {ms / cli_ms:.2f} (target <= 1.20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
