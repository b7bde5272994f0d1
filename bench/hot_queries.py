"""Hot queries at scale, and what the indexes cost the write path.

    .venv/bin/python bench/hot_queries.py [--scale 1.0] [--samples 25]

Builds a private PostgreSQL 15, migrates it with the real migrations, fills it
(scale 1.0: 100,000 users, 1,000,000 API keys, 10,000,000 requests, 200,000
payments, 100,000 budgets, 300,000 policies, and 1,000 newcomers: users with keys,
a budget and policies but no requests or payments yet), then for each hot path runs
EXPLAIN (ANALYZE, BUFFERS) with `--samples` random parameters and reports the
median execution time (foreign-key triggers included), the access paths, and
whether a big table was read sequentially. The plans of the queries that foreign-key
triggers run (the checks and cascades of a DELETE, which EXPLAIN does not show) are
collected too, with auto_explain in one untimed extra run of each path. Then: index
bytes per row of requests, and insert throughput into requests with every index
against a copy with only its primary key (same run).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "collections")]

from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (  # noqa: E402
    MigrationRequest,
    migrate,
)
from devtools.pgserver import TemporaryPostgres  # noqa: E402
from models import Base  # noqa: E402

# Every table of the models: none of them may be scanned whole by a hot query.
BIG_TABLES = set(Base.metadata.tables)

FILL = [
    # Deterministic ids (md5 of a number) so children can reference parents by number.
    (
        "users",
        """
        INSERT INTO users (user_id, email, display_name, created_at)
        SELECT md5('u' || n)::uuid, 'user' || n || '@example.com', 'User ' || n,
               now() - (n % 1000) * interval '1 hour'
        FROM generate_series(1, :users) AS n""",
    ),
    (
        "api_keys",
        """
        INSERT INTO api_keys (api_key_id, user_id, name, key_prefix, key_hash, scopes)
        SELECT md5('k' || n)::uuid, md5('u' || (n % :users + 1))::uuid, 'key ' || n,
               'bk_' || left(md5('p' || n), 8), encode(sha256(('key' || n)::bytea), 'hex'),
               ARRAY['read', 'write']
        FROM generate_series(1, :keys) AS n""",
    ),
    (
        "requests",
        """
        INSERT INTO requests (user_id, api_key_id, method, path, status_code, outcome, cost,
                              latency_ms, created_at)
        SELECT md5('u' || (n % :users + 1))::uuid,
               md5('k' || ((n % :users + 1) + :users * (n % (:keys / :users))))::uuid,
               'GET', '/v1/items/' || (n % 977), 200, 'completed', (n % 100) * 0.0001,
               n % 250, now() - (n % 2592000) * interval '1 second'
        FROM generate_series(1, :requests) AS n""",
    ),
    (
        "payments",
        """
        INSERT INTO payments (user_id, amount, currency, status, provider, provider_reference,
                              created_at)
        SELECT md5('u' || (n % :users + 1))::uuid, 10 + n % 90, 'EUR', 'succeeded', 'stripe',
               'pi_' || n, now() - (n % 90) * interval '1 day'
        FROM generate_series(1, :payments) AS n""",
    ),
    (
        "budgets",
        """
        INSERT INTO budgets (user_id, name, period, limit_amount, currency, window_start)
        SELECT md5('u' || n)::uuid, 'monthly', 'monthly', 100, 'EUR',
               date_trunc('month', now())
        FROM generate_series(1, :users) AS n""",
    ),
    (
        "policies",
        """
        INSERT INTO policies (user_id, name, kind, rules, priority, enabled)
        SELECT md5('u' || (n % :users + 1))::uuid, 'policy ' || n, 'rate_limit',
               '{"per_minute": 60}', n % 7, n % 5 <> 0
        FROM generate_series(1, :policies) AS n""",
    ),
    (
        "newcomers",
        """
        WITH new_users AS (
            INSERT INTO users (user_id, email, display_name)
            SELECT md5('u' || n)::uuid, 'user' || n || '@example.com', 'Newcomer ' || n
            FROM generate_series(:users + 1, :users + :newcomers) AS n
            RETURNING user_id
        ), new_keys AS (
            INSERT INTO api_keys (user_id, name, key_prefix, key_hash)
            SELECT user_id, 'key ' || k, 'bk_new' || k,
                   encode(sha256((user_id::text || k)::bytea), 'hex')
            FROM new_users, generate_series(1, 10) AS k
        ), new_budgets AS (
            INSERT INTO budgets (user_id, name, period, limit_amount, currency, window_start)
            SELECT user_id, 'monthly', 'monthly', 100, 'EUR', date_trunc('month', now())
            FROM new_users
        )
        INSERT INTO policies (user_id, name, kind, rules, priority, enabled)
        SELECT user_id, 'policy ' || p, 'rate_limit', '{"per_minute": 60}', p, true
        FROM new_users, generate_series(1, 3) AS p""",
    ),
]

HOT_PATHS = {
    "API key lookup by hash": (
        "SELECT api_key_id, user_id, status, scopes, expires_at FROM api_keys"
        " WHERE key_hash = encode(sha256(('key' || :k)::bytea), 'hex')"
    ),
    "spend in the current budget window": (
        "SELECT coalesce(sum(r.cost), 0) FROM budgets b JOIN requests r"
        " ON r.user_id = b.user_id AND r.created_at >= b.window_start"
        " WHERE b.user_id = md5('u' || :u)::uuid AND b.is_active"
    ),
    "a user's recent requests, one page": (
        "SELECT request_id, method, path, status_code, cost, created_at FROM requests"
        " WHERE user_id = md5('u' || :u)::uuid ORDER BY created_at DESC LIMIT 50"
    ),
    "a user's enabled policies by priority": (
        "SELECT policy_id, kind, rules FROM policies"
        " WHERE user_id = md5('u' || :u)::uuid AND enabled ORDER BY priority"
    ),
    "payment by provider reference": (
        "SELECT payment_id, user_id, status FROM payments"
        " WHERE provider = 'stripe' AND provider_reference = 'pi_' || :p"
    ),
    # Keys that made requests are revoked, not deleted (ON DELETE RESTRICT): deleting
    # keys is for keys that never made a request, and each one is checked against
    # requests through ix_requests_api_key_id.
    "deleting a user's unused API keys (10; each checked against requests)": (
        "DELETE FROM api_keys WHERE user_id = md5('u' || :n)::uuid"
    ),
    "deleting a user with no history; cascades to 10 keys, a budget, 3 policies": (
        "DELETE FROM users WHERE user_id = md5('u' || :n)::uuid"
    ),
}


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans(plans: list[dict]) -> tuple[list[str], bool]:
    """The access paths of plans, and whether any reads a big table sequentially."""
    found = [n for plan in plans for n in nodes(plan) if "Scan" in n["Node Type"]]
    paths = [
        f"{n['Node Type']}"
        + (f" on {n['Index Name']}" if "Index Name" in n else "")
        + (f" of {n['Relation Name']}" if "Relation Name" in n and "Index Name" not in n else "")
        for n in found
    ]
    seq = any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") in BIG_TABLES for n in found)
    return paths, seq


def explain(connection: sa.Connection, sql: str, params: dict) -> tuple[float, list[str], bool]:
    """Execution time in ms (triggers included), access paths, and any big sequential scan."""
    transaction = connection.begin()
    try:
        (document,) = connection.execute(
            sa.text(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"), params
        ).one()
    finally:
        transaction.rollback()
    top = document[0]
    triggers = sum(t["Time"] for t in top.get("Triggers", []))
    return top["Execution Time"] + triggers, *scans([top["Plan"]])


def trigger_plans(connection: sa.Connection, sql: str, params: dict) -> tuple[list[str], bool]:
    """Access paths of `sql` and of the statements its foreign-key triggers run.

    auto_explain reports the plan of every statement, nested ones included, as a
    NOTICE to this session. The statement runs on the DBAPI cursor because
    SQLAlchemy's psycopg2 dialect clears the connection's notices after each statement.
    """
    raw = connection.connection.dbapi_connection
    transaction = connection.begin()
    try:
        for statement in [
            "LOAD 'auto_explain'",
            "SET LOCAL auto_explain.log_min_duration = 0",
            "SET LOCAL auto_explain.log_nested_statements = on",
            "SET LOCAL auto_explain.log_format = json",
            "SET LOCAL auto_explain.log_level = notice",
        ]:
            connection.exec_driver_sql(statement)
        with raw.cursor() as cursor:
            del raw.notices[:]
            # :name (not ::type) to psycopg2's %(name)s.
            cursor.execute(re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql), params)
            notices = list(raw.notices)
    finally:
        transaction.rollback()
    plans = [json.loads(notice.split("plan:", 1)[1]) for notice in notices if "plan:" in notice]
    return scans([plan["Plan"] for plan in plans])


def sizes_at(scale: float) -> dict[str, int]:
    """How many rows fill() makes at a scale: 1.0 is 100,000 users, 10,000,000 requests."""
    users = int(100_000 * scale)
    return {
        "users": users,
        "keys": users * 10,
        "requests": users * 100,
        "payments": users * 2,
        "policies": users * 3,
        "newcomers": max(1, users // 100),
    }


def fill(connection: sa.Connection, sizes: dict[str, int]) -> None:
    # Foreign keys are checked by triggers; the loader's rows are consistent by
    # construction, so it skips them (superuser only) to load in minutes, not hours.
    connection.exec_driver_sql("SET session_replication_role = replica")
    for table, sql in FILL:
        started = time.perf_counter()
        connection.execute(sa.text(sql), sizes)
        connection.commit()
        print(f"  filled {table} in {time.perf_counter() - started:.1f} s", flush=True)
    connection.exec_driver_sql("SET session_replication_role = origin")
    connection.commit()


def write_path_cost(connection: sa.Connection, rows: int) -> dict[str, float]:
    count = connection.execute(sa.text("SELECT count(*) FROM requests")).scalar()
    index_bytes = connection.execute(
        sa.text(
            "SELECT sum(pg_relation_size(indexrelid)) FROM pg_index"
            " WHERE indrelid = 'requests'::regclass AND NOT indisprimary"
        )
    ).scalar()
    pk_bytes = connection.execute(
        sa.text(
            "SELECT pg_relation_size(indexrelid) FROM pg_index"
            " WHERE indrelid = 'requests'::regclass AND indisprimary"
        )
    ).scalar()
    # The same table with the same rows, checks and foreign keys, but no secondary index.
    connection.exec_driver_sql(
        "CREATE TABLE requests_pk_only"
        " (LIKE requests INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
    )
    connection.exec_driver_sql(
        "ALTER TABLE requests_pk_only ADD PRIMARY KEY (request_id),"
        " ADD FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE RESTRICT,"
        " ADD FOREIGN KEY (api_key_id) REFERENCES api_keys (api_key_id) ON DELETE RESTRICT"
    )
    connection.exec_driver_sql("SET session_replication_role = replica")
    connection.exec_driver_sql("INSERT INTO requests_pk_only SELECT * FROM requests")
    connection.exec_driver_sql(
        "SELECT setval(pg_get_serial_sequence('requests_pk_only', 'request_id'),"
        " (SELECT max(request_id) FROM requests_pk_only))"
    )
    connection.exec_driver_sql("SET session_replication_role = origin")
    connection.commit()
    insert = (
        "INSERT INTO {table} (user_id, api_key_id, method, path, status_code, outcome, cost,"
        " latency_ms) SELECT md5('u' || (n % 1000 + 1))::uuid, md5('k' || (n % 1000 + 1))::uuid,"
        " 'POST', '/v1/bench', 201, 'completed', 0.0002, 12 FROM generate_series(1, :rows) n"
    )
    timings: dict[str, list[float]] = {"requests": [], "requests_pk_only": []}
    for _ in range(3):
        for table in timings:
            started = time.perf_counter()
            connection.execute(sa.text(insert.format(table=table)), {"rows": rows})
            connection.commit()
            timings[table].append(time.perf_counter() - started)
    with_all = rows / statistics.median(timings["requests"])
    pk_only = rows / statistics.median(timings["requests_pk_only"])
    return {
        "secondary index bytes per row": index_bytes / count,
        "primary key bytes per row": pk_bytes / count,
        "inserts/s with every index": with_all,
        "inserts/s with the primary key only": pk_only,
        "ratio (every index / primary key only)": with_all / pk_only,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=25)
    args = parser.parse_args()
    sizes = sizes_at(args.scale)
    users = sizes["users"]
    print(f"scale {args.scale}: {json.dumps(sizes)}", flush=True)
    random.seed(20261124)

    with TemporaryPostgres() as server:
        # A scratch server, migrated as its superuser.
        migrate(
            MigrationRequest(
                script_location=str(ROOT / "migrations"), url=server.url(), allow_superuser=True
            )
        )
        engine = sa.create_engine(server.url(), poolclass=sa.NullPool)
        with engine.connect() as connection:
            connection.exec_driver_sql("SET synchronous_commit = off")
            fill(connection, sizes)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as maintenance:
            maintenance.exec_driver_sql("VACUUM ANALYZE")
        with engine.connect() as connection:
            print("\nhot path | median ms | max ms | big sequential scan | access paths")
            for name, sql in HOT_PATHS.items():
                times, paths, seq_any = [], set(), False
                for sample in range(args.samples + 1):
                    params = {
                        "k": random.randint(1, sizes["keys"]),
                        "u": random.randint(1, users),
                        "p": random.randint(1, sizes["payments"]),
                        "n": users + random.randint(1, sizes["newcomers"]),
                    }
                    if sample == args.samples:
                        used, seq = trigger_plans(connection, sql, params)
                    else:
                        elapsed, used, seq = explain(connection, sql, params)
                        times.append(elapsed)
                    paths.update(used)
                    seq_any |= seq
                print(
                    f"{name} | {statistics.median(times):.3f} | {max(times):.3f} | "
                    f"{'YES' if seq_any else 'no'} | {', '.join(sorted(paths))}"
                )
            print("\nwrite path of requests")
            for key, value in write_path_cost(connection, rows=200_000).items():
                print(f"  {key}: {value:.2f}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
