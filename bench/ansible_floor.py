"""The least a re-run of site.yml can take with its present number of tasks and module calls.

    python bench/ansible_floor.py INVENTORY HOST RERUN_LOG RERUN_SECONDS

Run by bench/converge.sh after its re-runs, on the same container, with the same
settings (ANSIBLE_CONFIG, the connection, become): RERUN_LOG is one idempotent re-run of
site.yml at -vvv (its module calls are counted from it, its tasks from its recap),
RERUN_SECONDS the median time of the timed re-runs.

Ansible's own cost is measured on that host, in one run: a play of one task (the start
of ansible-playbook, inventory and plugins loaded), then the same with 40 more tasks
that run on the controller alone (ansible.builtin.debug), 40 more that are skipped, and
20 more module calls (ansible.builtin.ping, the smallest module). Each play runs three
times, the median counts. From them: the cost of a start, of a task the controller
answers, of a skipped task and of a module call. The floor of the re-run is what its
tasks and calls would cost if each were the cheapest of its kind; the rest is the
templating, lookups and module work of the roles' own tasks.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.site import recaps  # noqa: E402
from devtools.waits import module_calls  # noqa: E402

RUNS = 3
EXTRA = 40
CALLS = 20


def play(host: str, tasks: list[dict]) -> str:
    """A play of TASKS on HOST, as YAML (JSON is YAML)."""
    return json.dumps(
        [{"name": "floor", "hosts": host, "gather_facts": False, "become": True, "tasks": tasks}]
    )


def timed(inventory: str, playbook: Path) -> float:
    """The median wall time of RUNS runs of PLAYBOOK; each must succeed."""
    times = []
    for _ in range(RUNS):
        start = time.monotonic()
        done = subprocess.run(
            ["ansible-playbook", "-i", inventory, str(playbook)],
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.monotonic() - start)
        if done.returncode != 0:
            sys.exit(f"{playbook.name} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    inventory, host, rerun_log, rerun_seconds = sys.argv[1:5]
    output = Path(rerun_log).read_text(encoding="utf-8", errors="replace")
    counts = recaps(subprocess.CompletedProcess([], 0, output, ""))[host]
    calls = len(module_calls(output))
    skipped = counts["skipped"]
    answered = counts["ok"] - calls  # tasks that ran on the controller alone (about)
    first = {"name": "first", "ansible.builtin.debug": {"msg": "x"}}
    plays = {
        "start": [first],
        "task": [first]
        + [{"name": f"t{i}", "ansible.builtin.debug": {"msg": "x"}} for i in range(EXTRA)],
        "skipped": [first]
        + [
            {"name": f"s{i}", "ansible.builtin.debug": {"msg": "x"}, "when": "false"}
            for i in range(EXTRA)
        ],
        "call": [first] + [{"name": f"c{i}", "ansible.builtin.ping": {}} for i in range(CALLS)],
    }
    with tempfile.TemporaryDirectory() as directory:
        seconds = {}
        for name, tasks in plays.items():
            path = Path(directory, f"{name}.yml")
            path.write_text(play(host, tasks), encoding="utf-8")
            seconds[name] = timed(inventory, path)
    task = (seconds["task"] - seconds["start"]) / EXTRA
    skip = (seconds["skipped"] - seconds["start"]) / EXTRA
    call = (seconds["call"] - seconds["start"]) / CALLS
    start = seconds["start"] - task
    floor = start + answered * task + skipped * skip + calls * call
    measured = float(rerun_seconds)
    print(
        f"Ansible's own cost on this host: start {start:.2f} s; a task the controller answers"
        f" {task * 1000:.0f} ms, a skipped task {skip * 1000:.0f} ms, a module call"
        f" {call * 1000:.0f} ms"
    )
    print(
        f"the re-run: {answered} tasks answered on the controller, {skipped} skipped,"
        f" {calls} module calls; its floor at those costs {floor:.1f} s; measured"
        f" {measured:.1f} s ({measured / floor:.2f} x its floor)"
    )
    print(
        f"  of which the start {start:.1f} s, the tasks {answered * task + skipped * skip:.1f} s,"
        f" the calls {calls * call:.1f} s; above the floor {measured - floor:.1f} s"
    )


if __name__ == "__main__":
    main()
