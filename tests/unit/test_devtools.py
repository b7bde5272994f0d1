"""The harness's own parsing, against the output of a real ansible-playbook run."""

from __future__ import annotations

import os
import subprocess
import sys

from devtools import lanes
from devtools.paths import BIN
from devtools.site import recaps
from devtools.waits import changed_tasks, module_calls, printed

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Reads only
      ansible.builtin.command: "true"
      changed_when: false
    - name: Changes twice in a loop
      ansible.builtin.command: "true"
      loop: [1, 2]
      notify: Told
    - name: Changes through a delegation
      ansible.builtin.command: "true"
      delegate_to: localhost
  handlers:
    - name: Told
      ansible.builtin.command: "true"
"""


def test_a_runs_changed_tasks_are_named_once_each_with_their_host_in_the_failure_message(
    tmp_path,
):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY)
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="1", ANSIBLE_NOCOLOR="0")
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", f"ansible_python_interpreter={os.path.abspath(sys.executable)}"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b[" in result.stdout  # coloured, as under Molecule
    expected = [
        "localhost: Changes twice in a loop",
        "localhost: Changes through a delegation",
        "localhost: Told",
    ]
    assert changed_tasks(result.stdout) == expected
    assert recaps(result)["localhost"]["changed"] == len(expected)
    assert printed(result).startswith("".join(f"changed: {task}\n" for task in expected))


def test_a_runs_module_calls_are_counted_one_per_call_skipped_and_controller_tasks_none(
    tmp_path,
):
    playbook = tmp_path / "play.yml"
    more = """    - name: Skipped
      ansible.builtin.command: "true"
      when: false
    - name: On the controller
      ansible.builtin.set_fact:
        answer: 42
  handlers:"""
    playbook.write_text(PLAY.replace("  handlers:", more))
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="1", ANSIBLE_NOCOLOR="0")
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local", str(playbook),
         "-e", f"ansible_python_interpreter={os.path.abspath(sys.executable)}"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert module_calls(result.stdout) == [
        "Reads only: command",
        "Changes twice in a loop: command",
        "Changes twice in a loop: command",
        "Changes through a delegation: command",
        "Told: command",
    ]


def test_each_parts_containers_cpu_is_read_from_either_cgroup_layout_and_summed_by_name(
    tmp_path, monkeypatch
):
    v1, v2, storage = tmp_path / "v1", tmp_path / "v2", tmp_path / "storage"
    written = {
        "a1": (v1, "cpuacct.usage", "2500000000\n", "backend-db-ha-1"),
        "b2": (v2, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n", "backend-db-ha-app"),
        "c3": (v1, "cpuacct.usage", "4000000000\n", "backend-db-pytest-13"),
        "d4": (v1, "cpuacct.usage", "9000000000\n", "someone-elses"),
    }
    for container, (parent, name, content, hostname) in written.items():
        (parent / f"libpod-{container}").mkdir(parents=True)
        (parent / f"libpod-{container}" / name).write_text(content)
        (storage / container / "userdata").mkdir(parents=True)
        (storage / container / "userdata" / "config.json").write_text(
            f'{{"hostname": "{hostname}"}}'
        )
    # conmon's own cgroup, and a container gone between the listing and the read.
    (v1 / "libpod-conmon-a1").mkdir()
    (v1 / "libpod-gone").mkdir()
    monkeypatch.setattr(lanes, "CGROUP_PARENTS", (v1, v2))
    monkeypatch.setattr(lanes, "CONTAINER_STORAGE", storage)

    found = lanes.container_cpu({})
    assert found == {
        "a1": ("backend-db-ha-1", 2.5),
        "b2": ("backend-db-ha-app", 1.5),
        "c3": ("backend-db-pytest-13", 4.0),
        "d4": ("someone-elses", 9.0),
    }

    run = lanes.Run(lanes.plan("test"))
    # A container of an earlier create of the same scenario, destroyed since, counts too.
    run.containers = {**found, "e5": ("backend-db-ha-1", 10.0)}
    run.attribute_containers()
    assert run.parts["molecule-ha"].container_cpu == 2.5 + 1.5 + 10.0
    assert run.parts["other-release"].container_cpu == 4.0
    assert run.parts["molecule-cluster"].container_cpu == 0
    assert run.parts["site"].containers == ()
