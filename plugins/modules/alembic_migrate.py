#!/usr/bin/python
"""Ansible module alembic_migrate: the thin face of plugins/module_utils/alembic_migration.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: alembic_migrate
short_description: Migrate a PostgreSQL database with Alembic, idempotently
description:
  - Brings a PostgreSQL database to an Alembic revision (by default the newest, C(head))
    and reports a change only when it applied at least one revision. A second run is a
    no-op that reports C(changed=false).
  - Holds a PostgreSQL advisory lock while it works, so that several hosts running the
    same play at once apply each revision exactly once; the others wait (for at most
    O(concurrent_run_timeout) seconds) and then find nothing left to do.
  - Each revision runs in its own transaction. A revision that fails leaves nothing of
    itself behind, and the error names it.
  - Refuses to go to an older revision unless O(allow_downgrade=true).
  - In check mode, reports the pending revisions as a change and writes nothing.
    With C(--diff), returns the SQL of the pending revisions, rendered offline.
  - Needs alembic, SQLAlchemy 2 and psycopg2 on the target's Python (the migrations role
    builds a virtualenv for this and points C(ansible_python_interpreter) at it).
  - The common run, a database that already records the one head of the scripts, is
    recognised without importing Alembic or SQLAlchemy - the revision ids are read from
    the scripts' source, the recorded revision with psycopg2 - when the login options
    (not O(url)) are used, O(revision=head) and no SQL is asked for. Anything unusual
    (several heads, branch labels, dependencies, a failed connection) is decided the
    usual way, with Alembic.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - backend_db.postgresql.connection
  - backend_db.postgresql.alembic_migrate
attributes:
  check_mode:
    support: full
    details: Reports the pending revisions and applies none.
  diff_mode:
    support: full
    details: The diff is the SQL of the pending revisions, rendered offline.
  platform:
    platforms: posix
notes:
  - O(login_user) must be allowed to run the migrations' DDL, and should be the database's
    owner. A superuser is refused when there are revisions to apply, unless
    O(allow_superuser=true).
  - A standby (a server in recovery, such as a Patroni replica) is refused, in check mode
    too, before anything else; migrations go to the primary.
  - Passwords given in O(url) or O(login_password) never appear in results or errors.
  - Ad hoc (C(ansible HOST -m alembic_migrate -a ...)), leave the password out of the
    arguments - ansible-core prints a failed ad hoc task's arguments whatever C(no_log)
    says - and let libpq read it on the host from C(PGPASSWORD) or C(~/.pgpass).
requirements:
  - alembic
  - SQLAlchemy >= 2.0
  - psycopg2
"""

EXAMPLES = r"""
- name: The backend database schema is at the newest revision
  alembic_migrate:
    script_location: /srv/backend/migrations
    login_host: 127.0.0.1
    login_user: backend_owner
    login_password: "{{ backend_owner_password }}"
    login_db: backend
  vars:
    ansible_python_interpreter: /srv/backend/venv/bin/python

- name: The schema is rolled back to a known revision
  alembic_migrate:
    script_location: /srv/backend/migrations
    url: "{{ backend_database_url }}"
    revision: 34d3f5866348
    allow_downgrade: true
"""

RETURN = r"""
direction:
  description: C(upgrade), C(downgrade) or C(none).
  returned: success
  type: str
  sample: upgrade
before:
  description: The database's revision(s) before the run; empty for an empty schema.
  returned: success
  type: list
  elements: str
  sample: []
after:
  description: The revision(s) after the run (in check mode, after the run it previews).
  returned: success
  type: list
  elements: str
  sample: ["34d3f5866348"]
target:
  description: The full id of the revision asked for; null for base.
  returned: success
  type: str
  sample: 34d3f5866348
pending:
  description: The revisions the run found to do, in order, each with its message.
  returned: success
  type: list
  elements: dict
  sample: [{"revision": "34d3f5866348", "message": "initial schema"}]
applied:
  description: The revisions applied (or undone when downgrading), in order; empty in check mode.
  returned: success
  type: list
  elements: dict
  sample: [{"revision": "34d3f5866348", "message": "initial schema"}]
attempts:
  description:
    - Each attempt at a revision, in order, with the lock timeout it had
      (C(lock_timeout)), when it started in seconds into the run (C(started)), how long
      it took (C(seconds)) and its C(outcome) - C(applied), C(timeout) (its locks were not
      granted in time; the next attempt follows) or C(failed). Empty when nothing ran.
  returned: success
  type: list
  elements: dict
  sample: [{"revision": "34d3f5866348", "lock_timeout": 0.1, "started": 0.05, "seconds": 0.1,
            "outcome": "timeout"}]
restore_point:
  description:
    - The restore point written before the first revision was applied, with O(restore_point).
  returned: when O(restore_point=true) and revisions were applied
  type: dict
  sample:
    name: before-34d3f5866348-20261201T143000Z
    lsn: 0/3000F10
    time: 20261201T143000Z
sql:
  description: The SQL of the pending revisions, rendered offline. Also shown as the diff.
  returned: in diff mode, or when O(render_sql=true)
  type: str
elapsed:
  description: Seconds the module spent, from loading the scripts to the last commit.
  returned: success
  type: float
  sample: 0.084
"""

import math  # noqa: E402
import time  # noqa: E402
from dataclasses import fields  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.backend_db.postgresql.plugins.module_utils import (  # noqa: E402
    connection,
    migrate_options,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_head_check import (  # noqa: E402
    CannotConnect,
    recorded_head,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.connection import (  # noqa: E402
    APPLICATION_NAME,
    libpq_options,
    login_connect_args,
)
from ansible_collections.backend_db.postgresql.plugins.module_utils.result import MigrationResult  # noqa: E402


def login(params: dict) -> dict:
    """The login_* options, with the TLS options as libpq keywords, for build_url and
    login_connect_args alike."""
    return {name: params[name] for name in connection.LOGIN_OPTIONS} | {
        "options": libpq_options(**{name: params[name] for name in connection.TLS_OPTIONS})
    }


def argument_spec() -> dict:
    """Both tables of options: the module's own and how it connects."""
    return {**migrate_options.argument_spec(), **connection.argument_spec()}


# PostgreSQL takes its timeouts as whole milliseconds up to 2^31 - 1.
LONGEST = 2147483


def seconds_problem(name: str, value: float, forever: bool) -> str | None:
    """Why `value` is no timeout PostgreSQL can be given, in one sentence; None if it is.

    Less than a millisecond would silently become 0, which means no limit.
    """
    if value == 0 and forever:
        return None
    if not math.isfinite(value) or not 0.001 <= value <= LONGEST:
        zero = " (or 0 for no limit)" if forever else ""
        return f"{name} must be a number of seconds from 0.001 to {LONGEST}{zero}, not {value}"
    return None


def option_problem(params: dict) -> str | None:
    """The first option whose value cannot work, said in one sentence; None if all can."""
    if not 1 <= params["connect_timeout"] <= LONGEST:
        return (
            f"connect_timeout must be a whole number of seconds from 1 to {LONGEST} "
            f"(0 would wait forever), not {params['connect_timeout']}"
        )
    if not params["lock_attempts"]:
        return "lock_attempts must name at least one attempt, such as [0.1, 0.5, 1]"
    checks = [
        ("concurrent_run_timeout", params["concurrent_run_timeout"], False),
        ("lock_retry_pause", params["lock_retry_pause"], True),
        ("idle_in_transaction_timeout", params["idle_in_transaction_timeout"], True),
        ("statement_timeout", params["statement_timeout"], True),
        ("lock_hold_timeout", params["lock_hold_timeout"], True),
        *(("lock_attempts", value, False) for value in params["lock_attempts"]),
    ]
    return next(
        (problem for check in checks if (problem := seconds_problem(*check)) is not None), None
    )


def already_at_head(module: AnsibleModule) -> None:
    """Exit with nothing to do when the database records the scripts' one head.

    The common run, answered without Alembic (see plugins/module_utils/alembic_head_check.py).
    Only for the login_* options and revision head with no SQL asked for; anything
    else, and any doubt, is left to the usual path.
    """
    params = module.params
    if params["url"] or params["revision"] != "head" or params["render_sql"] or module._diff:
        return
    started = time.monotonic()
    try:
        head = recorded_head(
            params["script_location"],
            **login_connect_args(**login(params)),
            connect_timeout=params["connect_timeout"],
            application_name=APPLICATION_NAME,
        )
    except CannotConnect as failure:
        # The usual path would wait as long again to fail the same way: say it now.
        url = connection.build_url(**login(params))
        module.fail_json(msg=str(connection.connection_failure(url, failure.error)))
    if head is not None:
        elapsed = time.monotonic() - started
        unchanged = MigrationResult(False, "none", [head], [head], head, elapsed=elapsed)
        module.exit_json(**unchanged.as_dict())


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("url", "login_db")],
        mutually_exclusive=[
            ("url", "login_db"),
            *(("url", name) for name in connection.TLS_OPTIONS),
        ],
    )
    params = module.params
    problem = option_problem(params)
    if problem:
        module.fail_json(msg=problem)
    already_at_head(module)

    # Imported only now: Alembic and SQLAlchemy take most of a run's time to import.
    from ansible_collections.backend_db.postgresql.plugins.module_utils.alembic_migration import (
        IMPORT_ERROR,
        MigrationError,
        MigrationRequest,
        migrate,
    )

    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("alembic, SQLAlchemy and psycopg2"))
    # Each of the module's own options that the logic reads, under its own name.
    taken = {field.name for field in fields(MigrationRequest)}
    own = {name: params[name] for name in migrate_options.OPTIONS if name in taken}
    own.update(
        lock_attempts=tuple(own["lock_attempts"]), render_sql=module._diff or own["render_sql"]
    )

    url = None
    try:
        url = connection.build_url(url=params["url"], **login(params))
        result = migrate(
            MigrationRequest(
                url=url,
                check_mode=module.check_mode,
                connect_timeout=params["connect_timeout"],
                **own,
            )
        )
    except MigrationError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # a defect: still one line, still without a secret
        module.fail_json(
            msg=f"alembic_migrate failed unexpectedly ({type(exc).__name__}): "
            f"{connection.scrub(str(exc), url)}; please report this"
        )

    output = result.as_dict()
    if result.sql:
        output["diff"] = {"prepared": result.sql}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
