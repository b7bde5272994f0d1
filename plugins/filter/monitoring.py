"""Filters over the collection's Prometheus alert rules (roles/monitoring/files/alerts.yml)."""

from __future__ import annotations

from collections.abc import Mapping

DOCUMENTATION = r"""
---
name: alert_rules
short_description: The collection's alert rules, with the durations an inventory gives
description:
  - Takes the text of a Prometheus rule file and gives it again with the C(for) duration of
    each alert named in I(durations) replaced by the one given there; the other alerts keep
    theirs. The monitoring role installs the result, so a rule's duration is a variable
    (C(monitoring_alert_durations)) and the rule file is written once.
  - Its twin C(alert_names) gives the names of the file's alerts, in order.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
options:
  _input:
    description: The text of a Prometheus rule file.
    type: str
    required: true
  durations:
    description: By alert name, how long (C(30s), C(5m)) its condition must hold before it fires.
    type: dict
"""

EXAMPLES = r"""
- name: The alert rules are installed, the archiving alert after one minute
  ansible.builtin.copy:
    content: >-
      {{ lookup('ansible.builtin.file', 'alerts.yml')
         | backend_db.postgresql.alert_rules({'BackendDbWalArchivingFailing': '1m'}) }}
    dest: /etc/prometheus/backend-db-alerts.yml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The rule file, as YAML.
  type: str
"""

import yaml  # noqa: E402
from ansible.errors import AnsibleFilterError  # noqa: E402


def _alerts(text: str) -> list[dict]:
    rules = yaml.safe_load(text) or {}
    return [
        rule
        for group in rules.get("groups", [])
        for rule in group.get("rules", [])
        if "alert" in rule
    ]


def alert_names(text: str) -> list[str]:
    return [rule["alert"] for rule in _alerts(text)]


def alert_rules(text: str, durations: Mapping | None = None) -> str:
    durations = dict(durations or {})
    rules = yaml.safe_load(text)
    unknown = sorted(set(durations) - set(alert_names(text)))
    if unknown:
        raise AnsibleFilterError(f"the rule file has no alert named {', '.join(unknown)}")
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in durations:
                rule["for"] = str(durations[rule["alert"]])
    return yaml.safe_dump(rules, sort_keys=False, width=1000, allow_unicode=True)


# The exporters each server runs, as the exporters role names their ports, and the
# collection's jobs for them (the rule file selects by job).
EXPORTERS = (
    ("backend_db_postgres", "exporters_postgres_port", None),
    ("backend_db_node", "exporters_node_port", "exporters_node_enabled"),
)


def scrape_jobs(
    hosts: list, hostvars: Mapping, defaults: Mapping, members: list | None = None
) -> list[dict]:
    """By job, the address:port of each exporter the servers `hosts` run: those whose
    backend_exporters_enabled is true, at their monitoring_address (else their name); and
    Patroni's REST API on those of them that are `members` of a Patroni cluster (it serves
    its own /metrics). `defaults` holds what a host's variables leave out (the exporters
    role's defaults, backend_exporters_enabled and patroni_restapi_port)."""
    jobs = {exporter[0]: [] for exporter in EXPORTERS}
    jobs["backend_db_patroni"] = []
    for host in hosts:
        known = hostvars[host]

        def value(name, known=known):
            return known[name] if name in known else defaults.get(name)

        address = str(value("monitoring_address") or host)
        address = f"[{address}]" if ":" in address else address
        if host in (members or []):
            jobs["backend_db_patroni"].append(f"{address}:{value('patroni_restapi_port')}")
        if not _true(value("backend_exporters_enabled")):
            continue
        for job, port, switch in EXPORTERS:
            if switch is None or _true(value(switch)):
                jobs[job].append(f"{address}:{value(port)}")
    return [{"name": job, "targets": targets} for job, targets in jobs.items() if targets]


def _true(value) -> bool:
    return value is True or str(value).lower() in ("true", "yes", "1")


class FilterModule:
    def filters(self):
        return {"alert_rules": alert_rules, "alert_names": alert_names, "scrape_jobs": scrape_jobs}
