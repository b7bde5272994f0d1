"""Lookup rendered: ansible.builtin.template's lookup, without its deep copy of every variable."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: rendered
short_description: A template rendered on the controller, as the template module would write it
description:
  - Returns what C(ansible.builtin.template) renders from each template named (found in the
    role's C(templates) directory, as that lookup finds it), with the same variables and
    the same Jinja settings, so that its digest is the digest of the file the template
    module writes. The roles compare it with the digest the host's snapshot read, and
    send the file only when they differ.
  - It runs C(ansible.builtin.template)'s lookup itself, giving it the task's variables in
    a mapping whose deep copy is a shallow one. That lookup deep-copies every variable the
    task sees (all of C(hostvars) included) before each rendering, only to add the
    template's own few variables at the top; a re-run of site.yml renders about a dozen
    templates to compare them, and those copies took about 4 % of the controller's time
    (docs/performance.md, section 15). The rendering reads the variables and changes none.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _terms:
    description: The template's name, such as C(pgbouncer.ini.j2).
    required: true
"""

EXAMPLES = r"""
- name: PgBouncer's settings say what the variables say
  ansible.builtin.template:
    src: pgbouncer.ini.j2
    dest: /etc/pgbouncer/pgbouncer.ini
    mode: "0640"
  when: >-
    found_digest != lookup('backend_db.postgresql.rendered', 'pgbouncer.ini.j2') | hash('sha1')
"""

RETURN = r"""
_raw:
  description: The rendered text of each template.
  type: list
  elements: str
"""

from ansible.plugins.loader import lookup_loader  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402


class ShallowCopied(dict):
    """The task's variables, copied (shallowly) once more when deep-copied: the template
    lookup only adds keys at the top of its copy."""

    def __deepcopy__(self, memo: dict) -> dict:
        return dict(self)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        template = lookup_loader.get(
            "ansible.builtin.template", loader=self._loader, templar=self._templar
        )
        return template.run(terms, ShallowCopied(variables or {}), **kwargs)
