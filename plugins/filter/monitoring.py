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
from ansible.module_utils.parsing.convert_bool import boolean  # noqa: E402


def _alerts(rules: Mapping | None) -> list[dict]:
    """The alerting rules of a parsed rule file, in order (the objects themselves)."""
    return [
        rule
        for group in (rules or {}).get("groups", [])
        for rule in group.get("rules", [])
        if "alert" in rule
    ]


def alert_names(text: str) -> list[str]:
    return [rule["alert"] for rule in _alerts(yaml.safe_load(text))]


def alert_rules(text: str, durations: Mapping | None = None) -> str:
    durations = dict(durations or {})
    rules = yaml.safe_load(text)
    alerts = _alerts(rules)
    unknown = sorted(set(durations) - {rule["alert"] for rule in alerts})
    if unknown:
        raise AnsibleFilterError(f"the rule file has no alert named {', '.join(unknown)}")
    for rule in alerts:
        if rule["alert"] in durations:
            rule["for"] = str(durations[rule["alert"]])
    return yaml.safe_dump(rules, sort_keys=False, width=1000, allow_unicode=True)


def host_port(address: object, port: object) -> str:
    """`address:port` as listen flags and scrape targets take it: an IPv6 address in
    brackets; an empty address (every address of the host) gives `:port`."""
    address = str(address or "")
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


# The exporters each server runs, as the exporters role names their ports, and the
# collection's jobs for them (the rule file selects by job).
EXPORTERS = (
    ("backend_db_postgres", "exporters_postgres_port", None),
    ("backend_db_node", "exporters_node_port", "exporters_node_enabled"),
)


def scrape_jobs(
    hosts: list,
    hostvars: Mapping,
    defaults: Mapping,
    members: list | None = None,
    groups: Mapping | None = None,
    proxies: list | None = None,
) -> list[dict]:
    """By job, the address:port of each exporter the servers `hosts` run: those whose
    backend_exporters_enabled is true, at their monitoring_address (else their name); and
    Patroni's REST API on those of them that are `members` of a Patroni cluster (it serves
    its own /metrics). `defaults` holds what a host's variables leave out (the exporters
    role's defaults, backend_exporters_enabled and patroni_restapi_port).

    The members' etcd (job `backend_db_etcd`) serves its own /metrics on its client port:
    each member's, or the hosts of the group its patroni_etcd_group names (`groups`, the
    inventory's), at their monitoring_address.

    The job `backend_db_tls` (with `probe`, the blackbox exporter's module) lists the TLS
    endpoints whose certificates are watched: Patroni's REST API, which presents the
    server's certificate itself, and etcd and the PostgreSQL exporter, which present their
    copies of it.

    The job `backend_db_haproxy` (plain HTTP, `scheme`) lists HAProxy's statistics on each
    of the application hosts `proxies` that serves a cluster's endpoints (haproxy_cluster)
    and its statistics: at its haproxy_metrics_address, else its monitoring_address (the
    haproxy role's default), on haproxy_metrics_port.

    The job `backend_db_repository` (plain HTTP) lists the node exporter of each repository
    host (backup_repo_host) of a server with exporters and backups on: at the server's
    backup_repo_exporter_address, else the repository host's monitoring_address (the backup
    role's default), on backup_repo_exporter_port. A repository host that is a database
    server runs the exporters role itself."""
    jobs = {exporter[0]: [] for exporter in EXPORTERS}
    jobs["backend_db_patroni"] = []
    jobs["backend_db_etcd"] = []
    jobs["backend_db_tls"] = []
    jobs["backend_db_haproxy"] = []
    jobs["backend_db_repository"] = []

    def value(host, name):
        known = hostvars[host]
        return known[name] if name in known else defaults.get(name)

    def target(host, port):
        return host_port(value(host, "monitoring_address") or host, value(host, port))

    def metrics_address(host, name, reached=None):
        """The address `name` gives on the host, else the monitoring_address of the host
        the monitoring network reaches (`reached`, the host itself unless named): the
        haproxy and backup roles' default."""
        address = value(host, name)
        return value(reached or host, "monitoring_address") if address is None else address

    def repository_target(host):
        """The node exporter of the repository host that runs the server's backups and
        writes their metrics (the backup role's, in plain HTTP), if any."""
        repository = value(host, "backup_repo_host")
        if (
            not repository
            or repository in hosts
            or repository not in hostvars
            or not boolean(value(host, "backup_enabled"), strict=False)
            or value(host, "backup_metrics_dir") == ""
        ):
            return None
        address = metrics_address(host, "backup_repo_exporter_address", repository)
        return host_port(address, value(host, "backup_repo_exporter_port")) if address else None

    for host in hosts:
        if host in (members or []):
            jobs["backend_db_patroni"].append(target(host, "patroni_restapi_port"))
            jobs["backend_db_tls"].append(jobs["backend_db_patroni"][-1])
            etcd_group = value(host, "patroni_etcd_group")
            for etcd in (groups or {}).get(etcd_group) or [host]:
                found = target(etcd, "patroni_etcd_client_port")
                if found not in jobs["backend_db_etcd"]:
                    jobs["backend_db_etcd"].append(found)
                    jobs["backend_db_tls"].append(found)
        if not boolean(value(host, "backend_exporters_enabled"), strict=False):
            continue
        for job, port, switch in EXPORTERS:
            if switch is None or boolean(value(host, switch), strict=False):
                jobs[job].append(target(host, port))
        jobs["backend_db_tls"].append(jobs["backend_db_postgres"][-1])
        repository = repository_target(host)
        if repository and repository not in jobs["backend_db_repository"]:
            jobs["backend_db_repository"].append(repository)
    for host in proxies or []:
        if not value(host, "haproxy_cluster"):
            continue
        address = metrics_address(host, "haproxy_metrics_address")
        if address:
            jobs["backend_db_haproxy"].append(
                host_port(address, value(host, "haproxy_metrics_port"))
            )
    kinds = {
        "backend_db_tls": {"probe": "backend_db_tls"},
        "backend_db_haproxy": {"scheme": "http"},
        "backend_db_repository": {"scheme": "http"},
    }
    return [
        {"name": job, "targets": targets} | kinds.get(job, {})
        for job, targets in jobs.items()
        if targets
    ]


class FilterModule:
    def filters(self):
        return {
            "alert_rules": alert_rules,
            "alert_names": alert_names,
            "scrape_jobs": scrape_jobs,
            "host_port": host_port,
        }
