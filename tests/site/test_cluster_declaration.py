"""A Patroni cluster the inventory declares that cannot work is refused in one sentence,
before any change: playbooks/server.yml against inventories whose hosts are this machine
(local connections), so the refusals are real runs that stop at their first task."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import yaml

from devtools.paths import ROOT
from devtools.waits import run_bounded
from tests.helpers import BIN

# The controller's own work, alike whatever the host's release.
pytestmark = pytest.mark.controller


@pytest.fixture(scope="module")
def peer_port():
    """A port this machine listens on for the whole module: every declared member is this
    machine, and the cluster's reachability check connects there. The role's own listener
    lasts 20 s, which a slow run outlasted before the backup checks that follow it."""
    with socket.create_server(("", 0), backlog=128) as server:
        yield server.getsockname()[1]


def declare(
    tmp_path: Path, clusters: dict[str, list[str]], peer_port: int, **host_vars: dict
) -> Path:
    hosts = sorted({host for members in clusters.values() for host in members})
    groups = clusters.items()
    inventory = {
        "all": {
            "vars": {
                "patroni_cluster_groups": sorted(clusters),
                "ansible_connection": "local",
                "ansible_python_interpreter": str(BIN / "python"),
                "ansible_become": False,
                "patroni_secrets_dir": str(tmp_path / "secrets"),
                # A safety net: were a refusal ever missed, the postgresql role's own check
                # of this port stops the run before it changes this machine.
                "postgresql_port": 0,
                "patroni_etcd_peer_port": peer_port,
                "backup_repo_cipher_pass": "a-passphrase-of-twenty-or-more",
            },
            "children": {
                "dbservers": {
                    "hosts": {host: host_vars.get(host, {}) for host in hosts},
                    "children": {name: {"hosts": dict.fromkeys(hosts)} for name, hosts in groups},
                }
            },
        }
    }  # fmt: skip
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def refusal(inventory: Path, playbook: str = "playbooks/server.yml", *args: str) -> str:
    result = run_bounded(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), playbook, *args], 300, cwd=ROOT,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                 PATH=f"{BIN}:{os.environ['PATH']}"),
    )  # fmt: skip
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    # Nothing past the declaration's own checks ran: the postgresql role never started.
    assert "TASK [backend_db.postgresql.postgresql :" not in result.stdout, result.stdout[-2000:]
    return " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("clusters", "host_vars", "sentence"),
    [
        (
            {"payments": ["db1", "db2"]},
            {},
            "The cluster payments has 2 etcd members (db1, db2): etcd needs an odd number, at "
            "least three, so declare an inventory group etcd of three or five hosts.",
        ),
        (
            {"payments": ["db1", "db2", "db3", "db4"]},
            {},
            "The cluster payments has 4 etcd members (db1, db2, db3, db4): etcd needs an odd",
        ),
        (
            {"payments": ["db1", "db2", "db3"], "orders": ["db3", "db4", "db5"]},
            {},
            "db3 is in the clusters orders and payments: a server belongs to one cluster, so take "
            "it out of all groups but one.",
        ),
        (
            {"payments": ["db1", "db2", "db3"]},
            {"db2": {"postgresql_version": 16}},
            "and 16: a cluster replicates one major, so give every member the same release or "
            "postgresql_version.",
        ),
        (
            {"payments": ["db1", "db2", "db3"]},
            {"db3": {"patroni_address": "192.0.2.1"}},
            "cannot reach 192.0.2.1 of the cluster payments: open the network between the members",
        ),
        (
            {"payments": ["db1", "db2", "db3"]},
            {},
            "backup_repo_host must name a host outside the Patroni cluster payments to keep its "
            "repository (every member that leads archives there), or set backup_enabled: false "
            "for its members",
        ),
        (
            {"payments": ["db1", "db2", "db3"]},
            {host: {"backup_repo_host": "db2"} for host in ("db1", "db2", "db3")},
            "backup_repo_host db2 is a member of the Patroni cluster payments: its repository "
            "would be lost with it, so name a host outside the cluster",
        ),
        (
            {"payments": ["db1", "db2", "db3"]},
            {"db3": {"backup_enabled": False}},
            "backup_enabled is True here but not on db3: the members of the Patroni cluster "
            "payments share one stanza, so give them one value",
        ),
        (
            {"payments": ["db1", "db2", "db3"]},
            {"db2": {"patroni_address": '10.0.0.2"\nETCD_UNSAFE=1'}},
            "Invalid patroni role variables: patroni_address holds a line break or another "
            "control character, no file takes one; patroni_address must be this member's IP "
            "address or host name, which the others reach it at, not 10.0.0.2",
        ),
        (
            {"payments": ["db1", "db2", "db3"]},
            {"db2": {"patroni_ttl": 10, "backend_rewind_user": "postgres"}},
            "Invalid patroni role variables: patroni_ttl (10) must be at least patroni_loop_wait"
            " + 2 x patroni_retry_timeout (15), or a leader loses its key while it still runs;"
            " backend_rewind_user must be a role name other than postgres, not postgres.",
        ),
    ],
    ids=[
        "two-etcd-members",
        "even-etcd-members",
        "host-in-two-clusters",
        "mixed-majors",
        "unreachable",
        "cluster-backups-without-repository-host",
        "cluster-member-as-repository-host",
        "cluster-members-disagreeing-on-backups",
        "a-members-address-with-a-line-break",
        "a-members-users-and-timings",
    ],
)
def test_a_cluster_that_cannot_work_is_refused_before_any_change(
    tmp_path, peer_port, clusters, host_vars, sentence
):
    assert sentence in refusal(declare(tmp_path, clusters, peer_port, **host_vars))


def test_a_member_on_a_release_that_cannot_run_the_cluster_is_refused_before_any_change(
    tmp_path, peer_port
):
    """Debian 11's Patroni and etcd are not the ones the role configures: a member that runs
    it is refused by name (every member is this machine, which the extra variable makes a
    Debian 11 host for the run), not left retrying a Patroni that cannot start."""
    inventory = declare(tmp_path, {"payments": ["db1", "db2", "db3"]}, peer_port)
    printed = refusal(
        inventory, "playbooks/server.yml", "-e", "ansible_distribution_major_version=11"
    )
    assert (
        "db1 runs Debian 11, where the cluster cannot run: its members need Debian 12 or Debian "
        "13 (the Patroni, etcd and PostgreSQL they ship), so upgrade the host's release or take "
        "it out of the group payments."
    ) in printed, printed[-3000:]


def test_the_major_upgrade_refuses_a_patroni_member_before_any_change(tmp_path, peer_port):
    inventory = declare(tmp_path, {"payments": ["db1", "db2", "db3"]}, peer_port)
    printed = refusal(
        inventory, "playbooks/upgrade_major.yml", "-e", "postgresql_upgrade_confirm=true"
    )
    for host in ("db1", "db2", "db3"):
        assert (
            f"{host} is a member of the Patroni cluster payments, which this playbook cannot "
            "upgrade in place: build a cluster on the new major and cut over to it as "
            'docs/operations.md says ("Move a Patroni cluster to a new PostgreSQL major"); '
            "nothing was changed."
        ) in printed, printed[-3000:]
