"""What the tests read of monitoring/: the metrics the alert rules select from a job, and
the samples of a metric in an exporter's text exposition."""

from __future__ import annotations

import re

from devtools.paths import ROOT

RULES = ROOT / "roles/monitoring/files/alerts.yml"


def rule_metrics(job: str) -> list[str]:
    """Each metric the alert rules select from `job` (Prometheus's own `up` aside)."""
    names = re.findall(rf'([a-zA-Z_:][a-zA-Z0-9_:]*)\{{job="{job}"', RULES.read_text())
    return sorted(set(names) - {"up"})


def samples(exposition: str, name: str) -> list[tuple[str, float]]:
    """The samples of `name` in a /metrics text: (labels as written, value) each."""
    found = re.findall(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)", exposition, re.M)
    return [(labels, float(value)) for labels, value in found]
