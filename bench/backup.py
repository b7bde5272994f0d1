"""Backup and restore at a stated scale, and what backups add to an idempotent re-run.

    .venv/bin/python bench/backup.py [--scale 0.1] [--reruns 5]

As root on this machine, as `make bench` runs it. `site.yml` provisions a cluster of its
own on a free port, exactly as tests/site/ does (backups on: the default), so
the machine's `main` cluster is left alone. Then, in one run:

1. RERUNS idempotent re-runs of `site.yml` with backups on and RERUNS of a second
   cluster provisioned with `backup_enabled=false`, alternating; the medians and their
   difference: what the backup role adds to a re-run. (Switching backups off on the
   first cluster would be a change, not a re-run: its archiving stops.)
2. The database filled with the hot-query benchmark's data set at `--scale`
   (bench/hot_queries.py: 0.1 is 10,000 users, 1,000,000 requests).
3. A full backup (`playbooks/backup.yml`, as an operator runs it): its duration, the
   database's size and the repository's size for that backup, and the rate.
4. `playbooks/restore.yml` into a new cluster on the same machine (restore, WAL replay,
   promotion, as an operator verifies a backup): its duration and rate.

Everything the run made is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hot_queries import fill, sizes_at  # noqa: E402
from devtools.pgserver import free_port  # noqa: E402
from devtools.site import VERSION, Site, provisioned, recap  # noqa: E402

WITHOUT_BACKUPS = ("-e", "backup_enabled=false")


def timed(site: Site, *args: str, playbook: str = "site.yml") -> float:
    started = time.perf_counter()
    result = site.play(*args, playbook=playbook)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{playbook} {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr}")
    if playbook == "site.yml" and recap(result)["changed"] != 0:
        sys.exit(f"a re-run of site.yml changed something:\n{result.stdout[-3000:]}")
    return seconds


def du(path: str) -> int:
    listing = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True)
    return int(listing.stdout.split()[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()
    restore_port = free_port()
    # The first converges are not measured.
    with (
        provisioned("backend-db-bench-backup-") as site,
        provisioned("backend-db-bench-nobackup-", *WITHOUT_BACKUPS) as without,
    ):
        try:
            measure(site, without, args, restore_port)
        finally:
            subprocess.run(
                ["pg_dropcluster", "--stop", str(VERSION), "benchrestore"],
                capture_output=True, check=False,
            )  # fmt: skip
    return 0


def measure(site: Site, without: Site, args: argparse.Namespace, restore_port: int) -> None:
    on, off = [], []
    for _ in range(args.reruns):
        on.append(timed(site))
        off.append(timed(without, *WITHOUT_BACKUPS))
    print(
        f"idempotent re-run, median of {args.reruns}: backups on {statistics.median(on):.2f} s,"
        f" off {statistics.median(off):.2f} s: the backup role adds"
        f" {statistics.median(on) - statistics.median(off):.2f} s",
        flush=True,
    )

    sizes = sizes_at(args.scale)
    print(f"scale {args.scale}: {json.dumps(sizes)}", flush=True)
    engine = sa.create_engine(
        f"postgresql+psycopg2://postgres@/backend?host=/var/run/postgresql&port={site.port}",
        poolclass=sa.NullPool,
    )
    with engine.connect() as connection:
        fill(connection, sizes)
    with engine.connect() as connection:
        database = connection.exec_driver_sql("SELECT pg_database_size('backend')").scalar()
        cluster = int(
            connection.exec_driver_sql(
                "SELECT sum(pg_database_size(oid)) FROM pg_database"
            ).scalar()
        )
    engine.dispose()

    backup_seconds = timed(site, "-e", "backup_type=full", playbook="playbooks/backup.yml")
    labels = sorted(Path(f"/var/lib/pgbackrest/backup/{site.cluster}").glob("*F"))
    repository = du(str(labels[-1]))
    mib = 1024 * 1024
    print(
        f"full backup (playbooks/backup.yml): {backup_seconds:.1f} s for a cluster of"
        f" {cluster / mib:.0f} MiB (database backend {database / mib:.0f} MiB),"
        f" {cluster / mib / backup_seconds:.0f} MiB/s; in the repository (compressed,"
        f" encrypted) {repository / mib:.1f} MiB, {repository / cluster:.2f} of the cluster",
        flush=True,
    )

    restore_seconds = timed(
        site, "-e", "restore_confirm=true", "-e", "restore_into=benchrestore",
        "-e", f"restore_into_port={restore_port}", playbook="playbooks/restore.yml",
    )  # fmt: skip
    print(
        f"restore into a new cluster (playbooks/restore.yml: restore, WAL replay,"
        f" promotion): {restore_seconds:.1f} s, {cluster / mib / restore_seconds:.0f} MiB/s"
        f" of cluster; {restore_seconds / backup_seconds:.2f} x the backup",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
