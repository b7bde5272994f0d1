"""The Patroni cluster on Debian 12 (PostgreSQL 15, Patroni 3, etcd 3.4): the release the
`ha` scenario's drills do not run on. Its shape after two converges, the schema on every
member, and a switchover that the old leader follows as a streaming replica."""

from __future__ import annotations

import functools

from devtools import waits
from devtools.container import MAJOR_BY_RELEASE
from devtools.patroni import (
    leader_of,
    listing,
    local_sql,
    settled,
    streaming_from_leader,
    switch_over,
)
from tests.helpers import head_revision

MEMBERS = [f"backend-db-p12-{n}" for n in (1, 2, 3)]
testinfra_hosts = [f"podman://{name}" for name in MEMBERS]

cluster = functools.partial(listing, MEMBERS)
leader = functools.partial(leader_of, MEMBERS)


def test_the_members_run_debian_12_with_its_postgresql_patroni_and_etcd(host):
    assert host.system_info.distribution == "debian" and host.system_info.release.startswith("12")
    assert local_sql(host.backend.name, "SHOW server_version_num", "postgres").startswith(
        str(MAJOR_BY_RELEASE["12"])
    )
    assert host.package("patroni").version.startswith("3.")
    assert host.service("etcd").is_running and host.service("patroni").is_running


def test_one_leader_and_two_streaming_replicas_one_of_them_synchronous():
    assert settled(MEMBERS), cluster()
    assert streaming_from_leader(MEMBERS), cluster()


def test_the_schema_is_at_head_on_every_member():
    for name in MEMBERS:
        assert local_sql(name, "SELECT version_num FROM alembic_version") == head_revision()


def test_a_switchover_moves_the_leader_and_the_old_leader_streams_from_it():
    current, candidate = switch_over(MEMBERS)
    waits.wait_for(lambda: leader() == candidate, 60, f"{candidate} leads", context=cluster)
    waits.wait_for(
        lambda: settled(MEMBERS) and streaming_from_leader(MEMBERS),
        90,
        f"{current} and the third member streaming from {candidate}",
        context=cluster,
    )
