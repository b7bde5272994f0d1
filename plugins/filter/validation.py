"""Filters that check the roles' variables (plugins/module_utils/validation.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: postgresql_variable_errors
short_description: Every problem with the postgresql role's variables, one sentence each
description:
  - Takes the role's variables by name and returns a list of sentences, each naming a
    variable and what it must be - names, addresses, paths and settings that reach
    PostgreSQL's configuration files, checked by their type, range and syntax (a line
    break or a quote can never reach a file). Empty when all are well-formed.
  - C(missing_libraries) returns the names of a list of libraries that the host's
    PostgreSQL lib directory (a list of its C(.so) paths) does not have.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The role's variables by name.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The variables are well-formed
  ansible.builtin.assert:
    that: errors | length == 0
    fail_msg: "{{ errors | join('; ') }}"
  vars:
    errors: >-
      {{ {'postgresql_client_roles': ['backend_app']}
         | backend_db.postgresql.postgresql_variable_errors }}
"""

RETURN = r"""
_value:
  description: One sentence per problem.
  type: list
  elements: str
"""

from ansible_collections.backend_db.postgresql.plugins.module_utils.validation import (  # noqa: E402
    missing_libraries,
    postgresql_errors,
)


class FilterModule:
    def filters(self):
        return {
            "postgresql_variable_errors": lambda variables: postgresql_errors(dict(variables)),
            "missing_libraries": lambda names, installed: missing_libraries(
                list(names), list(installed)
            ),
        }
