"""The Patroni cluster: its shape, its endpoints, its backups, and the drills (a killed
leader under write load, its rejoin by pg_rewind, a leader cut off the network for 40 s
under write load and its rejoin, a switchover, a replica left behind what its leader keeps
that catches up from the repository, a replica that cannot reach its leader stopping a
converge's last check, a backup restored beside a replica, a
dynamic setting set back and a setting that needs a restart rolled over the members, both
under write load, a rolling update refused and then run under write load), then a converge
after them that changes nothing, the whole cluster rebuilt from its backups, a fourth
member added, and a new revision migrated once.

The tests run in file order: each drill starts from the state the one before left. The
fourth member joins last, so that the drills' converges and rolls move three members, not
four (each costs the scenario a member's worth of time)."""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import testinfra
import yaml

from devtools import waits
from devtools.container import install_pgpass, molecule_playbook, secret
from devtools.monitoring import fetched, rule_metrics, samples
from devtools.patroni import (
    PATRONICTL,
    edit_config,
    leader_of,
    listing,
    local_sql,
    member,
    missing_rule_metrics,
    patronictl,
    settled,
    streaming_from_leader,
    switch_over,
)
from devtools.revisions import write_newer_copy
from devtools.site import recaps
from devtools.waits import printed, said
from tests.helpers import head_revision

MEMBERS = [f"backend-db-ha-{n}" for n in (1, 2, 3)]
APP = "backend-db-ha-app"
# The application names the cluster (its certificate's name) and reaches HAProxy locally.
ENDPOINT = (
    "host=payments hostaddr=127.0.0.1 dbname=backend sslmode=verify-full "
    "sslrootcert=/etc/backend-db/ca.crt connect_timeout=3"
)
READ_WRITE, READ_ONLY = f"{ENDPOINT} port=5432", f"{ENDPOINT} port=5433"
# The application host keeps the cluster's pgBackRest repository: one stanza, the cluster's.
REPOSITORY = (
    "runuser -u pgbackrest -- pgbackrest --config=/etc/pgbackrest/payments.conf --stanza=payments"
)
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
RESULTS = EPHEMERAL / "ha-drill.json"
UPDATE_RESULTS = EPHEMERAL / "ha-update-drill.json"
PARTITION_RESULTS = EPHEMERAL / "ha-partition-drill.json"
# The fourth server, and the inventory that adds it to the cluster (written by its test).
NEWCOMER = "backend-db-ha-4"
FOURTH = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "fourth-member.yml"
# A setting that needs a restart, as its test changed it for the rest of the scenario.
SETTINGS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "changed-settings.yml"
# Adding a member to a cluster whose etcd runs on its first three: etcd's membership is
# declared (the group etcd), so that it stays three.
FOURTH_INVENTORY = f"""
dbservers:
  hosts:
    {NEWCOMER}:
payments:
  hosts:
    {NEWCOMER}:
etcd:
  hosts:
    {MEMBERS[0]}:
    {MEMBERS[1]}:
    {MEMBERS[2]}:
"""

testinfra_hosts = [f"podman://{APP}"]


@functools.cache
def major() -> str:
    """The PostgreSQL major of the scenario's release (Debian 12: 15, Debian 13: 17)."""
    listed = member(MEMBERS[0]).run("pg_lsclusters --no-header")
    assert listed.rc == 0, listed.stderr
    return listed.stdout.split()[0]


def cluster() -> list[dict]:
    """Patroni's view of the members, from any running one."""
    return listing(MEMBERS)


def history() -> list[dict]:
    """Patroni's history of the cluster's promotions (one row per timeline), oldest first."""
    return json.loads(patronictl(MEMBERS, "history --format json") or "[]")


def leader() -> str:
    return leader_of(MEMBERS)


def joined() -> list[str]:
    """The cluster's database servers: the three, and the fourth once its test added it."""
    return [*MEMBERS, NEWCOMER] if FOURTH.exists() else MEMBERS


def playbook(path: str, *args: str) -> subprocess.CompletedProcess:
    """A playbook on Molecule's inventory, and the fourth member's and the changed settings'
    once their tests wrote them."""
    extra = [arg for inventory in (FOURTH, SETTINGS) if inventory.exists()
             for arg in ("-i", str(inventory))]  # fmt: skip
    return molecule_playbook(path, *extra, *args)


def start_times() -> dict[str, str]:
    """When each of the first three members' server started (a restart changes it)."""
    return {
        name: local_sql(name, "SELECT pg_postmaster_start_time()", "postgres") for name in MEMBERS
    }


def every_member_runs() -> bool:
    """Every member of the cluster (the fourth too, once added) runs its server."""
    return all(m["State"] in ("running", "streaming") for m in cluster() if m["Member"] in joined())


def etcd_start(name: str) -> str:
    """When systemd last started the member's etcd (a restart changes it)."""
    shown = member(name).run("systemctl show --property ActiveEnterTimestampMonotonic etcd")
    assert shown.rc == 0, shown.stderr
    return shown.stdout.strip()


def wait_for(condition, seconds: float, what: str):
    """A bounded wait whose message, if it runs out, shows the cluster as Patroni lists it."""
    return waits.wait_for(condition, seconds, what, context=cluster)


WRITER = "/root/drill_writer.py"


def start_writer(output: str, seconds: int, first: int = 1) -> None:
    """The drills' writer (files/drill_writer.py), started in the background on the
    application host: numbered rows from `first` through the read-write endpoint, until
    `seconds` have passed or `output`.stop exists; what it did is then in `output`."""
    script = Path(__file__).parents[1] / "files" / "drill_writer.py"
    subprocess.run(
        ["podman", "exec", "-i", APP, "sh", "-c", f"cat > {WRITER}"],
        input=script.read_text(),
        text=True,
        check=True,
    )
    subprocess.run(["podman", "exec", APP, "rm", "-f", output, f"{output}.stop"], check=True)
    subprocess.run(
        ["podman", "exec", "-d", APP, "python3", WRITER, f"{READ_WRITE} user=backend_owner",
         str(seconds), "1000000", output, str(first)],
        check=True,
    )  # fmt: skip


def under_write_load(app_sql, name: str, first: int, action):
    """action() while the drills' writer inserts numbered rows from `first` through the
    read-write endpoint (from 5 s before it to 5 s after): returns action()'s result and
    what the writer saw, kept as ha-NAME-drill.json in the ephemeral directory (bench/ha.py
    draws it): when action() began and ended, the commits acknowledged, those lost (not in
    the table), the pauses (a second or more between two acknowledged commits, as (start,
    length)), the failed attempts and the timeline."""
    output = f"/root/{name}-drill.json"
    start_writer(output, seconds=900, first=first)
    time.sleep(5)
    began = time.time()
    result = action()
    ended = time.time()
    time.sleep(5)
    subprocess.run(["podman", "exec", APP, "touch", f"{output}.stop"], check=True)
    app = testinfra.get_host(f"podman://{APP}")
    wait_for(lambda: app.file(output).exists, 30, "the writer stops")
    drill = json.loads(app.file(output).content_string)
    written = [at for _, at in drill["acknowledged"]]
    stored = app_sql(f"SELECT id FROM ha_drill WHERE id >= {first}", user="backend_owner")
    assert stored.rc == 0, stored.stderr
    lost = sorted(
        {number for number, _ in drill["acknowledged"]} - set(map(int, stored.stdout.split()))
    )
    measured = {
        "began": began,
        "ended": ended,
        "acknowledged": len(written),
        "lost": lost,
        "pauses": [(a, b - a) for a, b in itertools.pairwise(written) if b - a >= 1.0],
        "failures": len(drill["failures"]),
        "timeline": drill["acknowledged"],
    }
    (EPHEMERAL / f"ha-{name}-drill.json").write_text(json.dumps(measured))
    print(
        f"\n{name} drill: {ended - began:.0f} s, {len(written)} acknowledged, {len(lost)} lost,"
        f" {measured['failures']} failed attempts, pauses "
        + ", ".join(f"{length:.1f} s at +{at - began:.0f} s" for at, length in measured["pauses"])
    )
    return result, measured


@pytest.fixture(scope="module")
def app_sql():
    install_pgpass(
        APP,
        [
            ("backend", "backend_app", secret("backend_app")),
            ("backend", "backend_owner", secret("backend_owner")),
        ],
    )
    host = testinfra.get_host(f"podman://{APP}")

    def run(sql: str, dsn: str = READ_WRITE, user: str = "backend_app"):
        return host.run("psql -XAtq -v ON_ERROR_STOP=1 %s -c %s", f"{dsn} user={user}", sql)

    return run


def test_one_leader_and_two_streaming_replicas_one_of_them_synchronous():
    members = cluster()
    roles = sorted(m["Role"] for m in members)
    assert roles == ["Leader", "Replica", "Sync Standby"], members
    assert all(m["State"] in ("running", "streaming") for m in members), members
    streaming = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
    assert local_sql(leader(), streaming) == "2"


def test_patroni_serves_every_metric_the_alert_rules_read():
    """roles/monitoring/files/alerts.yml's cluster rules read Patroni's own /metrics: Debian 13's
    Patroni 4 serves each of them on every member, labelled with the cluster."""
    assert missing_rule_metrics(MEMBERS) == {name: [] for name in MEMBERS}


def test_the_schema_is_at_head_on_every_member():
    for name in MEMBERS:
        assert local_sql(name, "SELECT version_num FROM alembic_version") == head_revision()


def test_every_member_keeps_the_postgresql_roles_guarantees():
    for name in MEMBERS:
        host = member(name)
        assert host.file("/etc/patroni/config.yml").mode == 0o600
        assert local_sql(name, "SHOW ssl", "postgres") == "on"
        assert local_sql(name, "SHOW password_encryption", "postgres") == "scram-sha-256"
        assert local_sql(name, "SHOW synchronous_commit", "postgres") == "on"
        assert not host.service(f"postgresql@{major()}-main").is_enabled
        hba = host.file(f"/etc/postgresql/{major()}/main/pg_hba.conf").content_string
        assert "hostssl replication  replicator" in hba
        assert " trust" not in hba and " md5" not in hba


# Patroni's own replication connection to its server (use_unix_socket_repl is off): TCP
# to localhost, a physical replication connection as the role its configuration names
# (run as postgres; pg_hba.conf matches it by the keyword replication).
LOCAL_REPLICATION = """
import subprocess, sys, yaml
settings = yaml.safe_load(open("/etc/patroni/config.yml"))
role = settings["postgresql"]["authentication"]["replication"]
dsn = ("host=localhost port=5432 dbname=postgres replication=true connect_timeout=5"
       f" user={role['username']} sslmode={role['sslmode']} sslrootcert={role['sslrootcert']}")
done = subprocess.run(["psql", "-XAt", dsn, "-c", "IDENTIFY_SYSTEM"], capture_output=True,
                      text=True, env={"PATH": "/usr/bin:/bin", "PGPASSWORD": role["password"]})
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
sys.exit(done.returncode)
"""


def test_each_member_reads_its_own_timeline_over_a_local_replication_connection():
    # Without it Patroni cannot tell whether a leader that comes back after a partition
    # diverged, so it never rewinds it: the member stays "running", streaming nothing.
    for name in MEMBERS:
        identified = member(name).run("runuser -u postgres -- python3 -c %s", LOCAL_REPLICATION)
        assert identified.rc == 0, f"{name}: {identified.stderr}"
        system, timeline, *_ = identified.stdout.strip().split("|")
        assert system == local_sql(name, "SELECT system_identifier FROM pg_control_system()")
        assert int(timeline) >= 1


def stanza() -> dict:
    """The cluster's stanza as the repository on the application host describes it."""
    listed = testinfra.get_host(f"podman://{APP}").run(f"{REPOSITORY} --output=json info")
    assert listed.rc == 0, listed.stderr
    (described,) = json.loads(listed.stdout)
    assert described["status"]["message"] == "ok", described["status"]
    return described


def test_the_cluster_is_backed_up_from_its_leader_into_the_repository_host():
    described = stanza()
    assert [backup["type"] for backup in described["backup"]] == ["full"]
    system = local_sql(leader(), "SELECT system_identifier FROM pg_control_system()", "postgres")
    assert [str(db["system-id"]) for db in described["db"]] == [system]
    # Whichever member leads archives into the one stanza: check switches the leader's
    # WAL and waits until the repository has the segment.
    app = testinfra.get_host(f"podman://{APP}")
    checked = app.run(f"{REPOSITORY} check")
    assert checked.rc == 0, checked.stderr
    for name in MEMBERS:
        assert local_sql(name, "SHOW archive_mode", "postgres") == "on"
        config = member(name).file("/etc/pgbackrest/payments.conf")
        assert config.mode == 0o600
        assert "repo1-host=backend-db-ha-app" in config.content_string
        assert "cipher-pass" not in config.content_string
    listed = app.file("/etc/pgbackrest/payments.conf").content_string
    assert [line.split("=")[0] for line in listed.splitlines() if "-host=" in line] == [
        "pg1-host",
        "pg2-host",
        "pg3-host",
    ], listed
    assert app.service("backend-db-backup-payments-full.timer").is_enabled


def test_the_application_writes_to_the_leader_and_reads_from_a_replica_over_verified_tls(app_sql):
    # Through PgBouncer on the member: the server's session comes from the member itself,
    # over TLS PgBouncer verified.
    served = "SELECT pg_is_in_recovery(), ssl, host(inet_client_addr()) FROM pg_stat_ssl"
    served += " WHERE pid = pg_backend_pid()"
    written = app_sql(served)
    assert written.rc == 0, written.stderr
    assert written.stdout.strip() == "f|t|127.0.0.1"
    read = app_sql(served, READ_ONLY)
    assert read.rc == 0, read.stderr
    assert read.stdout.strip() == "t|t|127.0.0.1"
    wrong_name = app_sql("SELECT 1", READ_WRITE.replace("host=payments", "host=elsewhere"))
    assert wrong_name.rc != 0
    assert "does not match host name" in wrong_name.stderr


def test_haproxy_serves_the_state_of_its_endpoints_on_the_monitoring_address_only():
    """HAProxy's statistics, scraped from a member as Prometheus would: served on the
    application host's monitoring_address only, with every metric the alert rules read; the
    read-write endpoint has the leader, the read-only one both replicas; nothing else is
    served there."""
    at = f"{address(APP)}:8405"
    listening = testinfra.get_host(f"podman://{APP}").run("ss -Hltn").stdout
    assert f"{at} " in listening and "*:8405 " not in listening, listening
    scraped = fetched(member(MEMBERS[0]), f"http://{at}/metrics")
    assert scraped.rc == 0, scraped.stderr
    assert [m for m in rule_metrics("backend_db_haproxy") if not samples(scraped.stdout, m)] == []
    active = dict(samples(scraped.stdout, "haproxy_backend_active_servers"))
    assert active['{proxy="payments_primary"}'] == 1, active
    assert active['{proxy="payments_replica"}'] == 2, active
    refused = fetched(member(MEMBERS[0]), f"http://{at}/stats")
    assert refused.rc != 0 and "403" in refused.stderr, refused.stderr


def test_a_killed_leader_is_replaced_under_write_load_without_losing_an_acknowledged_commit(
    app_sql,
):
    created = app_sql(
        "CREATE TABLE IF NOT EXISTS ha_drill (id integer PRIMARY KEY,"
        " written_at timestamptz NOT NULL DEFAULT clock_timestamp())",
        user="backend_owner",
    )
    assert created.rc == 0, created.stderr
    old_leader = leader()
    promotions = len(history())
    start_writer("/root/drill.json", seconds=75)
    time.sleep(10)
    killed_at = time.time()
    # SIGKILL to Patroni and every PostgreSQL process, Patroni masked so that systemd
    # cannot restart it: the leader is gone as if its machine were (its address stays,
    # which a restarted container's would not).
    subprocess.run(
        ["podman", "exec", old_leader, "sh", "-c",
         "systemctl mask --runtime --quiet patroni; pkill -KILL -x patroni;"
         " pkill -KILL -u postgres -x postgres; true"],
        check=True,
    )  # fmt: skip
    new_leader = wait_for(
        lambda: leader() if leader() != old_leader else None, 60, "a new leader is elected"
    )
    # The new leader writes its promotion into the history a moment after it (the picture's mark).
    promoted = wait_for(lambda: history()[promotions:], 30, "the promotion is in the history")
    promoted_at = datetime.fromisoformat(promoted[-1]["Timestamp"]).timestamp()
    app = testinfra.get_host(f"podman://{APP}")
    wait_for(lambda: app.file("/root/drill.json").exists, 120, "the writer finishes")
    drill = json.loads(app.file("/root/drill.json").content_string)
    acknowledged = [number for number, _ in drill["acknowledged"]]
    # Writes in flight when the kill landed may still be acknowledged: the outage starts
    # with the first failure after the kill, and ends with the first write after that.
    first_failure = min((at for _, at, _ in drill["failures"] if at >= killed_at), default=None)
    assert first_failure is not None, "no write failed after the kill"
    after = [at for _, at in drill["acknowledged"] if at > first_failure]
    assert after, drill["failures"][-5:]
    rto = after[0] - killed_at
    stored = app_sql("SELECT id FROM ha_drill ORDER BY id", user="backend_owner")
    assert stored.rc == 0, stored.stderr
    lost = sorted(set(acknowledged) - {int(n) for n in stored.stdout.split()})
    RESULTS.write_text(
        json.dumps(
            {
                "killed_at": killed_at,
                "first_failure_at": first_failure,
                "promoted_at": promoted_at,
                "old_leader": old_leader,
                "new_leader": new_leader,
                "rto_seconds": round(rto, 2),
                "acknowledged": len(acknowledged),
                "lost": lost,
                "failures": len(drill["failures"]),
                "timeline": drill["acknowledged"],
            }
        )
    )
    writes_before = [at for _, at in drill["acknowledged"] if at < killed_at]
    rate = len(writes_before) / (writes_before[-1] - writes_before[0]) if writes_before else 0
    print(
        f"\nfailover drill: RTO {rto:.1f} s (first failure {first_failure - killed_at:.1f} s after"
        f" the kill), {len(acknowledged)} acknowledged at {rate:.0f}/s before it, {len(lost)} lost,"
        f" {len(drill['failures'])} failed attempts; {old_leader} -> {new_leader}"
    )
    assert lost == []
    assert rto <= 30


# The rewind role (backend_rewind_user, the shared role's default) and the functions
# pg_rewind calls on its source, which the patroni role grants it.
REWINDER = "rewinder"
REWIND_FUNCTIONS = (
    "pg_catalog.pg_ls_dir(text, boolean, boolean), pg_catalog.pg_stat_file(text, boolean),"
    " pg_catalog.pg_read_binary_file(text),"
    " pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)"
)


def test_the_killed_leader_that_cannot_rewind_rejoins_as_a_streaming_replica_copied_anew():
    """The killed leader diverged from the new one (its last checkpoint at least is past
    the switch point). Its rewind fails here, as it would with its WAL lost or the rewind
    role's grants taken away on the leader (the fault made here): Patroni removes its data
    directory and copies the leader anew rather than leave it out of the cluster. The
    partition drill below proves the rewind itself."""
    drill = json.loads(RESULTS.read_text())
    old, new = drill["old_leader"], drill["new_leader"]
    local_sql(new, f"REVOKE EXECUTE ON FUNCTION {REWIND_FUNCTIONS} FROM {REWINDER}", "postgres")
    try:
        restarted_at = str(int(time.time()))
        subprocess.run(
            ["podman", "exec", old, "sh", "-c",
             "systemctl unmask --runtime --quiet patroni && systemctl start patroni"],
            check=True,
        )  # fmt: skip
        wait_for(
            lambda: streaming_from_leader(MEMBERS, [old]),
            120,
            f"{old} streams from {new} again, copied anew",
        )
    finally:
        local_sql(new, f"GRANT EXECUTE ON FUNCTION {REWIND_FUNCTIONS} TO {REWINDER}", "postgres")
    assert local_sql(old, "SELECT pg_is_in_recovery()", "postgres") == "t"
    wait_for(
        lambda: (
            local_sql(old, "SELECT count(*) FROM ha_drill")
            == str(local_sql(new, "SELECT count(*) FROM ha_drill"))
        ),
        60,
        f"{old} has every row of the new leader",
    )
    journal = member(old).run(
        "journalctl -u patroni --no-pager -o cat --since @%s", str(restarted_at)
    )
    assert journal.rc == 0, journal.stderr
    said = journal.stdout
    # pg_rewind ran and failed against a healthy leader; the data directory went; the
    # member was copied from the leader (pg_basebackup, the role's replica method).
    assert "running pg_rewind from" in said, said[-3000:]
    assert "Failed to rewind from healthy primary" in said, said[-3000:]
    assert "remove_data_directory_on_rewind_failure is set. removing..." in said, said[-3000:]
    assert f"bootstrap from leader '{new}'" in said, said[-3000:]


def in_network(name: str, *command: str) -> str:
    """A command in the container's network namespace, run from this machine (the
    container has no right to change its own links or firewall)."""
    pid = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.Pid}}", name],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    done = subprocess.run(
        ["nsenter", "--target", pid, "--net", *command], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def network(name: str, *command: str) -> str:
    """An `ip` command in the container's network namespace."""
    return in_network(name, "ip", *command)


def takes_no_writes(name: str) -> bool:
    """The member's server is read-only, or accepts no connection at all (a demoted leader
    cut off from its replicas stays "shutting down" until wal_sender_timeout ends the
    walsenders that wait on them, its clients already disconnected)."""
    asked = member(name).run(
        "runuser -u postgres -- psql -XAtq -d postgres -c 'SELECT pg_is_in_recovery()'"
    )
    return asked.rc != 0 or asked.stdout.strip() == "t"


def test_a_leader_cut_off_the_network_for_40_s_steps_down_then_rejoins_rewound_and_streaming(
    app_sql,
):
    wait_for(lambda: settled(MEMBERS), 90, "the three members settled, every server running")
    old = leader()
    others = [name for name in MEMBERS if name != old]
    since = str(int(time.time()))
    default_route = network(old, "route", "show", "default")

    def partition() -> dict:
        """Cut the leader off for 40 s, reconnect it, wait until it streams again."""
        cut_at = time.time()
        network(old, "link", "set", "eth0", "down")
        try:
            # The majority elects a leader of its own; the isolated one, unable to renew
            # its key in etcd, has demoted itself: never two leaders taking writes.
            new = wait_for(
                lambda: next(
                    (m["Member"] for m in listing(others)
                     if m["Role"] == "Leader" and m["Member"] != old),
                    None,
                ),
                90,
                "the two connected members elect a leader of their own (the old one's key expires)",
            )  # fmt: skip
            elected_at = time.time()
            wait_for(lambda: takes_no_writes(old), 30, f"the isolated {old} takes no writes")
            time.sleep(max(0.0, cut_at + 40 - time.time()))
        finally:
            network(old, "link", "set", "eth0", "up")
            if default_route and not network(old, "route", "show", "default"):
                network(old, "route", "add", *default_route.split())
        back_at = time.time()
        wait_for(
            lambda: streaming_from_leader(MEMBERS, [old]),
            60,
            f"{old} streams from {new} on its timeline within a minute of reconnecting",
        )
        return {"cut_at": cut_at, "elected_at": elected_at, "back_at": back_at,
                "rejoined_at": time.time(), "old_leader": old, "new_leader": new}  # fmt: skip

    events, drill = under_write_load(app_sql, "partition", 3_000_000, partition)
    PARTITION_RESULTS.write_text(json.dumps(drill | events))
    print(
        f"partition drill: {old} cut off for {events['back_at'] - events['cut_at']:.0f} s,"
        f" {events['new_leader']} elected after {events['elected_at'] - events['cut_at']:.1f} s,"
        f" {old} streaming {events['rejoined_at'] - events['back_at']:.1f} s after reconnecting"
    )
    assert drill["lost"] == []
    # Writes stopped once, for the election: as long as a failover, never the partition's
    # 40 s (a loaded machine may add a pause of a second or two elsewhere).
    pauses = drill["pauses"]
    assert all(length <= 45 for _, length in pauses), pauses
    assert len([length for _, length in pauses if length > 5]) <= 1, pauses
    # The old leader wrote WAL the others never received (its demotion's checkpoint at
    # least): Patroni rewound it rather than copying it anew.
    journal = member(old).run("journalctl -u patroni --no-pager -o cat --since @%s", since)
    assert journal.rc == 0, journal.stderr
    assert "pg_rewind exit code=0" in journal.stdout, journal.stdout[-3000:]
    assert "removing..." not in journal.stdout and "trying to bootstrap" not in journal.stdout
    rows = app_sql("SELECT count(*) FROM ha_drill WHERE id >= 3000000", user="backend_owner")
    assert rows.rc == 0, rows.stderr
    wait_for(
        lambda: (
            local_sql(old, "SELECT count(*) FROM ha_drill WHERE id >= 3000000")
            == rows.stdout.strip()
        ),
        30,
        f"{old} holds every row written while it was cut off",
    )


def test_a_switchover_with_patronictl_moves_the_leader_to_the_chosen_replica():
    _, candidate = switch_over(MEMBERS)
    wait_for(lambda: leader() == candidate, 60, f"{candidate} leads")
    wait_for(
        lambda: settled(MEMBERS), 90, "two replicas again, one synchronous, every server running"
    )


def keep_no_slots(leading: str, value: str) -> None:
    """Set Patroni's member_slots_ttl (null: take it out of the dynamic settings)."""
    edit_config(leading, "member_slots_ttl", value)


def test_a_replica_left_behind_what_the_leader_keeps_catches_up_from_the_repository():
    """A replica stopped while its leader moves past what it keeps in pg_wal (the replica's
    slot gone with its member key, more WAL than wal_keep_size, archived, a checkpoint):
    started again, it takes the WAL it lacks from the backups' repository (restore_command,
    the backup role's drop-in) and streams again, on the leader's timeline, within a
    minute (before: it asked the leader for a segment the leader had removed, for ever,
    while Patroni listed it running)."""
    wait_for(lambda: settled(MEMBERS), 90, "two replicas, one synchronous, every server running")
    listed = cluster()
    leading = next(m["Member"] for m in listed if m["Role"] == "Leader")
    behind = next(m["Member"] for m in listed if m["Role"] == "Replica")
    # Patroni 4 keeps a gone member's slot for member_slots_ttl (30 minutes), Patroni 3 not
    # at all: for the drill, none (the setting is taken out again below).
    keep_no_slots(leading, "0")
    # Started again whatever happens from here: the tests after this one need the member.
    try:
        try:
            stopped = member(behind).run("systemctl stop patroni")
            assert stopped.rc == 0, stopped.stderr
            slot = behind.replace("-", "_")
            slots = f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"
            wait_for(
                lambda: local_sql(leading, slots, "postgres") == "0",
                60,
                f"{behind}'s slot dropped",
            )
        finally:
            keep_no_slots(leading, "null")
        first = local_sql(leading, "SELECT pg_walfile_name(pg_current_wal_lsn())", "postgres")
        # wal_keep_size is 128MB: eight segments of 16MB; twelve new ones leave the first behind.
        for _ in range(12):
            local_sql(
                leading,
                "SELECT pg_logical_emit_message(false, 'left-behind', 'x'); SELECT pg_switch_wal()",
                "postgres",
            )
        last = local_sql(leading, "SELECT pg_walfile_name(pg_current_wal_lsn() - 1)", "postgres")
        # Twelve segments pushed to the repository host over SSH: seconds each on a machine
        # that runs other scenarios too. The message tells slow archiving from failing.
        archiver = "SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver"
        waits.wait_for(
            lambda: local_sql(leading, archiver, "postgres").split("|")[0] >= last,
            180,
            f"the leader archived {last}",
            context=lambda: local_sql(leading, archiver, "postgres"),
        )
        gone = f"SELECT count(*) FROM pg_ls_waldir() WHERE name = '{first}'"
        for _ in range(2):
            local_sql(leading, "CHECKPOINT", "postgres")
        assert local_sql(leading, gone, "postgres") == "0", f"{first} still in the leader's pg_wal"
    finally:
        started = member(behind).run("systemctl start patroni")
        assert started.rc == 0, started.stderr
    wait_for(
        lambda: streaming_from_leader(MEMBERS, [behind]), 60, f"{behind} streams from {leading}"
    )
    assert leader() == leading


def test_a_replica_that_runs_but_cannot_reach_its_leader_stops_a_converge_naming_it():
    """A replica whose connections to the other members' PostgreSQL are refused keeps
    running (Patroni lists it, its server answers) but streams nothing. The converge's last
    check (playbooks/server.yml: tasks/streams.yml of the patroni role) waits
    patroni_streaming_timeout for it, then stops naming the member and what Patroni says;
    the other members pass. Reconnected, it streams again within 60 s and the check passes."""
    wait_for(lambda: settled(MEMBERS), 90, "two replicas, one synchronous, every server running")
    listed = cluster()
    leading = next(m["Member"] for m in listed if m["Role"] == "Leader")
    cut = next(m["Member"] for m in listed if m["Role"] == "Replica")
    # Its own socket and loopback stay open (Patroni reads its server there); what goes out
    # to another member's port 5432 is refused, and the stream it had is ended.
    rule = ["OUTPUT", "-o", "eth0", "-p", "tcp", "--dport", "5432",
            "-j", "REJECT", "--reject-with", "tcp-reset"]  # fmt: skip
    in_network(cut, "iptables", "-I", *rule)
    try:
        ended = local_sql(
            leading,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication"
            f" WHERE client_addr = '{address(cut)}'",
            "postgres",
        )
        assert ended == "1", ended
        wait_for(
            lambda: local_sql(cut, "SELECT count(*) FROM pg_stat_wal_receiver", "postgres") == "0",
            30,
            f"{cut} has no WAL receiver",
        )
        # Patroni lists it by what it reported at its last loop: running (Patroni 4 names
        # the recovery it is in: from the archive, as the repository still serves WAL).
        wait_for(
            lambda: (
                next(m for m in cluster() if m["Member"] == cut)["State"]
                in ("running", "in archive recovery")
            ),
            30,
            f"Patroni lists {cut} running, not streaming",
        )
        checked = playbook("molecule/ha/streams.yml", "-e", "patroni_streaming_timeout=10")
        assert checked.returncode != 0, printed(checked)
        folded = said(checked)
        # (Ansible prints the failure twice: as the task's error, and in its result.)
        said_of = folded.split(f"{cut} does not stream from the leader of payments 10 s after")
        assert len(said_of) > 1, folded[-3000:]
        # What Patroni says of it: its server runs (it answers), and no stream.
        assert said_of[1].startswith(" its converge (Patroni says: running, "), said_of[1][:300]
        assert not said_of[1].startswith(" its converge (Patroni says: running, streaming)")
        counts = recaps(checked)
        assert counts[cut]["failed"] == 1, counts
        assert all(counts[name]["failed"] == 0 for name in MEMBERS if name != cut), counts
    finally:
        in_network(cut, "iptables", "-D", *rule)
    wait_for(lambda: streaming_from_leader(MEMBERS, [cut]), 60, f"{cut} streams from {leading}")
    passed = playbook("molecule/ha/streams.yml")
    assert passed.returncode == 0, printed(passed)


def test_after_the_drills_one_backup_of_the_cluster_restores_every_acknowledged_row(app_sql):
    taken_before = len(stanza()["backup"])
    marked = app_sql("INSERT INTO ha_drill (id) VALUES (1000000)", user="backend_owner")
    assert marked.rc == 0, marked.stderr
    # One backup for the cluster, whichever member leads now and however many there are.
    taken = playbook("playbooks/backup.yml", "-e", "backup_type=incr")
    assert taken.returncode == 0, printed(taken)
    assert [backup["type"] for backup in stanza()["backup"][taken_before:]] == ["incr"]

    replica = next(m["Member"] for m in cluster() if m["Role"] == "Replica")
    in_place = playbook("playbooks/restore.yml", "--limit", replica, "-e", "restore_confirm=true")
    assert in_place.returncode != 0, printed(in_place)
    folded = said(in_place)
    assert f"{replica} is a member of the Patroni cluster payments" in folded, folded[-3000:]

    restored = playbook(
        "playbooks/restore.yml", "--limit", replica, "-e", "restore_confirm=true",
        "-e", "restore_into=drill", "-e", "restore_into_port=5441",
    )  # fmt: skip
    assert restored.returncode == 0, printed(restored)
    try:
        ids = member(replica).run(
            "runuser -u postgres -- psql -XAtq -p 5441 -d backend -c %s", "SELECT id FROM ha_drill"
        )
        assert ids.rc == 0, ids.stderr
        acknowledged = {number for number, _ in json.loads(RESULTS.read_text())["timeline"]}
        missing = (acknowledged | {1000000}) - {int(n) for n in ids.stdout.split()}
        assert not missing, sorted(missing)[:20]
    finally:
        member(replica).run(f"pg_dropcluster --stop {major()} drill")


def changes(result: subprocess.CompletedProcess) -> set[int]:
    """The changed= counts of a run's recap, one per host (a set of 0 when none changed)."""
    return {counts["changed"] for counts in recaps(result).values()}


def converges_without_change():
    """site.yml (the scenario's converge) runs and changes nothing on any host."""
    converged = playbook("molecule/ha/converge.yml")
    assert converged.returncode == 0, printed(converged)
    assert changes(converged) == {0}, printed(converged)


def dynamic_settings() -> dict:
    """The cluster's dynamic settings, as Patroni keeps them in etcd."""
    return yaml.safe_load(patronictl(MEMBERS, "show-config"))


def test_a_dynamic_setting_that_differs_from_the_inventory_is_set_back_through_the_leader(
    app_sql,
):
    # Written into etcd only when the cluster was made, the settings are compared with the
    # inventory on every run: one changed behind its back (or in the inventory) is sent.
    edit_config(leader(), "maximum_lag_on_failover", 2097152)
    assert dynamic_settings()["maximum_lag_on_failover"] == 2097152
    converged, drill = under_write_load(
        app_sql, "settings", 5_000_000, lambda: playbook("molecule/ha/converge.yml")
    )
    assert converged.returncode == 0, printed(converged)
    # Writes never stopped: a setting that needs no restart costs them nothing (a loaded
    # machine may stall one for a second or two).
    assert drill["lost"] == [] and all(length < 5 for _, length in drill["pauses"]), drill
    # Sent once, by the leader, and nothing else changed anywhere.
    assert changes(converged) == {0, 1}, printed(converged)
    folded = " ".join(converged.stdout.split())
    sent = folded.split("dynamic settings follow the inventory] ")[1].split("TASK [")[0]
    assert sent.count("changed: [") == 1, sent
    assert dynamic_settings()["maximum_lag_on_failover"] == 1048576


def writes_paused_once_at_most(drill: dict, *context: object) -> None:
    """Writes paused once at most, for a switchover (3.8 s on a quiet machine; the target is
    5 s, the bound leaves room for a loaded CI machine); restarting a replica pauses none
    (the synchronous standby hands that role over first).

    A pause of the operation is one over 2 s: a machine at a load of 9 stalls a commit for
    a second or two with nothing restarting (1.2 s seen in the settings drill, which
    restarts nothing), and a switchover or a member down takes longer than that."""
    pauses = drill["pauses"]
    operations = [length for _, length in pauses if length > 2]
    # On failure: each pause's UTC time, to read beside the members' restarts (context).
    when = [
        (datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")[:-3], round(length, 1))
        for at, length in pauses
    ]
    assert len(operations) <= 1 and all(length <= 10 for length in operations), (when, *context)


def journal_windows(unit: str, names, down: str, up: str, since: str) -> list[tuple[str, ...]]:
    """Every stop and start again of `unit` on the named members since the given time, as
    journald has it: (the line saying `down`, the next saying `up`, member), ISO times,
    which sort as text, in the order they happened."""
    windows = []
    for name in names:
        logged = member(name).run(
            "journalctl -u %s --no-pager -o short-iso-precise --since %s", unit, since
        )
        assert logged.rc == 0, logged.stderr
        went = None  # a stop not yet followed by the start
        for line in logged.stdout.splitlines():
            if down in line:
                went = line.split()[0]
            elif up in line and went:
                windows.append((went, line.split()[0], name))
                went = None
        assert went is None, (name, logged.stdout[-3000:])
    return sorted(windows)


def restart_windows(since: str) -> list[tuple[str, ...]]:
    """Every restart of a member's server, as its server logged it under Patroni: from the
    shutdown request to ready again. A promotion, which logs ready without a shutdown
    before it, is no restart."""
    return journal_windows(
        "patroni", joined(), "received fast shutdown request", "database system is ready to accept",
        since,
    )  # fmt: skip


def etcd_windows(since: str) -> list[tuple[str, ...]]:
    """Every restart of an etcd member, as systemd logged it (etcd's unit is of type notify:
    started means it serves again)."""
    return journal_windows("etcd", MEMBERS, "Stopping etcd", "Started etcd", since)


SYNCHRONOUS = re.compile(r'standby "([^"]+)" is now a synchronous standby')


def synchronous_as_they_went_down(leading: str, windows) -> list[tuple[str, ...]]:
    """The replicas' restarts (down, back, member) that began while the leader's server
    still waited for that member's acknowledgement: the last of the leader's announcements
    of a new synchronous standby (its walsender's "standby ... is now a synchronous
    standby", at the first commit it acknowledges) before the restart named it."""
    logged = member(leading).run("journalctl -u patroni --no-pager -o short-iso-precise")
    assert logged.rc == 0, logged.stderr
    announced = [(line.split()[0], found[1]) for line in logged.stdout.splitlines()
                 if (found := SYNCHRONOUS.search(line))]  # fmt: skip
    named = []
    for down, back, name in windows:
        before = [who for at, who in announced if at < down]
        if name != leading and before and before[-1] == name:
            named.append((down, back, name))
    return named


def one_member_down_at_a_time(windows: list[tuple[str, str, str]]) -> None:
    """Each restart ended before the next began."""
    for (_, back, _), (down, _, _) in itertools.pairwise(windows):
        assert back < down, windows


def test_a_setting_that_needs_a_restart_restarts_the_replicas_one_at_a_time_then_the_leader(
    app_sql,
):
    wait_for(every_member_runs, 90, "every member's server runs")
    leading = leader()
    since = member(leading).run("date -u '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    # max_connections is one of the settings Patroni keeps in etcd, for every member: the
    # leader sends it through the REST API, each member's Patroni writes it, and the
    # restarts it needs are the role's. Kept for the converges that follow, which then
    # change nothing.
    # etcd's election timeout, in the same converge, restarts the etcd members, one at a
    # time so that the other two keep the quorum.
    # shared_buffers, a restart-only setting of the postgresql role's drop-in, in the same
    # converge: a check first names, member by member, the restart a run would do and its
    # place in the order, and changes nothing.
    SETTINGS.write_text(
        "all:\n  vars:\n    postgresql_max_connections: 120\n"
        "    postgresql_shared_buffers: 96MB\n"
        "    patroni_etcd_election_timeout: 1500\n"
    )
    before = start_times()
    checked = playbook("molecule/ha/converge.yml", "--check")
    assert checked.returncode == 0, printed(checked)
    text = said(checked)
    for name in joined():
        place = "last: after the replicas" if name == leading else "before the leader"
        named = re.search(
            rf"{name} would restart its server for ([a-z_, ]+), through Patroni, {place}", text
        )
        # (max_connections may be named too: the drop-in holds it, though Patroni's wins.)
        assert named and "shared_buffers" in named[1].split(", "), text[-3000:]
    assert start_times() == before
    converged, drill = under_write_load(
        app_sql, "restart", 4_000_000, lambda: playbook("molecule/ha/converge.yml")
    )
    assert converged.returncode == 0, printed(converged)
    assert drill["lost"] == []
    # Every member restarted once, for both settings (before, the drop-in's restart and
    # the dynamic setting's were two rounds: two restarts each, two switchovers); each was
    # back before the next went down, the replicas first; the leader last, by handing over
    # to a replica (its demotion restarted it).
    windows = restart_windows(since)
    # No replica went down while the leader's commits waited for it: the synchronous
    # standby handed that role to the other replica first.
    assert synchronous_as_they_went_down(leading, windows) == [], windows
    writes_paused_once_at_most(drill, windows, etcd_windows(since))
    assert sorted(name for *_, name in windows) == sorted(joined()), windows
    one_member_down_at_a_time(windows)
    assert windows[-1][2] == leading, windows
    assert leader() != leading
    wait_for(every_member_runs, 60, "every member's server runs")
    for name in joined():
        assert local_sql(name, "SHOW max_connections", "postgres") == "120"
        assert local_sql(name, "SHOW shared_buffers", "postgres") == "96MB"
    assert dynamic_settings()["postgresql"]["parameters"]["max_connections"] == 120
    # Each etcd member restarted once with the new timeout, back before the next stopped.
    rolled = etcd_windows(since)
    assert sorted(name for *_, name in rolled) == MEMBERS, rolled
    one_member_down_at_a_time(rolled)
    for name in MEMBERS:
        settings = member(name).file("/etc/default/etcd").content_string
        assert 'ETCD_ELECTION_TIMEOUT="1500"' in settings


def test_a_rolling_update_refuses_a_cluster_with_a_member_down_before_any_change():
    wait_for(every_member_runs, 90, "every member's server runs")
    down = next(m["Member"] for m in cluster() if m["Role"] == "Replica")
    started = start_times()
    etcd_started = {name: etcd_start(name) for name in MEMBERS}
    stopped = member(down).run("systemctl stop patroni")
    assert stopped.rc == 0, stopped.stderr
    try:
        refused = playbook("playbooks/update.yml", "-e", "update_restart=true")
    finally:
        member(down).run("systemctl start patroni")
    assert refused.returncode != 0, printed(refused)
    folded = said(refused)
    assert f"The cluster payments is not healthy ({down} is not running)" in folded, folded[-3000:]
    assert "nothing was updated" in folded and "Traceback" not in folded
    assert changes(refused) == {0}, printed(refused)
    assert {name: etcd_start(name) for name in MEMBERS} == etcd_started
    wait_for(every_member_runs, 90, f"{down} runs again")
    assert {name: at for name, at in start_times().items() if name != down} == {
        name: at for name, at in started.items() if name != down
    }


def test_a_rolling_update_restarts_each_component_member_by_member_under_write_load(app_sql):
    wait_for(every_member_runs, 90, "every member's server runs")
    old_leader = leader()
    since = member(old_leader).run("date -u '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    etcd_started = {name: etcd_start(name) for name in MEMBERS}
    # The check says which members would restart, in which order, and changes nothing.
    started = start_times()
    checked = playbook("playbooks/update.yml", "--check", "-e", "update_restart=true")
    assert checked.returncode == 0, printed(checked)
    planned = [task.split(": ")[0] for task in waits.changed_tasks(checked.stdout)
               if "Patroni and its server run the new versions" in task]  # fmt: skip
    assert sorted(planned) == sorted(joined()) and planned[-1] == old_leader, planned
    handover = "backend_db.postgresql.patroni : The leader hands its role to a replica first"
    assert f"{old_leader}: {handover}" in waits.changed_tasks(checked.stdout)
    assert start_times() == started and leader() == old_leader
    # Nothing newer on offer in the containers' archives: every component restarts anyway.
    updated, drill = under_write_load(
        app_sql,
        "update",
        2_000_000,
        lambda: playbook("playbooks/update.yml", "-e", "update_restart=true"),
    )
    assert updated.returncode == 0, printed(updated)
    UPDATE_RESULTS.write_text(
        json.dumps(drill | {"old_leader": old_leader, "new_leader": leader()})
    )
    assert drill["lost"] == []
    # The leader handed over (to its synchronous replica of the moment), and every other
    # member streams from the new one.
    new_leader = leader()
    assert new_leader != old_leader
    wait_for(every_member_runs, 30, "every member's server runs")
    receivers = "SELECT status FROM pg_stat_wal_receiver"
    for name in joined():
        if name != new_leader:
            assert local_sql(name, receivers, "postgres") == "streaming", name
    # Every member's server restarted (the old leader twice: demoted, then updated), never
    # two at once; etcd restarted on each of its members.
    windows = restart_windows(since)
    assert {name for *_, name in windows} == set(joined()), windows
    assert synchronous_as_they_went_down(old_leader, windows) == [], windows
    one_member_down_at_a_time(windows)
    assert windows[-1][2] == old_leader, windows
    assert all(etcd_start(name) != etcd_started[name] for name in MEMBERS)
    writes_paused_once_at_most(drill, windows, etcd_windows(since))


# Molecule's group variables keep the cluster's generated passwords here (molecule.yml).
SECRETS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "patroni"


@pytest.mark.parametrize("mistake", ["lost", "replaced"])
def test_a_cluster_password_lost_or_replaced_on_the_controller_stops_the_run_before_any_change(
    mistake,
):
    # etcd's password: with another one every member's Patroni would lose its hold on etcd,
    # and the leader its leader key, so the cluster would stop taking writes.
    path = SECRETS / "etcd-patroni"
    kept = path.read_text()
    settings = {name: member(name).file("/etc/patroni/config.yml").sha256sum for name in joined()}
    leading = leader()
    if mistake == "lost":
        path.unlink()
    else:
        path.write_text("another-password-of-plenty-of-characters-0123\n")
    try:
        refused = playbook("molecule/ha/converge.yml")
        assert mistake == "replaced" or not path.exists(), "the lost password was made anew"
    finally:
        path.write_text(kept)
    assert refused.returncode != 0, printed(refused)
    folded = said(refused)
    expected = {
        "lost": f"{path} is missing on the controller, but the Patroni cluster payments on",
        "replaced": "patroni_etcd_password is not the password that the Patroni cluster payments",
    }[mistake]
    assert expected in folded and "nothing was changed" in folded, folded[-3000:]
    assert "Traceback" not in folded
    assert changes(refused) == {0}, printed(refused)
    assert {
        name: member(name).file("/etc/patroni/config.yml").sha256sum for name in joined()
    } == settings
    assert leader() == leading


def address(name: str) -> str:
    """The container's address on the scenario's network."""
    return subprocess.run(
        ["podman", "inspect", "--format",
         '{{(index .NetworkSettings.Networks "backend-db-ha").IPAddress}}', name],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def cached_settings(name: str) -> dict:
    """The dynamic settings Patroni keeps in a member's data directory (and so in its backups)."""
    return json.loads(
        member(name).file(f"/var/lib/postgresql/{major()}/main/patroni.dynamic.json").content_string
    )


def test_the_whole_cluster_is_rebuilt_from_its_backups_as_the_operations_guide_says(app_sql):
    marked = app_sql("INSERT INTO ha_drill (id) VALUES (1000001)", user="backend_owner")
    assert marked.rc == 0, marked.stderr
    # The backup restored below holds a dynamic setting changed at the time (Patroni caches
    # them in the data directory): the rebuilt cluster comes back with the inventory's.
    leading = leader()
    edit_config(leading, "maximum_lag_on_failover", 2097152)
    wait_for(
        lambda: cached_settings(leading)["maximum_lag_on_failover"] == 2097152,
        30,
        "the leader caches the changed setting in its data directory",
    )
    taken = playbook("playbooks/backup.yml", "-e", "backup_type=incr")
    assert taken.returncode == 0, printed(taken)
    counted = app_sql("SELECT count(*) FROM ha_drill", user="backend_owner")
    assert counted.rc == 0, counted.stderr
    # check switches the leader's WAL and returns once the repository has it.
    checked = testinfra.get_host(f"podman://{APP}").run(f"{REPOSITORY} check")
    assert checked.rc == 0, checked.stderr
    first, *others = joined()

    # 1. Patroni stopped everywhere, replicas first; etcd forgets the cluster.
    for name in sorted(joined(), key=lambda name: name == leading):
        stopped = member(name).run("systemctl stop patroni")
        assert stopped.rc == 0, stopped.stderr
    removed = member(first).run(
        f"printf 'payments\\nYes I am aware\\n' | {PATRONICTL} remove payments"
    )
    assert removed.rc == 0, removed.stdout + removed.stderr
    # 2. The other members disabled and dropped.
    for name in others:
        dropped = member(name).run(f"systemctl disable patroni && pg_dropcluster {major()} main")
        assert dropped.rc == 0, dropped.stderr
    # 3. The first restored in place as a single server into the cluster's stanza (the
    # scenario's addresses come from facts the restore does not gather: given here).
    settings = {
        "patroni_cluster_groups": [],
        "backup_stanza": "payments",
        "postgresql_listen_addresses": ["localhost", address(first)],
        "postgresql_client_networks": [f"{address(APP)}/32"],
    }
    restored = playbook(
        "playbooks/restore.yml", "--limit", first, "-e", "restore_confirm=true",
        "-e", json.dumps(settings),
    )  # fmt: skip
    assert restored.returncode == 0, printed(restored)
    # 4. The site: the first member leads with its restored data, the others copy it.
    rebuilt = playbook("molecule/ha/converge.yml")
    assert rebuilt.returncode == 0, printed(rebuilt)
    assert leader() == first
    assert dynamic_settings()["maximum_lag_on_failover"] == 1048576
    wait_for(
        lambda: sorted(m["Role"] for m in cluster()).count("Replica") == len(others) - 1,
        120,
        "every other member follows the restored leader",
    )
    rows = counted.stdout.strip()
    for name in joined():
        wait_for(
            lambda name=name: local_sql(name, "SELECT count(*) FROM ha_drill") == rows,
            60,
            f"{name} has every row of the restored leader",
        )
    assert stanza()["backup"]


def test_a_fourth_member_holding_a_database_is_refused_and_joins_once_emptied_restarting_none():
    wait_for(lambda: settled(MEMBERS), 90, "the three members settled, every server running")
    started = start_times()
    newcomer = member(NEWCOMER)
    created = newcomer.run("runuser -u postgres -- createdb ledger")
    assert created.rc == 0, created.stderr
    FOURTH.write_text(FOURTH_INVENTORY)

    hba = {name: member(name).file(f"/etc/postgresql/{major()}/main/pg_hba.conf").content_string
           for name in MEMBERS}  # fmt: skip
    refused = playbook("molecule/ha/converge.yml")
    assert refused.returncode != 0, printed(refused)
    # Molecule's settings print failures on stderr, as YAML, which folds long messages.
    folded = said(refused)
    assert f"{NEWCOMER} holds the databases ledger and would join" in folded, folded[-3000:]
    assert "Traceback" not in refused.stdout + refused.stderr
    # Refused before any change anywhere (before: after the postgresql role had set up the
    # newcomer's server and let it into the members' pg_hba.conf).
    assert all(counts["changed"] == 0 for counts in recaps(refused).values()), printed(refused)
    assert not newcomer.file("/etc/patroni/config.yml").exists
    assert hba == {
        name: member(name).file(f"/etc/postgresql/{major()}/main/pg_hba.conf").content_string
        for name in MEMBERS
    }
    ledger = "SELECT count(*) FROM pg_database WHERE datname = 'ledger'"
    assert local_sql(NEWCOMER, ledger, "postgres") == "1"
    assert not newcomer.service("patroni").is_running
    assert sorted(m["Member"] for m in cluster()) == MEMBERS

    dropped = newcomer.run("runuser -u postgres -- dropdb ledger")
    assert dropped.rc == 0, dropped.stderr
    added = playbook("molecule/ha/converge.yml")
    assert added.returncode == 0, printed(added)
    wait_for(
        lambda: (
            local_sql(NEWCOMER, "SELECT status FROM pg_stat_wal_receiver", "postgres")
            == "streaming"
        ),
        120,
        f"{NEWCOMER} streams from the leader",
    )
    assert sorted(m["Role"] for m in cluster()) == ["Leader", "Replica", "Replica", "Sync Standby"]
    assert local_sql(NEWCOMER, "SELECT version_num FROM alembic_version") == head_revision()
    # etcd stays the three it was; the newcomer is only its client.
    assert not newcomer.service("etcd").is_running
    assert start_times() == started
    # After every drill, the rebuild and the newcomer, a converge changes nothing anywhere.
    converges_without_change()


def test_a_new_revision_after_the_drills_applies_once_on_the_leader_and_reaches_every_member(
    tmp_path,
):
    newer = tmp_path / "newer"
    revision = write_newer_copy(newer)
    taken_before = len(stanza()["backup"])
    # With a backup first: the leader has it taken on the repository host, which runs
    # pgBackRest with its own Python, not the migrations' virtualenv.
    migrated = playbook(
        "playbooks/migrate.yml", "-e", f"migrations_source_dir={newer}",
        "-e", "migrations_backup_before=true",
    )  # fmt: skip
    assert migrated.returncode == 0, printed(migrated)
    assert [backup["type"] for backup in stanza()["backup"][taken_before:]] == ["diff"]
    # Every member installs the new release (a failover needs none); one migrates.
    # The role runs from the collection, as Ansible names it in the output.
    role = "backend_db.postgresql.migrations"
    task = migrated.stdout.split(f"TASK [{role} : The schema is at the requested revision")[1]
    task = task.split("TASK [")[0]
    migrating = [
        line.split("[")[1].split("]")[0]
        for line in task.splitlines()
        if line.startswith("changed:")
    ]
    assert migrating == [leader()], task
    for name in joined():
        wait_for(
            lambda name=name: (
                local_sql(name, "SELECT version_num FROM alembic_version") == revision
            ),
            30,
            f"{name} has the new revision",
        )
