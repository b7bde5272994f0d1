"""The Patroni cluster on Debian 12 (PostgreSQL 15, Patroni 3, etcd 3.4): the release the
`ha` scenario's drills do not run on. Its shape after its converge, the schema on every
member, a switchover that the old leader follows as a streaming replica, the rotation of
every cluster password (then a converge that changes nothing: the scenario's idempotence
check, the cluster's roles set right again on the way), a check of a dynamic setting that
needs a restart, and a re-run's module calls counted."""

from __future__ import annotations

import functools
import json
import os
import secrets
import subprocess
from pathlib import Path

from devtools import waits
from devtools.container import MAJOR_BY_RELEASE, molecule_playbook
from devtools.patroni import (
    leader_in,
    leader_of,
    listing,
    local_sql,
    missing_rule_metrics,
    settled,
    streaming_from_leader,
    switch_over,
)
from devtools.site import recaps
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


def test_patroni_serves_every_metric_the_alert_rules_read():
    """roles/monitoring/files/alerts.yml's cluster rules read Patroni's own /metrics: Debian 12's
    Patroni 3.0 serves each of them on every member, labelled with the cluster."""
    assert missing_rule_metrics(MEMBERS) == {name: [] for name in MEMBERS}


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


# The cluster's passwords, by variable: the file the local inventory keeps each in, and
# a login that needs it, run on a member with the password on standard input (argument
# $1: the address of the member that leads).
SECRETS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "patroni"
ETCDCTL = "ETCDCTL_API=3 ETCDCTL_CACERT=/etc/backend-db/ca.crt ETCDCTL_ENDPOINTS=https://$1:2379"
PSQL = "sslmode=verify-full sslrootcert=/etc/backend-db/ca.crt host=$1 dbname=postgres"
ROTATED = {
    "patroni_replication_password": (
        "replication",
        f'PGPASSWORD="$pw" psql -XAtq "{PSQL} user=replicator replication=true" -c IDENTIFY_SYSTEM',
    ),
    "patroni_rewind_password": (
        "rewind",
        f'PGPASSWORD="$pw" psql -XAtq "{PSQL} user=rewinder" -c "SELECT 1"',
    ),
    "patroni_restapi_password": (
        "restapi",
        """python3 - "$1" "$pw" <<'PY'
import base64, ssl, sys, urllib.error, urllib.request
request = urllib.request.Request(f"https://{sys.argv[1]}:8008/reload", method="POST")
token = base64.b64encode(f"patroni:{sys.argv[2]}".encode()).decode()
request.add_header("Authorization", f"Basic {token}")
context = ssl.create_default_context(cafile="/etc/backend-db/ca.crt")
try:
    urllib.request.urlopen(request, context=context)
except urllib.error.HTTPError as error:
    sys.exit(f"HTTP {error.code}")
PY""",
    ),
    "patroni_etcd_password": (
        "etcd-patroni",
        f'{ETCDCTL} ETCDCTL_USER="patroni:$pw" etcdctl get --keys-only /backend-db/',
    ),
    "patroni_etcd_root_password": (
        "etcd-root",
        f'{ETCDCTL} ETCDCTL_USER="root:$pw" etcdctl user get root',
    ),
}


# What the rotation's run finds and sets right on the leader (the roles as they must be:
# rolcreatedb false, the rewind role's grant there).
DAMAGE = (
    "ALTER ROLE replicator CREATEDB;"
    " REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) FROM rewinder"
)
MENDED = (
    "SELECT rolcreatedb, has_function_privilege('rewinder',"
    " 'pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE') FROM pg_roles"
    " WHERE rolname = 'replicator'"
)


def logs_in(name: str, variable: str, password: str, address: str) -> bool:
    """Whether the login that needs the variable's password succeeds with this one."""
    script = f"read -r pw; {ROTATED[variable][1]}"
    tried = subprocess.run(
        ["podman", "exec", "-i", name, "bash", "-c", script, "login", address],
        input=password + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return tried.returncode == 0


def test_every_cluster_password_rotates_while_the_cluster_serves_and_old_ones_stop_working(
    tmp_path,
):
    """docs/operations.md, section Secrets: a new password in each file of the local
    inventory, each variable named in patroni_rotate_passwords (and etcd's root password
    as etcd has it, for its own change). The leader and its timeline stay; each new
    password logs in and each old one is refused; the replicas stream again after their
    connections are cut (they log in anew); no password is printed; a check before
    changes none, and a second run changes nothing (before: no variable rotated these,
    and a new password stopped the run)."""
    lead = leader_in(listing(MEMBERS))
    old = {name: (SECRETS / file).read_text().strip() for name, (file, _) in ROTATED.items()}
    new = {variable: secrets.token_hex(16) for variable in ROTATED}
    for variable, (file, _) in ROTATED.items():
        (SECRETS / file).write_text(new[variable] + "\n")
    settings = tmp_path / "rotation.json"
    settings.write_text(json.dumps({
        "patroni_rotate_passwords": list(ROTATED),
        "patroni_etcd_root_password_previous": old["patroni_etcd_root_password"],
    }))  # fmt: skip

    # A check first: it names nothing it could not do and changes no password.
    checked = molecule_playbook("molecule/ha/converge.yml", "--check", "-e", f"@{settings}")
    assert checked.returncode == 0, printed(checked)
    for variable in ROTATED:
        assert logs_in(MEMBERS[0], variable, old[variable], lead["Host"]), variable

    # The same run sets the cluster's roles right, which it judges from one read: the
    # replication role given a power it must not have, a grant of the rewind role taken.
    local_sql(lead["Member"], DAMAGE, "postgres")
    rotated = molecule_playbook("molecule/ha/converge.yml", "-e", f"@{settings}")
    assert rotated.returncode == 0, printed(rotated)
    assert local_sql(lead["Member"], MENDED, "postgres") == "f|t"
    assert sum(counts["changed"] for counts in recaps(rotated).values()) > 0, printed(rotated)
    for password in [*old.values(), *new.values()]:
        for run in (checked, rotated):
            assert password not in run.stdout + run.stderr

    after = listing(MEMBERS)
    assert leader_in(after)["Member"] == lead["Member"], after
    assert leader_in(after)["TL"] == lead["TL"], after
    for variable in ROTATED:
        for name in MEMBERS:
            assert logs_in(name, variable, new[variable], lead["Host"]), (name, variable)
        assert not logs_in(MEMBERS[0], variable, old[variable], lead["Host"]), variable
    local_sql(
        lead["Member"],
        "SELECT pg_terminate_backend(pid) FROM pg_stat_replication",
        "postgres",
    )
    waits.wait_for(
        lambda: settled(MEMBERS) and streaming_from_leader(MEMBERS),
        90,
        "both replicas streaming again, logged in with the new replication password",
        context=cluster,
    )

    again = molecule_playbook("molecule/ha/converge.yml", "-e", f"@{settings}")
    assert again.returncode == 0, printed(again)
    assert [counts["changed"] for counts in recaps(again).values()] == [0] * 3, printed(again)


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


# The module calls of an idempotent re-run of the three members, as
# tests/site/test_converge.py holds a single server's: a task that reads the hosts again
# on every run shows here, named. 41 before the replication and rewind roles were judged
# from one read, and the patroni role took the facts its play had gathered; 35 before the
# database's play took the leader the converge read from etcd (nothing moved it since).
# 32 before the first member became the monitoring host (its snapshot: one call); 30
# before each member learned which others answer on etcd's peer port in its fingerprint
# snapshot, where it ran a command for it. 27 before the leader's migration snapshot
# asked the server which revision it records, and left the migration module uncalled
# at the requested one.
CLUSTER_RE_RUN_MODULE_CALLS = 26


def test_a_re_run_of_the_cluster_changes_nothing_and_calls_few_modules():
    again = molecule_playbook("molecule/ha/converge.yml", "-vvv")
    assert again.returncode == 0, printed(again)
    assert [counts["changed"] for counts in recaps(again).values()] == [0] * 3, printed(again)
    calls = waits.module_calls(again.stdout)
    assert 0 < len(calls) <= CLUSTER_RE_RUN_MODULE_CALLS, "\n".join(calls)
