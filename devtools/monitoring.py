"""What the tests read of the monitoring: the metrics the alert rules select from a job,
the samples of a metric in an exporter's text exposition, and a drill's questions to the
Prometheus and Alertmanager the monitoring role runs."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import testinfra

from devtools.paths import ROOT
from devtools.waits import wait_for

RULES = ROOT / "roles/monitoring/files/alerts.yml"


def rule_metrics(job: str) -> list[str]:
    """Each metric the alert rules select from `job` (Prometheus's own `up` aside)."""
    names = re.findall(rf'([a-zA-Z_:][a-zA-Z0-9_:]*)\{{job="{job}"', RULES.read_text())
    return sorted(set(names) - {"up"})


def samples(exposition: str, name: str) -> list[tuple[str, float]]:
    """The samples of `name` in a /metrics text: (labels as written, value) each."""
    found = re.findall(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)", exposition, re.M)
    return [(labels, float(value)) for labels, value in found]


# A plain GET of an HTTP /metrics page, as Prometheus makes it (the jobs that serve no TLS).
FETCH = (
    "import sys, urllib.request\n"
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())\n"
)


def fetched(host, url: str):
    """The page at `url` as the container `host` (a testinfra host) reads it: a command
    result, its text on stdout."""
    return host.run("python3 -c %s %s", FETCH, url)


class Prometheus:
    """The Prometheus and Alertmanager the monitoring role runs on a container, asked on
    that container itself (both listen there only), as the drills ask them."""

    def __init__(self, container: str, within: float = 120):
        self.container = container
        # The target: each fault raises its alert within two minutes.
        self.within = within

    def get(self, url: str) -> object:
        code = (
            "import sys, urllib.request; "
            "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
        )
        answer = testinfra.get_host(f"podman://{self.container}").run("python3 -c %s %s", code, url)
        assert answer.rc == 0, answer.stderr
        return json.loads(answer.stdout)

    def api(self, path: str) -> object:
        answer = self.get(f"http://127.0.0.1:9090/api/v1/{path}")
        assert answer["status"] == "success", answer
        return answer["data"]

    def values(self, query: str) -> dict[str, float]:
        """By instance, the value of each series `query` gives now."""
        result = self.api(f"query?query={quote(query, safe='')}")["result"]
        return {series["metric"]["instance"]: float(series["value"][1]) for series in result}

    def alerts(self, state: str = "firing") -> set[str]:
        found = self.api("alerts")["alerts"]
        return {alert["labels"]["alertname"] for alert in found if alert["state"] == state}

    def in_alertmanager(self) -> set[str]:
        found = self.get("http://127.0.0.1:9093/api/v2/alerts?active=true")
        return {alert["labels"]["alertname"] for alert in found}

    def ever_fired(self, since: float) -> set[str]:
        """The alerts that fired at any time since `since` (Prometheus's ALERTS series)."""
        window = max(60, int(time.time() - since) + 30)
        query = f"count by (alertname) (max_over_time(ALERTS{{alertstate='firing'}}[{window}s]))"
        result = self.api(f"query?query={quote(query, safe='')}")["result"]
        return {series["metric"]["alertname"] for series in result}

    def scraping(self, jobs: set[str], timeout: float = 60) -> float:
        """Waits until every target answers and the jobs are `jobs`; the time then."""

        def scraped():
            targets = self.api("targets")["activeTargets"]
            return targets if targets and all(t["health"] == "up" for t in targets) else None

        targets = wait_for(scraped, timeout, "every target to be scraped", 2)
        assert {target["labels"]["job"] for target in targets} == jobs, targets
        return time.time()

    def raised(self, name: str, since: float) -> float:
        """Waits for `name` to fire, then for Alertmanager to have it; the seconds since
        `since` (a time.monotonic()) it took to fire."""
        wait_for(
            lambda: name in self.alerts(), self.within, f"{name} to fire", 2,
            lambda: f"pending: {self.alerts('pending')}",
        )  # fmt: skip
        took = time.monotonic() - since
        wait_for(lambda: name in self.in_alertmanager(), 30, f"Alertmanager to receive {name}", 2)
        print(f"\nmonitoring drill: {name} raised after {took:.1f} s")
        return took

    def quiet(self) -> None:
        """Waits until no alert fires or is pending: a replica that rejoins reports no WAL
        received until its receiver streams, so BackendDbReplicaLagging may be pending
        (never firing: its `for:` is 2 minutes) for the first seconds."""
        wait_for(
            lambda: not self.alerts() | self.alerts("pending"), self.within,
            "no alert firing or pending", 2, lambda: self.alerts("pending"),
        )  # fmt: skip

    def resolved(self, name: str) -> None:
        wait_for(
            lambda: name not in self.alerts() | self.alerts("pending"), self.within,
            f"{name} to resolve", 2,
        )  # fmt: skip
