"""Filters over a Patroni cluster's settings (plugins/module_utils/patroni.py)."""

from __future__ import annotations

from ansible_collections.backend_db.postgresql.plugins.plugin_utils.deferred import deferred

DOCUMENTATION = r"""
---
name: dcs_patch
short_description: What a Patroni cluster's dynamic settings lack of the inventory's
description:
  - Takes the settings Patroni's REST API answers on C(GET /config) and returns the part
    of I(desired) they do not hold, nested as I(desired) is, as the body of a
    C(PATCH /config). Values compare as JSON writes them (C(true), C(20), C(on)), so a
    number given as a string is the same number. Empty when nothing differs.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The cluster's dynamic settings as Patroni answers them.
    type: dict
    required: true
  desired:
    description: The settings the inventory gives.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The cluster's dynamic settings follow the inventory
  ansible.builtin.uri:
    url: https://db1:8008/config
    method: PATCH
    body_format: json
    body: "{{ current.json | backend_db.postgresql.dcs_patch({'ttl': 20, 'loop_wait': 5}) }}"
"""

RETURN = r"""
_value:
  description: The settings to send, nested as I(desired); empty when none differs.
  type: dict
"""


class FilterModule:
    def filters(self):
        # Imported when first called (plugins/plugin_utils/deferred.py).
        return {"dcs_patch": deferred("patroni", "dcs_patch")}
