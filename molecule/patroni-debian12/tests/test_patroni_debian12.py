"""The Patroni cluster on Debian 12 (PostgreSQL 15, Patroni 3, etcd 3.4): the release the
`ha` scenario's drills do not run on. Its shape after two converges, the schema on every
member, a switchover that the old leader follows as a streaming replica, and a check of a
dynamic setting that needs a restart."""

from __future__ import annotations

import functools
import json

from devtools import waits
from devtools.container import MAJOR_BY_RELEASE, molecule_playbook
from devtools.patroni import (
    leader_of,
    listing,
    local_sql,
    settled,
    streaming_from_leader,
    switch_over,
)
from devtools.waits import printed, said
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


def test_a_check_of_a_dynamic_setting_that_needs_a_restart_names_the_restarts_and_makes_none():
    """site.yml --check with max_connections changed (kept in etcd, a restart-only setting):
    the leader names what it would send and the rolling restart it would bring; nothing
    is sent or restarted (before: the check stopped on the drop-in's results, which have
    no dest in check mode)."""
    started = {
        name: local_sql(name, "SELECT pg_postmaster_start_time()", "postgres") for name in MEMBERS
    }
    checked = molecule_playbook(
        "molecule/ha/converge.yml", "--check", "-e", json.dumps({"postgresql_max_connections": 120})
    )
    assert checked.returncode == 0, printed(checked)
    # (Apostrophes left out: YAML's output doubles them.)
    folded = said(checked)
    assert "would set in the cluster payments" in folded, printed(checked)
    assert "}}}; then max_connections would restart every member" in folded, printed(checked)
    assert "one at a time, the replicas first and the leader last" in folded, printed(checked)
    for name in MEMBERS:
        assert local_sql(name, "SELECT pg_postmaster_start_time()", "postgres") == started[name]
        assert local_sql(name, "SHOW max_connections", "postgres") != "120"
