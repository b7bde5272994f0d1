"""The schema the design asks for, written down independently of models/ and migrations/.

Both the pytest suite and the Molecule verification check a live database against
this, so dropping an index, a delete rule or an enum value from the models and the
migrations together still fails a test.
"""

from __future__ import annotations

from devtools import catalog

TABLES = {"users", "api_keys", "budgets", "policies", "payments", "requests"}
ENUMS = {
    "user_status": ["active", "suspended", "deactivated"],
    "api_key_status": ["active", "revoked", "expired"],
    "budget_period": ["daily", "weekly", "monthly", "total"],
    "policy_kind": ["rate_limit", "spend_cap", "endpoint_allowlist", "endpoint_denylist"],
    "payment_status": ["pending", "succeeded", "failed", "refunded"],
    "request_outcome": ["completed", "rate_limited", "budget_exceeded", "policy_denied", "failed"],
}
FOREIGN_KEYS = {
    ("api_keys", ("user_id",)): ("users", "CASCADE"),
    ("budgets", ("user_id",)): ("users", "CASCADE"),
    ("policies", ("user_id",)): ("users", "CASCADE"),
    ("payments", ("user_id",)): ("users", "RESTRICT"),
    ("requests", ("user_id",)): ("users", "RESTRICT"),
    # Keys that made requests are revoked, not deleted: the request log is never rewritten.
    ("requests", ("api_key_id",)): ("api_keys", "RESTRICT"),
}
# The hot paths: key lookup by hash, a user's requests over time, a user's enabled
# policies by priority, payment by provider reference.
HOT_PATHS = {
    "api_keys": ("key_hash",),
    "requests": ("user_id", "created_at"),
    "policies": ("user_id", "priority"),
    "payments": ("provider", "provider_reference"),
}
INDEXES = {
    "pk_users",
    "uq_users_lower_email",
    "pk_api_keys",
    "uq_api_keys_key_hash",
    "ix_api_keys_user_id_status",
    "pk_budgets",
    "ix_budgets_user_id_is_active",
    "pk_policies",
    "ix_policies_user_id_priority",
    "uq_policies_user_id_name",
    "pk_payments",
    "uq_payments_provider_provider_reference",
    "ix_payments_user_id_created_at",
    "pk_requests",
    "ix_requests_user_id_created_at",
    "ix_requests_api_key_id",
}


def assert_matches_design(query: catalog.Query) -> None:
    assert {name for (name, *_) in query(catalog.TABLES)} == TABLES
    assert {name: list(labels) for name, labels in query(catalog.ENUMS)} == ENUMS
    assert catalog.foreign_keys(query) == FOREIGN_KEYS
    assert {name for _, name, *_ in query(catalog.INDEXES)} == INDEXES
    usable = catalog.index_columns(query)
    for table, columns in FOREIGN_KEYS:
        leading = [cols[: len(columns)] for cols in usable[table]]
        assert columns in leading, f"no index on {table} starts with {columns}"
    all_indexes = {(table, tuple(cols)) for table, _, cols, _ in query(catalog.INDEX_COLUMNS)}
    for table, columns in HOT_PATHS.items():
        assert (table, columns) in all_indexes, f"hot path {table}{columns} has no index"
