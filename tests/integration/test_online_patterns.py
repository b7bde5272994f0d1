"""The online-safe patterns of docs/operations.md, each an example revision applied here.

They run with the module's defaults against a database holding rows, the way a
production database would be migrated beside its traffic.
"""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from devtools.paths import ROOT
from tests.helpers import add_revision, head_revision, run

HEAD = head_revision()
SEED = (ROOT / "molecule" / "upgrade" / "files" / "seed.sql").read_text()

EXPAND = "e1a000000001"
BACKFILL = "e1a000000002"
CONTRACT = "e1a000000003"


def test_a_type_change_by_expand_backfill_in_batches_and_contract(database, scripts):
    run(database)
    database.execute(SEED)  # 100 requests, among other rows
    # Every UPDATE statement on requests records its transaction: the batches show.
    database.execute(
        "CREATE TABLE backfill_log (xid xid8);"
        "CREATE FUNCTION log_xid() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN INSERT INTO backfill_log VALUES (pg_current_xact_id()); RETURN NULL; END$$;"
        "CREATE TRIGGER log_xid AFTER UPDATE ON requests FOR EACH STATEMENT"
        " EXECUTE FUNCTION log_xid()"
    )
    add_revision(
        scripts, EXPAND, HEAD, "expand: requests cost in micros",
        "op.add_column('requests', sa.Column('cost_micros', sa.BigInteger))",
        "op.drop_column('requests', 'cost_micros')",
    )  # fmt: skip
    add_revision(
        scripts, BACKFILL, EXPAND, "backfill cost_micros in batches",
        """
        from migrations.online import backfill_in_batches

        backfill_in_batches(
            "requests", "cost_micros = (cost * 1000000)::bigint", "cost_micros IS NULL",
            batch_size=7,
        )
        """,
    )  # fmt: skip
    add_revision(
        scripts, CONTRACT, BACKFILL, "contract: requests cost in micros only",
        """
        op.alter_column('requests', 'cost_micros', nullable=False)
        op.drop_column('requests', 'cost')
        """,
    )  # fmt: skip

    preview = run(database, scripts, check_mode=True, render_sql=True)
    assert "cost_micros IS NULL LIMIT 7 FOR UPDATE)) -- repeated until it updates fewer rows" in (
        preview.sql
    )

    result = run(database, scripts)
    assert [step.revision for step in result.applied] == [EXPAND, BACKFILL, CONTRACT]
    assert database.scalar("SELECT sum(cost_micros) FROM requests") == 5_050_000
    # 100 rows, 7 a batch: 14 full batches and a last one of 2, each its own transaction.
    assert database.scalar("SELECT count(DISTINCT xid) FROM backfill_log") == 15
    assert (
        database.scalar(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'requests' AND column_name = 'cost'"
        )
        == 0
    )


def test_a_constraint_added_not_valid_is_validated_beside_open_writes(database, scripts):
    run(database)
    database.execute(SEED)
    add_revision(
        scripts, "ac0000000001", HEAD, "check request latencies, new rows only",
        "op.execute('ALTER TABLE requests ADD CONSTRAINT ck_requests_latency_under_an_hour"
        " CHECK (latency_ms < 3600000) NOT VALID')",
    )  # fmt: skip
    add_revision(
        scripts, "ac0000000002", "ac0000000001", "validate request latencies",
        "op.execute('ALTER TABLE requests VALIDATE CONSTRAINT ck_requests_latency_under_an_hour')",
    )  # fmt: skip
    run(database, scripts, revision="ac0000000001")

    # An application transaction that wrote a request and stays open for 3 s.
    opened = threading.Event()

    def write_and_hold() -> None:
        engine = database.engine()
        with engine.connect() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO requests (user_id, method, path, status_code, outcome, cost,"
                    " latency_ms) SELECT user_id, 'GET', '/v1/held', 200, 'completed', 0.5, 1"
                    " FROM users LIMIT 1"
                )
            )
            opened.set()
            time.sleep(3)
            connection.commit()
        engine.dispose()

    writer = threading.Thread(target=write_and_hold)
    writer.start()
    opened.wait(10)
    started = time.monotonic()
    result = run(database, scripts)
    took = time.monotonic() - started
    writer.join()
    assert [step.revision for step in result.applied] == ["ac0000000002"]
    # VALIDATE takes SHARE UPDATE EXCLUSIVE, which open writes do not block.
    assert took < 2, f"validating waited {took:.1f} s for the open write"
    assert (
        database.scalar(
            "SELECT convalidated FROM pg_constraint"
            " WHERE conname = 'ck_requests_latency_under_an_hour'"
        )
        is True
    )
