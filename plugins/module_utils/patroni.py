"""The Patroni cluster's dynamic settings, compared in plain Python so that pytest tests them.

Patroni keeps a cluster's dynamic settings (ttl, loop_wait, synchronous_mode, the
PostgreSQL parameters every member must share...) in its DCS, written from
``bootstrap.dcs`` only when the cluster is made. The patroni role reads them through the
REST API on every run and sends back only what differs from the inventory.
"""

from __future__ import annotations


def _normal(value: object) -> str:
    """A setting's value as compared: JSON's true and false, numbers and strings alike."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def dcs_patch(current: object, desired: dict) -> dict:
    """The part of `desired` that `current` (GET /config's answer) does not hold: a body
    for PATCH /config, which merges it; empty when the cluster already has every value.
    Settings that `desired` does not name are left as they are."""
    have = current if isinstance(current, dict) else {}
    patch = {}
    for key, want in desired.items():
        if isinstance(want, dict):
            inner = dcs_patch(have.get(key), want)
            if inner:
                patch[key] = inner
        elif key not in have or _normal(have[key]) != _normal(want):
            patch[key] = want
    return patch
