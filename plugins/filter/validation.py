"""Filters that check the roles' variables (plugins/module_utils/validation*.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: variable_errors
short_description: Every problem with a role's variables, one sentence each
description:
  - Takes a role's variables by name (its argument_specs options, as the inventory set
    them) and returns a list of sentences, each naming a variable and what it must be -
    names, addresses, ports, paths, settings and certificates that reach files, commands
    and SQL, checked by their type, range and syntax (a line break or a quote can never
    reach a file), and how they fit together. Empty when all are well-formed.
  - The shared role's values (C(backend_*)) among them are checked too, by the roles that
    write them into a file, a command or SQL (postgresql, patroni, haproxy, migrations).
  - C(missing_libraries) returns the names of a list of libraries that the host's
    PostgreSQL lib directory (a list of its C(.so) paths) does not have.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The role's variables by name.
    type: dict
    required: true
  role:
    description: The role whose variables these are.
    type: str
    required: true
    choices: [postgresql, app_database, backup, migrations, haproxy, patroni, pgbouncer]
  context:
    description:
      - What the role's checks need to know of the play, by role - C(app_database)
        C(offered_extensions); C(backup) C(host), C(inventory), C(play_hosts),
        C(cluster), C(members), C(hostvars); C(migrations) C(play_hosts); C(haproxy)
        C(clusters), C(groups); C(pgbouncer) C(postgresql_port).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: The variables are well-formed
  ansible.builtin.assert:
    that: errors | length == 0
    fail_msg: "{{ errors | join('; ') }}"
  vars:
    errors: >-
      {{ {'postgresql_client_roles': ['backend_app']}
         | backend_db.postgresql.variable_errors('postgresql') }}
"""

RETURN = r"""
_value:
  description: One sentence per problem.
  type: list
  elements: str
"""

# Ansible finds any one of the collection's filters by importing every filter file, in
# each task's process: this file imports what its filters run only when one is called
# (tests/unit/test_filter_imports.py).

# The roles that write the shared values (backend_*) into files, commands or SQL: each
# checks them with its own variables (the postgresql role first on a server, so one run
# names every problem of the server's).
SHARED_READERS = ("postgresql", "patroni", "haproxy", "migrations", "pgbouncer")


def variable_errors(variables, role, context=None):
    """The role's own checks, then the shared values' when the role writes them."""
    from ansible_collections.backend_db.postgresql.plugins.module_utils import (
        validation_postgresql,
    )
    from ansible_collections.backend_db.postgresql.plugins.module_utils.validation import (
        early,
        shared_errors,
    )
    from ansible_collections.backend_db.postgresql.plugins.module_utils.validation_roles import (
        app_database_errors,
        backup_errors,
        exporters_errors,
        haproxy_errors,
        migrations_errors,
        monitoring_errors,
        patroni_errors,
        pgbouncer_errors,
    )

    checks = {
        "postgresql": validation_postgresql.postgresql_errors,
        "app_database": app_database_errors,
        "backup": backup_errors,
        "migrations": migrations_errors,
        "haproxy": haproxy_errors,
        "patroni": patroni_errors,
        "pgbouncer": pgbouncer_errors,
        "exporters": exporters_errors,
        "monitoring": monitoring_errors,
    }
    variables = dict(variables)
    context = dict(context or {})
    # Before the postgresql role ran (context early), the shared values are its to name.
    shared = shared_errors(variables) if role in SHARED_READERS and not early(context) else []
    return checks[role](variables, context) + shared


def missing_libraries(names, installed):
    from ansible_collections.backend_db.postgresql.plugins.module_utils import (
        validation_postgresql,
    )

    return validation_postgresql.missing_libraries(list(names), list(installed))


class FilterModule:
    def filters(self):
        return {"variable_errors": variable_errors, "missing_libraries": missing_libraries}
