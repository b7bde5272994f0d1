"""Every wait of the tests in one place: each bounded, and a wait that runs out says so.

A test waits on something outside it (a playbook, systemd, apt, a port, a replica). Each
wait here has one timeout, and running past it fails with one message that names what was
awaited, how long, and the last thing seen, so a slow machine is told from a broken one in
the log itself.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
# Ansible's (and Molecule's) colour codes, which the readers of a run's output strip.
COLOURS = re.compile(r"\x1b\[[0-9;]*m")


class WaitedTooLong(AssertionError):
    """A bounded wait ran out: the message says what was awaited, for how long, and last seen."""


def wait_for(
    check: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 1.0,
    context: Callable[[], object] | None = None,
) -> T:
    """check() until it returns something true, at most `timeout` seconds; returns that.

    An exception from check() counts as not yet (the last one is shown); context(), when
    given, adds what else the message should show (a cluster's state, say)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
        except Exception as error:
            last = error
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            more = f"; {context()}" if context else ""
            raise WaitedTooLong(f"waited {timeout:g} s for {what}; last seen: {last!r}{more}")
        time.sleep(interval)


def run_bounded(
    command: Sequence[str], timeout: float, what: str | None = None, **options
) -> subprocess.CompletedProcess:
    """subprocess.run with text output captured; past `timeout` seconds the command is killed
    and the wait fails with the end of what it printed (the step it was stuck on)."""
    options.setdefault("capture_output", True)
    options.setdefault("text", True)
    options.setdefault("check", False)
    try:
        return subprocess.run(command, timeout=timeout, **options)
    except subprocess.TimeoutExpired as expired:
        printed = expired.stdout or b""
        if isinstance(printed, bytes):
            printed = printed.decode(errors="replace")
        name = what or " ".join(str(part) for part in command[:3])
        raise WaitedTooLong(
            f"waited {timeout:g} s for {name}; its output ended with:\n{printed[-5000:]}"
        ) from None


def lines_by_task(output: str) -> Iterator[tuple[str, str]]:
    """Each line of an ansible-playbook run's output, colours stripped, with the task or
    handler it was printed under (empty before the first)."""
    task = ""
    for line in COLOURS.sub("", output).splitlines():
        heading = re.match(r"(?:TASK|RUNNING HANDLER) \[(.*)\]", line)
        if heading:
            task = heading.group(1)
        else:
            yield task, line


def changed_tasks(output: str) -> list[str]:
    """The "host: task" of each task or handler an ansible-playbook run reports changed, in
    the order of the run, each once: what an idempotence check that fails names, since the
    end of a long run's output rarely still shows the task."""
    found: list[str] = []
    for task, line in lines_by_task(output):
        changed = re.match(r"changed: \[([^\]\s]+)", line)
        if changed and f"{changed.group(1)}: {task}" not in found:
            found.append(f"{changed.group(1)}: {task}")
    return found


def module_calls(output: str) -> list[str]:
    """The "task: module" of each module an ansible-playbook run at -vvv ran on a host, in
    the order of the run: one entry a call (each item of a loop, and each module an action
    runs, such as the stat and copy of a template). A task skipped, or one the controller
    answers alone (set_fact, assert, include), calls none."""
    calls: list[str] = []
    for task, line in lines_by_task(output):
        used = re.match(r"Using module file \S*/([^/\s]+)\.py$", line.strip())
        if used:
            calls.append(f"{task}: {used.group(1)}")
    return calls


def printed(result: subprocess.CompletedProcess, chars: int = 3000) -> str:
    """The end of what a command printed, both streams, for an assertion's message: Molecule's
    settings send a failed task's result to stderr, which stdout alone would leave out. A
    playbook run's changed tasks come first, wherever they were in the output."""
    changed = "".join(f"changed: {task}\n" for task in changed_tasks(result.stdout or ""))
    return f"{changed}{result.stdout[-chars:]}\n--- stderr ---\n{result.stderr[-chars:]}"


def said(result: subprocess.CompletedProcess) -> str:
    """Everything a command printed, both streams, on one line of single spaces: what an
    assertion searches for a sentence (Ansible folds a long message over lines)."""
    return " ".join((result.stdout + result.stderr).split())


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port now."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False
