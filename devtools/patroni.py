"""A Patroni cluster of Molecule containers as its tests read it: Patroni's own listing of
the members (`patronictl list`), its leader, and SQL run locally on a member."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence

import testinfra

from devtools.monitoring import rule_metrics, samples

PATRONICTL = "patronictl --config-file /etc/patroni/config.yml"


def member(name: str):
    return testinfra.get_host(f"podman://{name}")


def running(members: Sequence[str]) -> list[str]:
    """The members whose container runs."""
    names = subprocess.run(
        ["podman", "ps", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [name for name in members if name in names]


def patronictl(members: Sequence[str], arguments: str) -> str:
    """What `patronictl ARGUMENTS` prints on the first running member that answers."""
    for name in running(members):
        answered = member(name).run(f"{PATRONICTL} {arguments}")
        if answered.rc == 0:
            return answered.stdout
    raise AssertionError(f"no member of {', '.join(members)} answers patronictl {arguments}")


def listing(members: Sequence[str]) -> list[dict]:
    """Patroni's view of the members, from the first running one that answers."""
    return json.loads(patronictl(members, "list --format json"))


def leader_in(listed: list[dict]) -> dict:
    """The one leader of a listing (asserted to be one)."""
    leaders = [m for m in listed if m["Role"] == "Leader"]
    assert len(leaders) == 1, listed
    return leaders[0]


def leader_of(members: Sequence[str]) -> str:
    return leader_in(listing(members))["Member"]


def streaming_from_leader(members: Sequence[str], replicas: Sequence[str] | None = None) -> bool:
    """Each of `replicas` (by default every member but the leader) streams from the one
    leader, on the leader's timeline: Patroni's listing, asked of the other members first
    (a member that was cut off may still answer from its own past), and the replica's own
    WAL receiver."""
    named = list(replicas or ())
    listed = listing(sorted(members, key=lambda name: name in named))
    leaders = [m for m in listed if m["Role"] == "Leader"]
    if len(leaders) != 1:
        return False
    lead = leaders[0]
    timelines = {m["Member"]: m.get("TL") for m in listed}
    return all(
        name != lead["Member"]
        and timelines.get(name) == lead["TL"]
        and local_sql(name, "SELECT status FROM pg_stat_wal_receiver", "postgres") == "streaming"
        for name in (named or [name for name in members if name != lead["Member"]])
    )


def settled(members: Sequence[str]) -> bool:
    """One leader and the other members replicas, one synchronous, every server up: Patroni
    names a demoted leader a replica while it still restarts its server (state starting or
    stopped), and a test that reads every member then finds one without its socket."""
    listed = [m for m in listing(members) if m["Member"] in members]
    roles = ["Leader", *["Replica"] * (len(members) - 2), "Sync Standby"]
    return sorted(m["Role"] for m in listed) == sorted(roles) and all(
        m["State"] in ("running", "streaming") for m in listed
    )


def switch_over(members: Sequence[str]) -> tuple[str, str]:
    """patronictl switchover from the leader to the synchronous replica: (old, new)."""
    listed = listing(members)
    current = leader_in(listed)["Member"]
    candidate = next(m["Member"] for m in listed if m["Role"] == "Sync Standby")
    switched = member(current).run(
        f"{PATRONICTL} switchover --leader %s --candidate %s --force", current, candidate
    )
    assert switched.rc == 0, switched.stdout + switched.stderr
    return current, candidate


def edit_config(name: str, setting: str, value: object) -> None:
    """Change one of the cluster's dynamic settings through the member `name`, as an
    operator would behind the inventory's back (null takes the setting out)."""
    edited = member(name).run(f"{PATRONICTL} edit-config --set {setting}={value} --force")
    assert edited.rc == 0, edited.stdout + edited.stderr


def local_sql(name: str, sql: str, database: str = "backend") -> str:
    """psql as postgres on the member's own socket; the rows as psql -At prints them."""
    result = member(name).run("runuser -u postgres -- psql -XAtq -d %s -c %s", database, sql)
    assert result.rc == 0, f"{name}: {result.stderr}"
    return result.stdout.strip()


# Patroni's /metrics as Prometheus scrapes it: over TLS from its REST API's address,
# verified against the project CA, no login (a GET is not one of the endpoints the REST
# API's password guards).
SCRAPE = (
    "import ssl, sys, urllib.request, yaml\n"
    "address = yaml.safe_load(open('/etc/patroni/config.yml'))['restapi']['connect_address']\n"
    "context = ssl.create_default_context(cafile='/etc/backend-db/ca.crt')\n"
    "url = 'https://%s/metrics' % address\n"
    "sys.stdout.write(urllib.request.urlopen(url, context=context, timeout=10).read().decode())\n"
)


def missing_rule_metrics(members: Sequence[str]) -> dict[str, list[str]]:
    """By member, each metric roles/monitoring/files/alerts.yml reads from Patroni (job
    backend_db_patroni) that the member's /metrics does not serve with the cluster's
    `scope` label, which the rules group by."""
    missing = {}
    for name in members:
        scraped = member(name).run("python3 -c %s", SCRAPE)
        assert scraped.rc == 0, f"{name}: {scraped.stderr}"
        missing[name] = [
            metric
            for metric in rule_metrics("backend_db_patroni")
            if not any('scope="' in labels for labels, _ in samples(scraped.stdout, metric))
        ]
    return missing
