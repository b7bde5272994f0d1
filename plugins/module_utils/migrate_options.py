"""The alembic_migrate module's own options, each stated once.

As module_utils/connection.py does for the connection options, every entry is the
option's argument spec and its documentation together: argument_spec() gives the module
its spec, documentation() the doc fragment backend_db.postgresql.alembic_migrate
(plugins/doc_fragments/alembic_migrate.py, which scripts/write_doc_fragment.py writes from
it), and the logic takes its defaults from here (DEFAULTS). Each option whose name is a field of
alembic_migration.MigrationRequest reaches it under that name, so adding an option is an
entry here and, when the logic reads it, a field there.
"""

from __future__ import annotations

OPTIONS: dict[str, dict] = {
    "script_location": {
        "type": "path",
        "required": True,
        "description": [
            "Directory holding the Alembic environment (C(env.py)) and its C(versions/).",
        ],
    },
    "revision": {
        "type": "str",
        "default": "head",
        "description": [
            "The revision to migrate to. C(head) is the newest revision of the scripts, "
            "C(base) an empty schema, anything else a (possibly shortened) revision id.",
        ],
    },
    "allow_downgrade": {
        "type": "bool",
        "default": False,
        "description": [
            "Allow going to a revision older than the database's current one. Downgrades "
            "usually destroy data, so this is off unless asked for.",
        ],
    },
    "concurrent_run_timeout": {
        "type": "float",
        "default": 300,
        "description": [
            "Seconds to wait for a concurrent run (from another host) to release the "
            "migration's advisory lock before failing.",
        ],
    },
    # Eighteen attempts at a revision's locks: no application query waits more than 1 s
    # behind a lock request; about 28 s in all before the run gives up.
    "lock_attempts": {
        "type": "list",
        "elements": "float",
        "default": [*(0.1,) * 3, *(0.2,) * 3, *(0.5,) * 3, *(1.0,) * 9],
        "description": [
            "How long each attempt at a revision may wait for its table locks, in seconds, "
            "attempt by attempt. Each attempt first takes every table lock the revision's "
            "statements need, in one statement bounded by its timeout (so it never holds one "
            "table while waiting for another), then runs the revision in the same "
            "transaction. Application queries queue behind a lock request for at most the "
            "current attempt's timeout; between attempts, O(lock_retry_pause) apart, nothing "
            "waits on the tables. After the last attempt the run gives up.",
            "The default is three attempts each of 0.1, 0.2 and 0.5 seconds, then nine of 1 "
            "second, about 28 seconds in all with the pauses, so no application query waits "
            "more than 1 second behind a migration's lock request.",
        ],
    },
    "lock_retry_pause": {
        "type": "float",
        "default": 1,
        "description": [
            "Seconds between two attempts at a revision's locks.",
        ],
    },
    "idle_in_transaction_timeout": {
        "type": "float",
        "default": 10,
        "description": [
            "Seconds the migration's session may sit idle inside a revision's transaction "
            "(PostgreSQL C(idle_in_transaction_session_timeout)). A runner that stops after "
            "its DDL - its process stopped, its VM paused, its network cut - would otherwise "
            "hold the revision's table locks, and every application query queued behind them, "
            "until someone ends it; the server ends the session after this long, rolls the "
            "revision back and frees the tables. C(0) never ends it.",
            "The connection also sends TCP keepalives both ways, so a vanished peer is "
            "noticed after about 11 seconds of silence.",
        ],
    },
    "statement_timeout": {
        "type": "float",
        "default": 0,
        "description": [
            "PostgreSQL C(statement_timeout), in seconds, for every statement of a migration; "
            "a longer statement fails and its revision rolls back. C(0), the default, sets no "
            "limit (a large backfill or index build may take long).",
        ],
    },
    "lock_hold_timeout": {
        "type": "float",
        "default": 5,
        "description": [
            "How long a revision may hold the table locks it took, in seconds, all its "
            "statements together; application queries queue behind them that long at most. A "
            "revision that runs over is stopped and rolled back, and the error names it.",
            "A revision may give its own bound, a module-level C(lock_hold_timeout = 60) in "
            "its script, for a change that must rewrite a table. C(0) sets no bound.",
            "Concurrent index builds and batched backfills, which run outside the revision's "
            "transaction, take no locks up front and are not bounded by it.",
        ],
    },
    "render_sql": {
        "type": "bool",
        "default": False,
        "description": [
            "Return the SQL of the pending revisions (rendered offline) in RV(sql) even "
            "without C(--diff); with check mode this previews a migration for review.",
        ],
    },
    "allow_superuser": {
        "type": "bool",
        "default": False,
        "description": [
            "Apply revisions as a superuser. What a superuser creates belongs to it, so the "
            "database's owner could not migrate it further and the runtime role could not use "
            "it; only for a scratch database.",
        ],
    },
    "restore_point": {
        "type": "bool",
        "default": False,
        "description": [
            "When revisions are pending, write a named restore point into the WAL "
            "(C(pg_create_restore_point)) under the migration lock, just before the first is "
            "applied, and return it in RV(restore_point). With WAL archived and a backup "
            "taken before it (the backup role does both), the database can be recovered to "
            "exactly before the migration (C(playbooks/restore.yml)).",
            "Its name is C(before-<first pending revision>-<UTC time, YYYYMMDDTHHMMSSZ>).",
            "The login role needs EXECUTE on C(pg_create_restore_point(text)) (the "
            "app_database role grants it to the owner); without it nothing is applied.",
        ],
    },
}

# What AnsibleModule reads of an entry; the rest is documentation.
SPEC_KEYS = ("type", "default", "aliases", "choices", "no_log", "elements", "required")
# Each option's default, for the logic (alembic_migration.MigrationRequest).
DEFAULTS = {name: entry.get("default") for name, entry in OPTIONS.items()}
DEFAULT_LOCK_ATTEMPTS = tuple(DEFAULTS["lock_attempts"])


def argument_spec() -> dict:
    """The module's own options' part of its argument spec."""
    return {
        name: {key: value for key, value in entry.items() if key in SPEC_KEYS}
        for name, entry in OPTIONS.items()
    }


def documentation() -> dict:
    """The doc fragment's DOCUMENTATION, as the YAML it holds reads."""
    return {"options": {name: dict(entry) for name, entry in OPTIONS.items()}}
