"""What application traffic feels while alembic_migrate changes the schema under it.

    .venv/bin/python bench/online_migration.py [--scale 0.1] [--rate 40] \
        [--picture docs/online-migration.png]

Builds a private PostgreSQL, migrates it with the real migrations as a non-superuser
owner role, fills it with bench/hot_queries.py's loader (scale 0.1: 10,000 users,
100,000 API keys, 1,000,000 requests), and starts application traffic as a runtime
role (DML only, as the app_database role grants it): four threads, one per hot path
(API key lookup, request insert, spend in the budget window, a page of recent
requests), each at a fixed rate, every query timed.

Then, one at a time and with the module's default options, five schema changes, each
applied once without and once with a long application transaction holding ACCESS
SHARE on requests for 3 seconds: add a nullable column; add a column with a constant
default; build an index CONCURRENTLY on requests; re-add a foreign key NOT VALID and
validate it in the next revision; a batched backfill of 1,000,000 rows. Between the
two runs of a change it is downgraded, untimed. Last, a change that cannot get its
lock at all (the holder stays longer than the whole lock schedule) must give up within
the schedule's bound, with one sentence.

For each run: the application's p50, p99 and max latency and errors in the two
seconds before and while the migration runs, the migration's duration and lock
attempts, and whether the targets hold: no application error, and a max latency
during the migration of at most the baseline's max plus the first lock attempt's
timeout plus 100 ms. The picture shows every query's latency over time with the lock
attempts marked (needs matplotlib: `make bench` installs bench/requirements.txt).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(ROOT / "collections"), str(BENCH)]

from hot_queries import fill, sizes_at  # noqa: E402

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (  # noqa: E402
    MigrationRequest,
    migrate,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.migrate_options import (  # noqa: E402
    DEFAULT_LOCK_ATTEMPTS,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationError  # noqa: E402
from devtools.pgserver import TemporaryPostgres  # noqa: E402
from devtools.revisions import head_revision  # noqa: E402
from tests.helpers import add_revision  # noqa: E402

OWNER, APP = "bench_owner", "bench_app"
HOLD_SECONDS = 3.0
PATHS = {
    "key lookup": (
        "SELECT api_key_id, user_id, status FROM api_keys"
        " WHERE key_hash = encode(sha256(('key' || :k)::bytea), 'hex')"
    ),
    "request insert": (
        "INSERT INTO requests (user_id, api_key_id, method, path, status_code, outcome, cost,"
        " latency_ms) VALUES (md5('u' || :u)::uuid, md5('k' || :u)::uuid, 'GET', '/v1/bench',"
        " 200, 'completed', 0.0001, 3)"
    ),
    "spend aggregate": (
        "SELECT coalesce(sum(r.cost), 0) FROM budgets b JOIN requests r"
        " ON r.user_id = b.user_id AND r.created_at >= b.window_start"
        " WHERE b.user_id = md5('u' || :u)::uuid AND b.is_active"
    ),
    "recent requests": (
        "SELECT request_id, path, cost, created_at FROM requests"
        " WHERE user_id = md5('u' || :u)::uuid ORDER BY created_at DESC LIMIT 50"
    ),
}
# (revision body, downgrade body) of each change, applied on top of the previous head.
CHANGES = {
    "add a nullable column": (
        "op.add_column('requests', sa.Column('note', sa.Text))",
        "op.drop_column('requests', 'note')",
    ),
    "add a column with a constant default": (
        "op.add_column('requests', sa.Column('region', sa.String(16), nullable=False,"
        " server_default='eu'))",
        "op.drop_column('requests', 'region')",
    ),
    "build an index CONCURRENTLY on requests": (
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_requests_path_created_at', 'requests', ['path', 'created_at'],"
        " postgresql_concurrently=True)",
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index('ix_requests_path_created_at', table_name='requests',"
        " postgresql_concurrently=True)",
    ),
    "add a foreign key NOT VALID, then validate it": (
        "op.drop_constraint('fk_requests_user_id_users', 'requests', type_='foreignkey')\n"
        "op.create_foreign_key('fk_requests_user_id_users', 'requests', 'users', ['user_id'],"
        " ['user_id'], ondelete='RESTRICT', postgresql_not_valid=True)",
        "pass",
    ),
    "a batched backfill of every request": (
        "op.add_column('requests', sa.Column('cost_micros', sa.BigInteger))\n",
        "op.drop_column('requests', 'cost_micros')",
    ),
}
VALIDATE = "op.execute('ALTER TABLE requests VALIDATE CONSTRAINT fk_requests_user_id_users')"
BACKFILL = (
    "from migrations.online import backfill_in_batches\n"
    "backfill_in_batches('requests', 'cost_micros = (cost * 1000000)::bigint',"
    " 'cost_micros IS NULL', batch_size=20000)"
)


@dataclass
class Sample:
    path: str
    at: float
    seconds: float
    error: str | None = None


@dataclass
class Traffic:
    """Fixed-rate application traffic as the runtime role, one thread per hot path."""

    url: sa.URL
    rate: float
    users: int
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._run, args=(path,)) for path in PATHS]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _run(self, path: str) -> None:
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        interval = 1 / self.rate
        randomness = random.Random(path)
        with engine.connect() as connection:
            connection.exec_driver_sql("SET statement_timeout = '30s'")
            connection.commit()
            due = time.monotonic()
            while not self.stop.is_set():
                started = time.monotonic()
                error = None
                try:
                    connection.execute(
                        sa.text(PATHS[path]),
                        {"k": randomness.randint(1, self.users * 10),
                         "u": randomness.randint(1, self.users)},
                    )  # fmt: skip
                    connection.commit()
                except Exception as exc:  # every error counts against the targets
                    error = " ".join(str(getattr(exc, "orig", exc)).split())[:200]
                    connection.rollback()
                self.samples.append(Sample(path, started, time.monotonic() - started, error))
                due += interval
                time.sleep(max(0.0, due - time.monotonic()))
        engine.dispose()

    def window(self, start: float, end: float) -> list[Sample]:
        return [sample for sample in self.samples if start <= sample.at < end]


def summary(samples: list[Sample]) -> dict[str, float]:
    latencies = sorted(sample.seconds * 1000 for sample in samples) or [0.0]
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
        "queries": len(samples),
        "errors": sum(sample.error is not None for sample in samples),
    }


def hold_access_share(url: sa.URL, seconds: float) -> threading.Thread:
    """An application transaction that reads requests and stays open for `seconds`."""
    ready = threading.Event()

    def hold() -> None:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1 FROM requests LIMIT 1"))
            ready.set()
            time.sleep(seconds)
            connection.rollback()
        engine.dispose()

    holder = threading.Thread(target=hold)
    holder.start()
    ready.wait(10)
    return holder


def prepare(server: TemporaryPostgres, scale: float) -> tuple[sa.URL, sa.URL, int]:
    owner_password, app_password = "owner-bench-pw", "app-bench-pw"
    admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{owner_password}'")
        connection.exec_driver_sql(f"CREATE ROLE {APP} LOGIN PASSWORD '{app_password}'")
        connection.exec_driver_sql(f"CREATE DATABASE backend OWNER {OWNER}")
    admin.dispose()
    owner = server.url(user=OWNER, password=owner_password, database="backend")
    database_admin = sa.create_engine(server.url(database="backend"), isolation_level="AUTOCOMMIT")
    with database_admin.connect() as connection:
        connection.exec_driver_sql(f"ALTER SCHEMA public OWNER TO {OWNER}")
        connection.exec_driver_sql(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA public"
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP}"
        )
        connection.exec_driver_sql(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA public"
            f" GRANT USAGE, SELECT ON SEQUENCES TO {APP}"
        )
    database_admin.dispose()
    migrate(MigrationRequest(script_location=str(ROOT / "migrations"), url=owner))
    sizes = sizes_at(scale)
    loader = sa.create_engine(server.url(database="backend"), poolclass=sa.NullPool)
    with loader.connect() as connection:
        fill(connection, sizes)
    loader.dispose()
    vacuum = sa.create_engine(server.url(database="backend"), isolation_level="AUTOCOMMIT")
    with vacuum.connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    vacuum.dispose()
    print(f"filled: {sizes}", flush=True)
    return owner, server.url(user=APP, password=app_password, database="backend"), sizes["users"]


def add_changes(scripts: Path) -> list[tuple[str, list[str]]]:
    """Each change's revisions, on top of each other, named for the report."""
    parent, plan, number = head_revision(), [], 0

    def revision(message: str, body: str, downgrade: str) -> str:
        nonlocal parent, number
        number += 1
        rev = f"be7c{number:08d}"
        add_revision(scripts, rev, parent, message, body, downgrade)
        parent = rev
        return rev

    for name, (body, downgrade) in CHANGES.items():
        revisions = [revision(name, body, downgrade)]
        if name.startswith("add a foreign key"):
            revisions.append(revision("validate the foreign key", VALIDATE, "pass"))
        if name.startswith("a batched backfill"):
            revisions.append(revision("backfill cost_micros", BACKFILL, "pass"))
        plan.append((name, revisions))
    return plan


def migrate_to(owner: sa.URL, scripts: Path, revision: str, **options) -> object:
    return migrate(
        MigrationRequest(script_location=str(scripts), url=owner, revision=revision, **options)
    )


def measure(traffic: Traffic, owner, scripts, name, revisions, held: bool) -> dict:
    before = revisions[0]
    time.sleep(2.0)
    holder = hold_access_share(traffic.url, HOLD_SECONDS) if held else None
    started = time.monotonic()
    attempts, error = [], None
    for revision in revisions:
        try:
            result = migrate_to(owner, scripts, revision)
            offset = time.monotonic() - started - result.elapsed
            attempts += [
                dict(attempt, started=attempt["started"] + offset) for attempt in result.attempts
            ]
        except MigrationError as exc:
            error = str(exc)
            break
    ended = time.monotonic()
    if holder:
        holder.join()
    time.sleep(0.5)
    baseline = summary(traffic.window(started - 2.0, started))
    during = summary(traffic.window(started, ended))
    allowed = baseline["max"] + DEFAULT_LOCK_ATTEMPTS[0] * 1000 + 100
    return {
        "change": name,
        "held": held,
        "from": before,
        "started": started,
        "ended": ended,
        "seconds": ended - started,
        "attempts": attempts,
        "error": error,
        "baseline": baseline,
        "during": during,
        "allowed_max": allowed,
        "targets_met": error is None and during["errors"] == 0 and during["max"] <= allowed,
    }


def picture(runs: list[dict], traffic: Traffic, path: Path) -> None:
    import matplotlib  # only the picture needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(runs), 1, figsize=(11, 2.1 * len(runs)), sharey=True)
    colours = dict(zip(PATHS, ["tab:blue", "tab:orange", "tab:green", "tab:purple"], strict=True))
    for axis, run in zip(axes, runs, strict=True):
        start = run["started"]
        for name in PATHS:
            window = [s for s in traffic.window(start - 2.0, run["ended"] + 0.5) if s.path == name]
            axis.scatter([s.at - start for s in window], [s.seconds * 1000 for s in window],
                         s=4, color=colours[name], label=name)  # fmt: skip
        for attempt in run["attempts"]:
            colour = "tab:green" if attempt["outcome"] == "applied" else "tab:red"
            axis.axvspan(attempt["started"], attempt["started"] + attempt["seconds"],
                         color=colour, alpha=0.25, linewidth=0)  # fmt: skip
        axis.axhline(run["allowed_max"], color="grey", linestyle="--", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_xlim(-2.0, run["seconds"] + 0.5)
        axis.set_title(
            f"{run['change']}{' - a transaction holds requests for 3 s' if run['held'] else ''}"
            f" ({run['seconds']:.1f} s, {len(run['attempts'])} lock attempts)",
            fontsize=9, loc="left",
        )  # fmt: skip
        axis.set_ylabel("ms")
    axes[0].legend(loc="upper right", fontsize=7, markerscale=3, ncol=4)
    axes[-1].set_xlabel(
        "seconds from the migration's start; shaded: lock attempts (red timed out, green"
        " applied); dashed: the target for the max latency"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    print(f"picture: {path}", flush=True)


def report(runs: list[dict]) -> None:
    print("\n| change | long transaction | baseline p50 / p99 / max ms | during p50 / p99 / max ms"
          " | errors | migration s | lock attempts | targets |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        b, d = run["baseline"], run["during"]
        print(
            f"| {run['change']} | {'holds 3 s' if run['held'] else 'none'} "
            f"| {b['p50']:.1f} / {b['p99']:.1f} / {b['max']:.1f} "
            f"| {d['p50']:.1f} / {d['p99']:.1f} / {d['max']:.1f} | {d['errors']} "
            f"| {run['seconds']:.2f} | {len(run['attempts'])} "
            f"| {'met' if run['targets_met'] else 'NOT MET: ' + (run['error'] or 'latency')} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--rate", type=float, default=40, help="queries a second, per hot path")
    parser.add_argument("--picture", type=Path, default=ROOT / "docs" / "online-migration.png")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="backend-db-online-"))
    scripts = workdir / "migrations"
    shutil.copytree(ROOT / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    plan = add_changes(scripts)
    runs = []
    try:
        with TemporaryPostgres() as server:
            owner, app, users = prepare(server, args.scale)
            traffic = Traffic(app, args.rate, users)
            traffic.start()
            try:
                for name, revisions in plan:
                    base = head_revision() if not runs else runs[-1]["revisions"][-1]
                    for held in (False, True):
                        if held:  # back to before the change, untimed
                            migrate_to(owner, scripts, base, allow_downgrade=True)
                        run = measure(traffic, owner, scripts, name, revisions, held)
                        run["revisions"] = revisions
                        runs.append(run)
                        print(f"{name}, {'held' if held else 'free'}: {run['seconds']:.2f} s,"
                              f" {len(run['attempts'])} attempts, during {run['during']}",
                              flush=True)  # fmt: skip
                # A change that cannot get its lock: the holder outlasts the schedule.
                bound = sum(DEFAULT_LOCK_ATTEMPTS) + len(DEFAULT_LOCK_ATTEMPTS) - 1
                add_revision(scripts, "be7c99999999", runs[-1]["revisions"][-1],
                             "never gets its lock",
                             "op.add_column('requests', sa.Column('late', sa.Text))")  # fmt: skip
                holder = hold_access_share(app, bound + 10)
                started = time.monotonic()
                try:
                    migrate_to(owner, scripts, "be7c99999999")
                    outcome = "applied (unexpected)"
                except MigrationError as exc:
                    outcome = str(exc)
                gave_up = time.monotonic() - started
                holder.join()
            finally:
                traffic.finish()
        report(runs)
        print(
            f"\ngive-up: after {gave_up:.1f} s (schedule bound {bound:.1f} s): {outcome}",
            flush=True,
        )
        picture(runs, traffic, args.picture)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(run["targets_met"] for run in runs) and gave_up <= bound + 2 else 1


if __name__ == "__main__":
    sys.exit(main())
