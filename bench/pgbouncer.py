"""What PgBouncer adds to the hot key-lookup query, against a direct connection.

    .venv/bin/python bench/pgbouncer.py [--scale 0.01] [--queries 3000] [--connects 300]

As root on this machine, as `make bench` runs it. `site.yml` provisions a cluster of its
own on a free port, with PgBouncer in front of it, exactly as tests/site/ does; the
database is filled with the hot-query benchmark's data set at `--scale`
(bench/hot_queries.py). Then, in one run, alternating between the two ways in rounds so
that both meet the same machine:

1. On a connection held open: the API key lookup by hash (the hot query of every metered
   request), as the runtime role over verified TLS, directly to PostgreSQL and through
   PgBouncer's transaction pool; the latency of each query (p50, p99).
2. A connection per request (TLS handshake, SCRAM, the lookup, goodbye), the way an
   application without a pool of its own pays: directly and through PgBouncer.

Everything the run made is removed at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hot_queries import HOT_PATHS, fill, sizes_at  # noqa: E402
from devtools.site import VERSION, provisioned  # noqa: E402

LOOKUP = HOT_PATHS["API key lookup by hash"].replace(":k", "%(k)s")
ROUNDS = 10


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def held_open(connection, keys: int, count: int) -> list[float]:
    """The latency of each lookup on one connection, in milliseconds."""
    connection.autocommit = True
    samples = []
    with connection.cursor() as cursor:
        for n in range(count):
            started = time.perf_counter()
            cursor.execute(LOOKUP, {"k": n % keys + 1})
            cursor.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def connection_per_request(connect, keys: int, count: int) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        connection = connect()
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(LOOKUP, {"k": n % keys + 1})
            cursor.fetchall()
        connection.close()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def line(label: str, direct: list[float], pooled: list[float]) -> str:
    d50, d99 = percentile(direct, 0.5), percentile(direct, 0.99)
    p50, p99 = percentile(pooled, 0.5), percentile(pooled, 0.99)
    return (
        f"| {label} | {d50:.3f} / {d99:.3f} ms | {p50:.3f} / {p99:.3f} ms"
        f" | {p50 - d50:+.3f} / {p99 - d99:+.3f} ms | {p50 / d50:.2f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--connects", type=int, default=300)
    args = parser.parse_args()
    with provisioned("backend-db-bench-pgbouncer-") as site:
        sizes = sizes_at(args.scale)
        engine = sa.create_engine(
            f"postgresql+psycopg2://postgres@/backend?host=/var/run/postgresql&port={site.port}",
            poolclass=sa.NullPool,
        )
        with engine.connect() as connection:
            fill(connection, sizes)
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        engine.dispose()

        def direct():
            return site.connect(sslmode="verify-full", sslrootcert=str(site.ca_cert))

        results = {"held": ([], []), "per request": ([], [])}
        direct_held, pooled_held = direct(), site.connect_pooled()
        per_round_queries = args.queries // ROUNDS
        per_round_connects = args.connects // ROUNDS
        for _ in range(ROUNDS):
            results["held"][0].extend(held_open(direct_held, sizes["keys"], per_round_queries))
            results["held"][1].extend(held_open(pooled_held, sizes["keys"], per_round_queries))
            results["per request"][0].extend(
                connection_per_request(direct, sizes["keys"], per_round_connects)
            )
            results["per request"][1].extend(
                connection_per_request(site.connect_pooled, sizes["keys"], per_round_connects)
            )
        direct_held.close()
        pooled_held.close()
        print(
            f"scale {args.scale}: {sizes['keys']} API keys; PostgreSQL {VERSION}; {ROUNDS} rounds"
        )
        print("| the key lookup | direct p50 / p99 | PgBouncer p50 / p99 | added | p50 ratio |")
        print("|---|---|---|---|---|")
        print(line(f"on a connection held open ({args.queries} queries)", *results["held"]))
        print(
            line(
                f"a connection per request ({args.connects} connections)",
                *results["per request"],
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
