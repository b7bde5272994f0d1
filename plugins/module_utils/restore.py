"""What playbooks/restore.yml restores from, and why it cannot, decided in plain Python.

The backup role reads the repository (`pgbackrest info --output=json`), the host's clock
and the target's time (`date`), and, for a restore point, whether the server's log
records it; restore_plan() turns those readings into the backup to start from, the
arguments pgBackRest's restore takes, and the one sentence that stops the run before
any change when the restore cannot be done (empty when it can).
"""

from __future__ import annotations

import json
import time

# The kinds of restore: the newest state in the repository, a time, a restore point.
KINDS = ("latest", "time", "name")


def _command(result: object) -> dict:
    """A registered command's result as a mapping (a skipped one has no rc: 0)."""
    result = dict(result or {})
    result.setdefault("rc", 0)
    return result


def _backups(info: dict) -> list[dict]:
    """The repository's backups, oldest first, as `pgbackrest info` lists them."""
    if info["rc"] != 0:
        return []
    try:
        stanzas = json.loads(info.get("stdout") or "[]")
    except ValueError:
        return []
    return list((stanzas[0] if stanzas else {}).get("backup") or [])


def _clock(clock: dict) -> tuple[int, int, str]:
    """Now and the target as seconds since the epoch, and the target as PostgreSQL's
    recovery_target_time reads it, from `date +%s` and `date --date TARGET "+%s TEXT"`."""
    lines = list(clock.get("stdout_lines") or [])
    now = int(lines[0]) if lines and lines[0].strip().isdigit() else 0
    epoch_and_text = (lines[1] if len(lines) > 1 else "0").split(" ", 1)
    epoch = int(epoch_and_text[0]) if epoch_and_text[0].isdigit() else 0
    return now, epoch, epoch_and_text[1] if len(epoch_and_text) > 1 else ""


def restore_plan(
    kind: str,
    target: str,
    info: object,
    clock: object = None,
    point_logged: object = None,
    *,
    host: str = "",
    stanza: str = "",
    log: str = "",
) -> dict:
    """The backup to restore from and pgBackRest's arguments for it, or the problem.

    kind and target: restore_type and restore_target as the operator gave them; info,
    clock and point_logged: the registered results of the role's three reads (clock and
    point_logged skipped where they do not apply); host, stanza and log (the server's log
    path without .log) for the sentence.
    """
    info, clock, logged = _command(info), _command(clock), _command(point_logged)
    backups = _backups(info)
    now, epoch, text = _clock(clock)
    latest = kind == "latest"
    usable = backups if latest else [b for b in backups if b["timestamp"]["stop"] < epoch]
    label = usable[-1]["label"] if usable else ""
    args = (
        []
        if latest
        else [
            f"--set={label}",
            "--target-action=promote",
            f"--type={kind}",
            f"--target={text if kind == 'time' else target}",
        ]
    )
    return {
        "backups": backups,
        "set": label,
        "args": args,
        "time_text": text,
        "problem": _problem(
            kind,
            target,
            info,
            clock,
            logged,
            backups,
            usable,
            (now, epoch, text),
            (host, stanza, log),
        ),
    }


def _problem(kind, target, info, clock, logged, backups, usable, times, where) -> str:
    """Why the restore cannot be done, in one sentence; empty when it can."""
    now, epoch, text = times
    host, stanza, log = where
    if info["rc"] != 0:
        said = (info.get("stderr") or info.get("stdout") or "").strip().split("\n")[0]
        return (
            f"pgBackRest cannot read the repository of stanza {stanza} on {host} ({said}):"
            " converge site.yml with backups enabled first"
        )
    if not backups:
        return (
            f"the repository of stanza {stanza} has no backup yet: take one with"
            " playbooks/backup.yml"
        )
    if kind != "latest" and clock["rc"] != 0:
        return (
            f"restore_target {target} is not a time the host can read; write one such as"
            " '2026-12-01 14:30:00+00'"
        )
    if kind != "latest" and epoch > now:
        return (
            f"restore_target {target} ({text}) is later than now on {host}: nothing after now"
            " can be restored; leave restore_type out for the latest state"
        )
    if not usable:
        first = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(backups[0]["timestamp"]["stop"]))
        return (
            f"restore_target {target} ({text}) is before the end of the first backup in the"
            f" repository ({first}), so nothing can be restored to it; choose a later target"
        )
    if logged["rc"] != 0:
        return (
            f"restore_target {target} is not a restore point that {host}'s log ({log}.log and"
            " its rotated copies) records: check the name the migration reported; a point"
            " older than the log's copies can be restored by its time instead"
            f" (restore_type=time restore_target='{text}')"
        )
    return ""
