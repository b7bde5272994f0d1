"""Runs the parts of `make check` and `make test` in lanes, and ends with their times.

A part is one command (lint, one pytest tier, one Molecule scenario...). A lane runs its
parts one after the other; the lanes run at once, and a part may wait for parts of other
lanes (the Molecule images before any container). Each part writes to a log of its own,
printed whole when it ends, so the output of parts running at once never interleaves.

The run ends with a table of every part's wall time and CPU time: user + system of the
part's processes, read from the kernel when the part ends, and apart what ran inside the
part's containers (their cgroups' CPU accounting, sampled every few seconds while they
live: a container's processes are not the part's children). Then every single test over
60 s (from the JUnit files the parts write), and, when a part failed, the end of its log:
the last lines of a long CI log say what went wrong. Exits 1 when any part failed.

    python -m devtools.lanes check|test [--only PART,...] [--list]
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devtools.paths import ROOT
from devtools.waits import COLOURS

LOGS = ROOT / ".test-logs"
SLOW_TEST = 60.0
PYTEST = "pytest -p no:cacheprovider"
# tests/integration in two parts of about a minute and a half each, which make check runs
# at once: the migration runner's own tests, and the rest (the modules, the schema...).
MIGRATION_TESTS = " ".join(
    f"tests/integration/test_{name}.py"
    for name in ("migrate", "faults", "check_migrations", "operations", "online_patterns")
)
OTHER_INTEGRATION = "tests/integration " + " ".join(
    f"--ignore={path}" for path in MIGRATION_TESTS.split()
)
# podman's containers under the cgroupfs manager (molecule/containers.conf): one cgroup
# each, under cgroup v1's cpuacct hierarchy or cgroup v2's single one; a container's name
# is the hostname of its OCI configuration.
CGROUP_PARENTS = (
    Path("/sys/fs/cgroup/cpuacct/libpod_parent"),
    Path("/sys/fs/cgroup/libpod_parent"),
)
CONTAINER_STORAGE = Path("/var/lib/containers/storage/overlay-containers")
SAMPLE_EVERY = 5.0


@dataclass
class Part:
    name: str
    command: str
    lane: str
    needs: tuple[str, ...] = ()
    # Sets PYTEST_ADDOPTS so the part's pytest writes a JUnit file (Molecule's verifier).
    junit_env: bool = False
    started: float = 0.0
    wall: float = 0.0
    cpu: float = 0.0
    # The names of the containers the part makes (fnmatch patterns), and their CPU time.
    containers: tuple[str, ...] = ()
    container_cpu: float = 0.0
    result: str = "not run"
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"

    @property
    def junit(self) -> Path:
        return LOGS / f"{self.name}.xml"


def pytest_part(name: str, paths: str, lane: str) -> Part:
    part = Part(name, "", lane)
    part.command = f"{PYTEST} --junitxml={part.junit.relative_to(ROOT)} {paths}"
    return part


def molecule_part(scenario: str, lane: str) -> Part:
    platforms = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())
    return Part(
        f"molecule-{scenario}", f"molecule test --scenario-name {scenario}", lane,
        needs=("image",), junit_env=True,
        containers=tuple(platform["name"] for platform in platforms["platforms"]),
    )  # fmt: skip


def plan(target: str) -> list[Part]:
    """The parts of `make check` or `make test`, in their lanes."""
    if target == "check":
        return [
            Part("lint", "make --no-print-directory lint", "lint"),
            pytest_part("unit", "tests/unit", "pytest"),
            pytest_part("integration-modules", OTHER_INTEGRATION, "pytest"),
            pytest_part("integration-migrations", MIGRATION_TESTS, "migrations"),
        ]
    # make test, on two cores kept about 90 % busy by three lanes: the whole run is as long
    # as its longest lane, so the lanes are balanced by their measured times (docs/testing.md):
    # the host lane (lint, the tiers, converges of this machine, then the backup scenario),
    # the containers lane (the images, the other release, three scenarios) and ha, then
    # the single servers' upgrade.
    return [
        Part("lint", "make --no-print-directory lint", "host"),
        Part("sanity", "make --no-print-directory sanity", "host"),
        pytest_part("unit", "tests/unit", "host"),
        pytest_part("integration-migrations", MIGRATION_TESTS, "host"),
        pytest_part("integration-modules", OTHER_INTEGRATION, "host"),
        pytest_part("site", "tests/site", "host"),
        molecule_part("backup", "host"),
        Part("image", "bash scripts/build-image.sh", "containers"),
        # The Makefile says what the other release runs, and what it leaves out and why.
        Part(
            "other-release",
            "make --no-print-directory pytest-other-release",
            "containers",
            needs=("image",),
            # scripts/pytest-in-container.sh's container.
            containers=("backend-db-pytest-*",),
        ),
        *(
            molecule_part(scenario, "containers")
            for scenario in ("patroni-debian12", "cluster", "release-upgrade")
        ),
        molecule_part("ha", "ha"),
        molecule_part("upgrade", "ha"),
    ]


def status(message: str) -> None:
    print(f"[lanes {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Run:
    def __init__(self, parts: list[Part]) -> None:
        self.parts = {part.name: part for part in parts}
        self.printing = threading.Lock()
        self.children: dict[str, subprocess.Popen] = {}
        # Each container seen during the run, by id: its name and the most CPU seen used.
        self.containers: dict[str, tuple[str, float]] = {}
        self.finished = threading.Event()

    def sample_containers(self) -> None:
        """Until the run ends: every container's CPU time so far, every few seconds."""
        while True:
            for container, (name, seconds) in container_cpu(self.containers).items():
                self.containers[container] = (name, seconds)
            if self.finished.wait(SAMPLE_EVERY):
                return

    def attribute_containers(self) -> None:
        """Each part's containers' CPU time, by their names."""
        for part in self.parts.values():
            part.container_cpu = sum(
                seconds for name, seconds in self.containers.values()
                if any(fnmatch.fnmatch(name, pattern) for pattern in part.containers)
            )  # fmt: skip

    def lane(self, parts: list[Part]) -> None:
        for part in parts:
            for need in part.needs:
                if need in self.parts:
                    self.parts[need].done.wait()
            failed = [n for n in part.needs if self.parts.get(n) and self.parts[n].result != "ok"]
            if failed:
                part.result = f"skipped: {', '.join(failed)} did not pass"
                status(f"{part.name}: {part.result}")
                part.done.set()
                continue
            self.run(part)
            part.done.set()

    def run(self, part: Part) -> None:
        # JUNIT_XML: where scripts/pytest-in-container.sh copies its container's JUnit file.
        env = dict(os.environ, BACKEND_DB_PART=part.name, JUNIT_XML=str(part.junit))
        if part.junit_env:
            env["PYTEST_ADDOPTS"] = f"{env.get('PYTEST_ADDOPTS', '')} --junitxml={part.junit}"
        status(f"{part.name}: started ({part.command})")
        part.started = time.monotonic()
        with part.log.open("w") as log:
            child = subprocess.Popen(
                ["bash", "-c", part.command], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=ROOT, env=env, start_new_session=True,
            )  # fmt: skip
            self.children[part.name] = child
            # wait4: the exit status and the CPU time of the part's processes at once.
            _, code, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(code)
            self.children.pop(part.name, None)
        part.wall = time.monotonic() - part.started
        part.cpu = usage.ru_utime + usage.ru_stime
        part.result = "ok" if child.returncode == 0 else f"FAILED (exit {child.returncode})"
        status(f"{part.name}: {part.result} in {minutes(part.wall)}")
        with self.printing:
            print(f"\n===== {part.name} ({part.lane} lane): {part.command} =====", flush=True)
            with part.log.open(errors="replace") as log:
                shutil.copyfileobj(log, sys.stdout)
            print(f"===== {part.name}: {part.result} in {minutes(part.wall)} =====\n", flush=True)

    def stop(self) -> None:
        for child in list(self.children.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)

    def go(self) -> float:
        lanes: dict[str, list[Part]] = {}
        for part in self.parts.values():
            lanes.setdefault(part.lane, []).append(part)
        started = time.monotonic()
        busy = cpu_busy()
        sampler = threading.Thread(target=self.sample_containers, daemon=True)
        sampler.start()
        threads = [
            threading.Thread(target=self.lane, args=(parts,), daemon=True)
            for parts in lanes.values()
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(1)
        except KeyboardInterrupt:
            self.stop()
            raise
        self.machine_busy = cpu_busy(since=busy)
        self.finished.set()
        sampler.join()
        self.attribute_containers()
        return time.monotonic() - started


def container_cpu(known: dict[str, tuple[str, float]]) -> dict[str, tuple[str, float]]:
    """(name, CPU seconds used so far) of each running container, by id; `known` gives the
    names already read. Empty where podman's cgroups are elsewhere (another manager)."""
    found = {}
    for parent in CGROUP_PARENTS:
        for group in parent.glob("libpod-*"):
            container = group.name.removeprefix("libpod-")
            if container.startswith("conmon"):
                continue
            try:
                if (group / "cpuacct.usage").exists():
                    seconds = int((group / "cpuacct.usage").read_text()) / 1e9
                else:
                    stat = dict(
                        line.split() for line in (group / "cpu.stat").read_text().splitlines()
                    )
                    seconds = int(stat["usage_usec"]) / 1e6
                name = (
                    known[container][0]
                    if container in known
                    else json.loads(
                        (CONTAINER_STORAGE / container / "userdata" / "config.json").read_text()
                    )["hostname"]
                )
            except (OSError, ValueError, KeyError):
                continue  # gone in between, or not one of podman's
            found[container] = (name, seconds)
    return found


def cpu_busy(since: tuple[int, int] | None = None):
    """The machine's (busy, total) CPU jiffies from /proc/stat; with since, the busy share."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    now = (sum(fields) - idle, sum(fields))
    if since is None:
        return now
    busy, total = now[0] - since[0], now[1] - since[1]
    return busy / total if total else 0.0


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def slow_tests(parts: list[Part]) -> list[tuple[float, str, str]]:
    """(seconds, part, test id) of every test over SLOW_TEST in the parts' JUnit files."""
    found = []
    for part in parts:
        if not part.junit.exists():
            continue
        try:
            cases = ET.parse(part.junit).getroot().iter("testcase")  # noqa: S314 - our own files
        except ET.ParseError:
            continue
        for case in cases:
            seconds = float(case.get("time") or 0)
            if seconds > SLOW_TEST:
                test = f"{case.get('classname', '')}::{case.get('name', '')}"
                found.append((seconds, part.name, test))
    return sorted(found, reverse=True)


def report(parts: list[Part], wall: float, busy: float) -> None:
    print("\n===== part times =====")
    print(
        f"{'part':<24} {'lane':<11} {'wall':>7} {'CPU':>7} {'CPU/wall':>8}"
        f" {'in containers':>13}  result"
    )
    for part in parts:
        share = f"{part.cpu / part.wall:.0%}" if part.wall else ""
        inside = minutes(part.container_cpu) if part.containers else ""
        print(
            f"{part.name:<24} {part.lane:<11} {minutes(part.wall):>7} {minutes(part.cpu):>7}"
            f" {share:>8} {inside:>13}  {part.result}"
        )
    print(f"{'whole run':<24} {'':<11} {minutes(wall):>7}  machine CPU busy {busy:.0%}")
    slow = slow_tests(parts)
    print(f"\n===== tests over {SLOW_TEST:.0f} s: {len(slow)} =====")
    for seconds, part, test in slow:
        print(f"{minutes(seconds):>7}  {part:<20} {test}")


# The lines that say why a part failed: Ansible's failed tasks (with the two lines after
# them), a wait that ran out, Molecule's own errors, pytest's failed tests and their
# assertion lines. Molecule frames each line of a step's output with "  │ ".
WHY = re.compile(
    r"^(fatal|failed): |waited [0-9.]+ s for |^CRITICAL |Idempotence test failed|^FAILED |"
    r"^ERROR [\w/.-]+\.py|^E  "
)


def why(parts: list[Part]) -> None:
    for part in parts:
        if not part.result.startswith("FAILED"):
            continue
        lines = [
            COLOURS.sub("", line).removeprefix("  │ ")
            for line in part.log.read_text(errors="replace").splitlines()
        ]
        print(f"\n===== why {part.name} failed (the whole log is above, and in {part.log}) =====")
        shown: list[str] = []
        for index, line in enumerate(lines):
            if WHY.search(line):
                shown += lines[index : index + (3 if line.startswith(("fatal", "failed")) else 1)]
        for line in shown[-24:] or lines[-24:]:
            print(line[:400])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=("check", "test"))
    parser.add_argument(
        "--only", help="comma-separated part names or patterns, e.g. molecule-* (see --list)"
    )
    parser.add_argument("--list", action="store_true", help="list the parts and exit")
    args = parser.parse_args()
    parts = plan(args.target)
    if args.list:
        for part in parts:
            after = f" (after {', '.join(part.needs)})" if part.needs else ""
            print(f"{part.name:<24} {part.lane:<11} {part.command}{after}")
        return 0
    if args.only:
        wanted = args.only.split(",")
        unknown = [w for w in wanted if not any(fnmatch.fnmatch(p.name, w) for p in parts)]
        if unknown:
            print(f"lanes: no part named {', '.join(unknown)}: see --list", file=sys.stderr)
            return 2
        parts = [p for p in parts if any(fnmatch.fnmatch(p.name, w) for w in wanted)]
    LOGS.mkdir(exist_ok=True)
    for stale in LOGS.glob("*"):
        stale.unlink()
    run = Run(parts)

    def stopped(signum: int, _frame: object) -> None:
        # Stopped (CI cancels a job with SIGTERM): every part's process group goes too.
        run.stop()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stopped)
    wall = run.go()
    report(parts, wall, run.machine_busy)
    why(parts)
    failed = [part.name for part in parts if part.result != "ok"]
    if failed:
        print(f"\nmake {args.target}: failed or not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nmake {args.target}: every part passed in {minutes(wall)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
