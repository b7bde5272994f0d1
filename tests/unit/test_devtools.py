"""The harness's own parsing, against the output of a real ansible-playbook run."""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.paths import BIN
from devtools.site import recaps
from devtools.waits import changed_tasks, printed

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
