"""The migrations role's controller side: Python packages for every host in a play.

The role builds the packages on the controller for each host's Python and platform,
which its first task reads on the host. Here the hosts are this machine, reached
locally, with the Python and platform of a mixed fleet set in the inventory instead;
pip really fetches and installs the wheels for each (it needs PyPI, as `make setup`
does).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile

import pytest

from devtools.paths import ROOT
from devtools.waits import printed
from tests.helpers import BIN

# The controller's own work, alike whatever the host's release.
pytestmark = pytest.mark.controller

# Python, glibc and architecture of Debian 12 and 13 hosts, as host_snapshot reports them.
FLEET = {
    "bookworm-1": ("3.11", "2.36", "x86_64"),
    "bookworm-2": ("3.11", "2.36", "x86_64"),
    "trixie": ("3.13", "2.41", "x86_64"),
    "bookworm-arm": ("3.11", "2.36", "aarch64"),
}

PLAYBOOK = """
- name: The migrations role's build step runs for a mixed fleet
  hosts: all
  gather_facts: false
  tasks:
    - name: Each host's Python and platform are the ones the inventory gives
      ansible.builtin.set_fact:
        migrations_host: "{{ fleet_host }}"

    - name: The packages are built on the controller
      ansible.builtin.include_role:
        name: migrations
        tasks_from: packages.yml
"""


def build(tmp_path) -> subprocess.CompletedProcess:
    hosts = {
        name: {
            "ansible_connection": "local",
            "ansible_python_interpreter": str(BIN / "python"),
            "fleet_host": {"python": {"version": python}, "glibc": glibc, "architecture": machine},
        }
        for name, (python, glibc, machine) in FLEET.items()
    }
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    playbook = tmp_path / "build.yml"
    playbook.write_text(PLAYBOOK)
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook),
         "-e", f"__migrations_build_dir={tmp_path / 'build'}"],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                 ANSIBLE_ROLES_PATH=str(ROOT / "roles")),
    )  # fmt: skip


def changes(result: subprocess.CompletedProcess) -> dict[str, int]:
    assert result.returncode == 0, printed(result)
    return {
        host: int(changed)
        for host, changed in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.M)
    }


def test_packages_are_built_once_for_each_python_and_platform_in_the_play(tmp_path):
    first = build(tmp_path)
    assert sum(changes(first).values()) > 0
    # One "built" line per distinct Python and platform, whatever the number of hosts.
    builds = re.findall(r"^changed: \[\S+ -> localhost\] => \(item=Python (\S+) on (\S+)\)",
                        first.stdout, re.M)  # fmt: skip
    expected = {
        (python, f"manylinux_{glibc.replace('.', '_')}_{machine}")
        for python, glibc, machine in FLEET.values()
    }
    assert sorted(builds) == sorted(expected)

    archives = sorted((tmp_path / "build").glob("packages-*.tar.gz"))
    assert len(archives) == len(expected)
    for archive in archives:
        python, platform = re.match(
            r"packages-(\d+\.\d+)-(\w+)-[0-9a-f]{12}\.tar\.gz$", archive.name
        ).groups()
        with tarfile.open(archive) as tar:
            names = tar.getnames()
            marker = tar.extractfile(names[-1]).read().decode()
        # Each holds what a venv of that Python needs, with the header naming it.
        assert names[-1] == "backend-db-requirements.txt"
        assert marker.splitlines()[0] == f"# Python {python} on {platform}"
        assert any(name.startswith(f"lib/python{python}/site-packages/psycopg2/") for name in names)
        arch = platform.split("_", 3)[3]
        binaries = [name for name in names if name.endswith(".so") and "psycopg2/_psycopg" in name]
        assert binaries and all(arch in name for name in binaries), binaries

    # Nothing is built again while the lock file and package list stay the same.
    second = build(tmp_path)
    assert set(changes(second).values()) == {0}
    assert sorted((tmp_path / "build").glob("packages-*.tar.gz")) == archives
