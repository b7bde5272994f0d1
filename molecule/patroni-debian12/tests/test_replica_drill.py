"""The cluster's monitoring drill: the monitoring role on the first member runs Prometheus
and Alertmanager, which scrape every member's Patroni (its own /metrics, over its REST
API's verified TLS) and evaluate the collection's rules with the scenario's durations
(15 s, molecule.yml). A replica stopped raises BackendDbReplicaMissing, both replicas
stopped BackendDbNoSynchronousStandby, each within two minutes, reaching Alertmanager and
resolving once the replicas run again; no other alert fires in the whole scenario (its
switchover and password rotation included).

Runs after test_patroni_debian12.py."""

from __future__ import annotations

import time

import pytest
import testinfra

from devtools import waits
from devtools.monitoring import Prometheus
from devtools.patroni import leader_of, listing, settled, streaming_from_leader

MEMBERS = [f"backend-db-p12-{n}" for n in (1, 2, 3)]
WATCH = Prometheus(MEMBERS[0])
DRILLED = {"BackendDbReplicaMissing", "BackendDbNoSynchronousStandby"}

testinfra_hosts = [f"podman://{MEMBERS[0]}"]


def patroni(name: str, action: str) -> None:
    done = testinfra.get_host(f"podman://{name}").run(f"systemctl {action} patroni")
    assert done.rc == 0, done.stderr


@pytest.fixture(scope="module")
def started():
    """When the drill began, with every member's Patroni scraped and its TLS probed."""
    return WATCH.scraping({"backend_db_patroni", "backend_db_etcd", "backend_db_tls"})


def test_every_member_is_scraped_with_its_cluster(started):
    found = WATCH.api("query?query=patroni_primary")["result"]
    assert sorted(series["metric"]["scope"] for series in found) == ["payments"] * 3, found
    assert sum(float(series["value"][1]) for series in found) == 1, "one leader"
    # Each member's etcd serves its own metrics, and knows the leader of the three.
    etcd = WATCH.values('etcd_server_has_leader{job="backend_db_etcd"}')
    assert len(etcd) == 3 and set(etcd.values()) == {1.0}, etcd
    # Each member's REST API and etcd present the server's certificate (etcd its copy),
    # verified by the probe.
    probed = WATCH.values('probe_success{job="backend_db_tls"}')
    assert len(probed) == 6 and set(probed.values()) == {1.0}, probed


def test_nothing_fired_before_the_drill(started):
    WATCH.quiet()
    # Since Prometheus started (the converge), no alert fired.
    assert WATCH.ever_fired(started - 3600) == set()


def test_stopped_replicas_raise_their_alerts_and_rejoin(started):
    replicas = [name for name in MEMBERS if name != leader_of(MEMBERS)]
    patroni(replicas[0], "stop")
    try:
        WATCH.raised("BackendDbReplicaMissing", time.monotonic())
        # The other replica became the synchronous standby; without it there is none.
        patroni(replicas[1], "stop")
        WATCH.raised("BackendDbNoSynchronousStandby", time.monotonic())
    finally:
        for name in replicas:
            patroni(name, "start")
    waits.wait_for(
        lambda: settled(MEMBERS) and streaming_from_leader(MEMBERS), 120,
        "both replicas streaming again", 2, lambda: listing(MEMBERS),
    )  # fmt: skip
    WATCH.resolved("BackendDbReplicaMissing")
    WATCH.resolved("BackendDbNoSynchronousStandby")


def test_only_the_drilled_alerts_fired_in_the_whole_scenario(started):
    WATCH.quiet()
    assert WATCH.ever_fired(started - 3600) == DRILLED
