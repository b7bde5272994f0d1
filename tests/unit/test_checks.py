"""The roles' checks compute what they check once per run.

Ansible templates an assert's fail_msg before it evaluates the assertion, whether the
assertion holds or not. A check whose message names what its condition computed (a
role's variable errors, the passwords a host no longer matches) computed it twice on
every run, the second time only to be thrown away. Such a check is a fail task with the
condition in its when: the message is templated only when the run stops.
"""

from __future__ import annotations

import re

import yaml

from devtools.paths import ROOT

COMPUTED = re.compile(r"\b__\w+")


def tasks(entries: list):
    """Every task of a list of tasks or plays, blocks and handlers included."""
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        yield entry
        for key in ("block", "rescue", "always", "pre_tasks", "tasks", "post_tasks", "handlers"):
            yield from tasks(entry.get(key))


def test_no_assert_computes_its_condition_again_for_its_message():
    twice = []
    files = sorted((ROOT / "roles").glob("*/tasks/*.yml")) + sorted(
        (ROOT / "playbooks").glob("*.yml")
    )
    assert len(files) > 50
    for path in files:
        for task in tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
            check = task.get("ansible.builtin.assert")
            if not check:
                continue
            both = set(COMPUTED.findall(str(check.get("that")))) & set(
                COMPUTED.findall(str(check.get("fail_msg", "")))
            )
            if both:
                twice.append(
                    f"{path.relative_to(ROOT)}: {task['name']} ({', '.join(sorted(both))})"
                )
    assert twice == [], "\n".join(twice)
