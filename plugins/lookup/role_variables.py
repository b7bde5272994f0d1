"""Lookup role_variables: a role's variables by name, as its argument specs list them."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: role_variables
short_description: Every variable a role takes, by name, with the value this run gives it
description:
  - Reads the options of the role's C(main) entry point from its
    C(meta/argument_specs.yml), and those of the roles it depends on (the shared role's
    values), and returns one mapping of each option's name to its value
    in this run, templated as C(ansible.builtin.vars) would (an undefined one is an empty
    string). The argument specs are the one list of what a role takes, so a variable added
    there is validated without being listed again.
  - The roles pass the mapping to the C(backend_db.postgresql.variable_errors) filter.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _terms:
    description: The role's directory (its C(role_path)).
    required: true
"""

EXAMPLES = r"""
- name: The role's variables are well-formed
  ansible.builtin.assert:
    that: errors | length == 0
    fail_msg: "{{ errors | join('; ') }}"
  vars:
    errors: >-
      {{ lookup('backend_db.postgresql.role_variables', role_path)
         | backend_db.postgresql.variable_errors('backup') }}
"""

RETURN = r"""
_raw:
  description: One mapping of the role's variable names to their values.
  type: list
  elements: dict
"""

import os  # noqa: E402

import yaml  # noqa: E402
from ansible.errors import AnsibleError  # noqa: E402
from ansible.plugins.loader import lookup_loader  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402

# libyaml's loader where PyYAML has it: a role's argument specs are read at every check of
# its variables, and the pure-Python loader took most of the lookup's own time (20 ms for
# the postgresql role's, against 2 ms).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(stream) -> object:
    """YAML read with a safe loader (libyaml's CSafeLoader, else PyYAML's SafeLoader)."""
    return yaml.load(stream, Loader=SAFE_LOADER)  # noqa: S506 - both loaders are the safe ones


def option_names(role_path: str) -> list:
    """The options of a role's main entry point, in the order its argument specs give them
    (for a role without tasks, the shared role, those of its entry point "values")."""
    path = os.path.join(role_path, "meta", "argument_specs.yml")
    try:
        with open(path, encoding="utf-8") as specs:
            entries = load_yaml(specs)["argument_specs"]
            entry = entries.get("main") or entries["values"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        raise AnsibleError(f"The role's argument specs {path} cannot be read: {error}") from None
    return list((entry.get("options") or {}).keys())


def dependencies(role_path: str) -> list:
    """The directories of the roles this role depends on (its meta/main.yml), which sit
    beside it in the collection: their variables are the role's too (the shared role's
    values several roles read)."""
    try:
        with open(os.path.join(role_path, "meta", "main.yml"), encoding="utf-8") as meta:
            listed = (load_yaml(meta) or {}).get("dependencies") or []
    except (OSError, yaml.YAMLError):
        return []
    names = [entry["role"] if isinstance(entry, dict) else entry for entry in listed]
    return [
        os.path.join(os.path.dirname(role_path), str(name).rsplit(".", 1)[-1]) for name in names
    ]


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        values = lookup_loader.get(
            "ansible.builtin.vars", loader=self._loader, templar=self._templar
        )
        results = []
        for role_path in terms:
            names = option_names(str(role_path)) + [
                name for path in dependencies(str(role_path)) for name in option_names(path)
            ]
            found = values.run(names, variables, default="") if names else []
            results.append(dict(zip(names, found, strict=True)))
        return results
