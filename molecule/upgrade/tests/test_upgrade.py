"""After the upgrade: only the new revision ran, and every row is still there."""

from __future__ import annotations

import json

from devtools.container import psql_query
from models import Base
from tests.helpers import head_revision

TABLES = sorted(Base.metadata.tables)

testinfra_hosts = [f"podman://backend-db-upgrade-{release}" for release in (12, 13)]


def test_only_the_new_revision_was_applied(host, new_revision):
    result = json.loads(host.file("/root/upgrade-result.json").content_string)
    assert result["changed"] is True
    assert result["before"] == [head_revision()]
    assert [step["revision"] for step in result["applied"]] == [new_revision]
    assert result["after"] == [new_revision]


def test_the_database_is_at_the_new_revision_with_its_column(host, new_revision):
    query = psql_query(host)
    assert query("SELECT version_num FROM alembic_version") == [(new_revision,)]
    assert query(
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 'users' AND column_name = 'locale'"
    ) == [("character varying",)]


def test_every_row_survived_the_upgrade(host):
    query = psql_query(host)
    # Every table of the models, counted.
    counts = dict(
        query(" UNION ALL ".join(f"SELECT '{table}', count(*) FROM {table}" for table in TABLES))
    )
    assert counts == {
        "users": "2",
        "api_keys": "2",
        "budgets": "1",
        "policies": "1",
        "payments": "1",
        "requests": "100",
    }
    assert query("SELECT sum(cost), sum(latency_ms) FROM requests") == [("5.050000", "5050")]
    assert query("SELECT string_agg(email, ',' ORDER BY email) FROM users") == [
        ("ada@example.com,grace@example.com",)
    ]
    assert query("SELECT amount, provider_reference FROM payments") == [("42.50", "pi_123")]
