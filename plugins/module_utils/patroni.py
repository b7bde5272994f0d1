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


# A member in one of these states serves, and can take the leader's role.
READY = ("running", "streaming")


def switchover_candidate(members: object, leader: str, synchronous: bool) -> str:
    """The member `leader` hands its role to, from `patronictl list --format json`: in
    synchronous mode only the synchronous standby, which Patroni alone accepts (412
    otherwise); without it the synchronous one first, then any replica. Each must run or
    stream. Empty when none does: a standby that has just restarted is missing from the
    listing, or not yet named synchronous again, for a few of Patroni's cycles."""
    listed = members if isinstance(members, list) else []
    ready = [
        m
        for m in listed
        if isinstance(m, dict) and m.get("Member") != leader and m.get("State") in READY
    ]
    chosen = [m for m in ready if m.get("Role") == "Sync Standby"]
    if not synchronous:
        chosen += [m for m in ready if m.get("Role") == "Replica"]
    return str(chosen[0]["Member"]) if chosen else ""
