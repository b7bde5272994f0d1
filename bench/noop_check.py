"""The cost of a no-op migration check: alembic_migrate's logic against `alembic upgrade head`.

    .venv/bin/python bench/noop_check.py [--runs 15]

On a database already at head, in the same virtualenv, against the same private
PostgreSQL. Inside: the module's own elapsed time (MigrationResult.elapsed) against
`command.upgrade(config, "head")` timed in the same process. Outside: the wall time of
a fresh Python process running each. Reports medians and their ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from module_utils.alembic_migration import MigrationRequest, migrate  # noqa: E402
from tests.pgserver import TemporaryPostgres  # noqa: E402

MODULE_RUN = (
    "import os, sqlalchemy as sa\n"
    "from module_utils.alembic_migration import MigrationRequest, migrate\n"
    "migrate(MigrationRequest(script_location='migrations', url=sa.make_url(os.environ['URL'])))\n"
)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs

    with TemporaryPostgres() as server:
        url = server.url()
        request = MigrationRequest(script_location=str(ROOT / "migrations"), url=url)
        migrate(request)  # to head, once
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["configure_logger"] = False
        plain_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
        os.environ["DATABASE_URL"] = plain_url

        module_inside, cli_inside, module_outside, cli_outside = [], [], [], []
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        for _ in range(runs):
            result = migrate(request)
            assert not result.changed
            module_inside.append(result.elapsed)

            started = time.perf_counter()
            command.upgrade(config, "head")
            cli_inside.append(time.perf_counter() - started)

            env = dict(
                os.environ, URL=url.render_as_string(hide_password=False), PYTHONPATH=str(ROOT)
            )
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", MODULE_RUN], cwd=ROOT, env=env, check=True)
            module_outside.append(time.perf_counter() - started)

            started = time.perf_counter()
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "alembic"),
                    "-c",
                    str(ROOT / "alembic.ini"),
                    "upgrade",
                    "head",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                stderr=subprocess.DEVNULL,
            )
            cli_outside.append(time.perf_counter() - started)
        engine.dispose()

    inside = median_ms(module_inside) / median_ms(cli_inside)
    outside = median_ms(module_outside) / median_ms(cli_outside)
    print(f"runs: {runs}")
    print(
        f"inside:  module {median_ms(module_inside):.1f} ms, alembic upgrade head "
        f"{median_ms(cli_inside):.1f} ms, ratio {inside:.2f} (target <= 1.20)"
    )
    print(
        f"outside: module {median_ms(module_outside):.1f} ms, alembic upgrade head "
        f"{median_ms(cli_outside):.1f} ms, ratio {outside:.2f} (target <= 1.20)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
