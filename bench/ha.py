"""The Patroni cluster's numbers: converge times, replication lag under write load, the drill.

    .venv/bin/python bench/ha.py [--seconds 60] [--writers 4] [--reruns 2] [--keep]
    .venv/bin/python bench/ha.py --drills-from EPHEMERAL_DIRECTORY   # the pictures only

As root on this machine, as `make bench` runs it (about twenty-five minutes). The Molecule
scenario `ha` (three Debian 13 database servers, an application host) step by step:

1. create and prepare (not timed); the first converge of the four hosts, timed; then
   RERUNS repeated converges (each must report changed=0), their median.
2. The write load: WRITERS connections on the application host commit single-row inserts
   (about 200 bytes each) as fast as they can through the read-write endpoint (HAProxy,
   TLS verified) for SECONDS, while the leader's pg_stat_replication is read every
   second: each replica's replay lag and the bytes it has not yet replayed.
3. The scenario's verifier: the drills (a killed leader under write load, the rejoin,
   a leader cut off the network, a switchover, a fourth member, a rolling update). The
   failover drill's timeline (ha-drill.json) becomes the picture docs/ha-drill.png:
   acknowledged writes over time, the kill, the first failed write, the promotion and the
   first write after it marked; the partition's becomes docs/ha-partition-drill.png, and
   the writes through the rolling update, the rolling restart and a setting sent become
   docs/ha-update-drill.png, ha-restart-drill.png and ha-settings-drill.png.
4. destroy.

Prints the results as the table of docs/performance.md section 7.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ["--scenario-name", "ha"]
APP, LOAD = "backend-db-ha-app", "/root/ha_load.py"
PATRONICTL = "patronictl --config-file /etc/patroni/config.yml"
ENDPOINT = (
    "host=payments hostaddr=127.0.0.1 port=5432 dbname=backend sslmode=verify-full"
    " sslrootcert=/etc/backend-db/ca.crt user=backend_owner"
)
# The load's writer, run on the application host with the scenario's client libraries.
LOAD_SCRIPT = """
import json, sys, threading, time
import psycopg2
dsn, seconds, writers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
counts = [0] * writers
deadline = time.time() + seconds
def write(index):
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        while time.time() < deadline:
            cursor.execute("INSERT INTO ha_load (payload) VALUES (repeat('x', 200))")
            counts[index] += 1
threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"commits": sum(counts), "seconds": seconds}))
"""
LAG = (
    "SELECT application_name, sync_state,"
    " coalesce(extract(epoch FROM replay_lag), 0) * 1000,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
    " FROM pg_stat_replication"
)


def molecule(*args: str, log) -> float:
    started = time.monotonic()
    subprocess.run(["molecule", *args, *SCENARIO], check=True, cwd=ROOT, stdout=log, stderr=log)
    return time.monotonic() - started


def converge(log) -> tuple[float, str]:
    """One converge, timed, and its recap's changed counts."""
    started = time.monotonic()
    result = subprocess.run(
        ["molecule", "converge", *SCENARIO], cwd=ROOT, capture_output=True, text=True, check=True
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    log.write(output)
    recap = output.split("PLAY RECAP")[-1]
    changed = sorted({line.split("changed=")[1].split()[0] for line in recap.splitlines()
                      if "changed=" in line})  # fmt: skip
    return time.monotonic() - started, ",".join(changed)


def podman_exec(host: str, *command: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["podman", "exec", "-i", host, *command], input=stdin, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip


def leader() -> str:
    listed = json.loads(podman_exec("backend-db-ha-1", *PATRONICTL.split(), "list", "--format",
                                    "json"))  # fmt: skip
    return next(m["Member"] for m in listed if m["Role"] == "Leader")


def owner_password() -> str:
    ephemeral = sorted(Path.home().glob(".ansible/tmp/molecule.*.ha"), key=os.path.getmtime)[-1]
    return (ephemeral / "secrets" / "backend_owner").read_text().strip()


def load_with_lag(seconds: float, writers: int) -> dict:
    """The write load on the application host, and the leader's view of its replicas."""
    primary = leader()
    password = owner_password()
    podman_exec(APP, "sh", "-c", f"cat > {LOAD}", stdin=LOAD_SCRIPT)
    # The password reaches psql and the writer through a file only root reads, not argv.
    podman_exec(APP, "sh", "-c", "umask 077; cat > /root/.pgpass",
                stdin=f"*:*:backend:backend_owner:{password}\n")  # fmt: skip
    podman_exec(APP, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", ENDPOINT, "-c",
                "CREATE TABLE IF NOT EXISTS ha_load (id bigserial PRIMARY KEY, payload text,"
                " written_at timestamptz NOT NULL DEFAULT clock_timestamp())")  # fmt: skip
    writer = subprocess.Popen(
        ["podman", "exec", APP, "python3", LOAD, ENDPOINT, str(seconds), str(writers)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples: dict[str, list[tuple[float, float]]] = {}
    sync: dict[str, str] = {}
    while writer.poll() is None:
        rows = podman_exec(primary, "runuser", "-u", "postgres", "--", "psql", "-XAtq", "-F",
                           " ", "-c", LAG)  # fmt: skip
        for line in rows.splitlines():
            name, state, lag_ms, behind = line.split()
            samples.setdefault(name, []).append((float(lag_ms), float(behind)))
            sync[name] = state
        time.sleep(1)
    done = json.loads(writer.stdout.read())
    podman_exec(APP, "rm", "-f", "/root/.pgpass")
    replicas = {}
    for name, values in samples.items():
        lags, behind = [lag for lag, _ in values], [b for _, b in values]
        replicas[name] = {
            "sync_state": sync[name],
            "samples": len(values),
            "replay_lag_ms_median": round(statistics.median(lags), 1),
            "replay_lag_ms_max": round(max(lags), 1),
            "bytes_behind_max": int(max(behind)),
        }
    return {"leader": primary, "commits_per_second": round(done["commits"] / done["seconds"]),
            "replicas": replicas}  # fmt: skip


def commits_histogram(drill: dict, zero: float):
    """A figure of a drill's acknowledged commits per half second, seconds counted from
    `zero`: (figure, axes) for the caller to mark and save."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [at - zero for _, at in drill["timeline"]]
    width = 0.5
    figure, axes = plt.subplots(figsize=(9, 3.6), dpi=110)
    axes.hist(times, bins=[min(times) + width * i
                           for i in range(int((max(times) - min(times)) / width) + 2)],
              color="#4c72b0", label="acknowledged commits per 0.5 s")  # fmt: skip
    axes.set_ylabel("commits")
    return figure, axes


def marked(figure, axes, marks, title: str, drill: dict, path: Path, legend: str) -> None:
    """A drill's events as dashed lines (at, label, colour), its title, saved to path."""
    for at, label, colour in marks:
        axes.axvline(at, color=colour, linestyle="--", linewidth=1.4, label=label)
    axes.set_title(
        f"{title}: {drill['acknowledged']} acknowledged, {len(drill['lost'])} lost,"
        f" {drill['old_leader']} -> {drill['new_leader']}"
    )
    axes.legend(loc=legend, fontsize=8, framealpha=0.9)
    figure.tight_layout()
    figure.savefig(path)


def picture(drill: dict, path: Path) -> None:
    """Acknowledged writes per half second around the kill, the events marked."""
    zero = drill["killed_at"]
    figure, axes = commits_histogram(drill, zero)
    marks = [
        (0, "SIGKILL of the leader's Patroni and PostgreSQL", "#c44e52"),
        (drill["first_failure_at"] - zero, "first failed write", "#dd8452"),
        (drill["promoted_at"] - zero, f"promotion of {drill['new_leader']}", "#55a868"),
        (
            drill["rto_seconds"],
            f"first write after it: RTO {drill['rto_seconds']:.1f} s",
            "#8172b3",
        ),
    ]
    axes.set_xlabel("seconds since the kill")
    marked(figure, axes, marks, "Failover drill", drill, path, "upper center")


def load_picture(drill: dict, path: Path, what: str) -> None:
    """Acknowledged writes per half second while an operation ran under the drills' write
    load (the rolling update, the rolling restart, a setting sent), its pauses marked."""
    zero = drill["began"]
    figure, axes = commits_histogram(drill, zero)
    axes.axvline(0, color="#c44e52", linestyle="--", linewidth=1.4, label=f"{what} starts")
    axes.axvline(drill["ended"] - zero, color="#55a868", linestyle="--", linewidth=1.4,
                 label=f"{what} ends")  # fmt: skip
    for at, length in drill["pauses"]:
        axes.axvspan(at - zero, at - zero + length, color="#dd8452", alpha=0.4,
                     label=f"writes paused {length:.1f} s")  # fmt: skip
    axes.set_xlabel(f"seconds since {what} started")
    leaders = (
        f", leader {drill['old_leader']} -> {drill['new_leader']}" if "old_leader" in drill else ""
    )
    axes.set_title(
        f"{what[:1].upper()}{what[1:]}: {drill['acknowledged']} acknowledged,"
        f" {len(drill['lost'])} lost{leaders}"
    )
    axes.legend(loc="lower center", fontsize=8, framealpha=0.9)
    figure.tight_layout()
    figure.savefig(path)


def partition_picture(drill: dict, path: Path) -> None:
    """Acknowledged writes per half second while the leader was cut off, the events marked."""
    zero = drill["cut_at"]
    figure, axes = commits_histogram(drill, zero)
    marks = [
        (0, f"{drill['old_leader']} cut off the network", "#c44e52"),
        (drill["elected_at"] - zero, f"{drill['new_leader']} elected", "#55a868"),
        (drill["back_at"] - zero, f"{drill['old_leader']} reconnected", "#dd8452"),
        (drill["rejoined_at"] - zero, f"{drill['old_leader']} streams again", "#8172b3"),
    ]
    axes.set_xlabel("seconds since the leader was cut off")
    marked(figure, axes, marks, "Partition drill", drill, path, "lower right")


def drills(ephemeral: Path, results: dict) -> None:
    """The drills' pictures in docs/ and their numbers in results, from the JSON files the
    verifier left in a run's ephemeral directory."""
    drill = json.loads((ephemeral / "ha-drill.json").read_text())
    picture(drill, ROOT / "docs" / "ha-drill.png")
    results["drill"] = {key: drill[key] for key in
                        ("rto_seconds", "acknowledged", "lost", "failures",
                         "old_leader", "new_leader")}  # fmt: skip
    results["drill"]["promoted_after_seconds"] = round(drill["promoted_at"] - drill["killed_at"], 1)
    operations = {
        "update": "the rolling update",
        "restart": "the rolling restart",
        "settings": "the setting sent",
    }
    for name, what in operations.items():
        measured = json.loads((ephemeral / f"ha-{name}-drill.json").read_text())
        load_picture(measured, ROOT / "docs" / f"ha-{name}-drill.png", what)
        results[f"{name}_drill"] = {
            "seconds": round(measured["ended"] - measured["began"], 1),
            "pauses": [round(length, 1) for _, length in measured["pauses"]],
            **{key: measured[key] for key in ("acknowledged", "lost", "failures")},
        }
    partition = json.loads((ephemeral / "ha-partition-drill.json").read_text())
    partition_picture(partition, ROOT / "docs" / "ha-partition-drill.png")
    results["partition_drill"] = {
        "elected_after_seconds": round(partition["elected_at"] - partition["cut_at"], 1),
        "cut_off_seconds": round(partition["back_at"] - partition["cut_at"], 1),
        "streaming_after_reconnect_seconds": round(
            partition["rejoined_at"] - partition["back_at"], 1
        ),
        "pauses": [round(length, 1) for _, length in partition["pauses"]],
        **{key: partition[key] for key in ("acknowledged", "lost", "failures")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--reruns", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument(
        "--drills-from",
        type=Path,
        metavar="EPHEMERAL_DIRECTORY",
        help="only draw the drills' pictures from a run's ephemeral directory",
    )
    options = parser.parse_args()
    results: dict = {}
    if options.drills_from:
        drills(options.drills_from, results)
        json.dump(results, sys.stdout, indent=2)
        print()
        return 0
    with open(ROOT / "bench" / "ha.log", "w") as log:
        try:
            molecule("destroy", log=log)
            results["create_prepare_seconds"] = round(
                molecule("create", log=log) + molecule("prepare", log=log), 1
            )
            first, _ = converge(log)
            results["first_converge_seconds"] = round(first, 1)
            reruns = [converge(log) for _ in range(options.reruns)]
            assert all(changed == "0" for _, changed in reruns), reruns
            results["repeated_converge_seconds"] = [round(t, 1) for t, _ in reruns]
            results["repeated_converge_median"] = round(statistics.median(t for t, _ in reruns), 1)
            results["load"] = load_with_lag(options.seconds, options.writers)
            results["verify_seconds"] = round(molecule("verify", log=log), 1)
            ephemeral = sorted(
                Path.home().glob(".ansible/tmp/molecule.*.ha"), key=os.path.getmtime
            )[-1]
            drills(ephemeral, results)
        finally:
            # What was measured is printed even when a later step failed.
            json.dump(results, sys.stdout, indent=2)
            print()
            if not options.keep:
                molecule("destroy", log=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
