"""Fixtures of the upgrade scenario's verification, on its Debian 12 and 13 containers.

The containers end the converge at the newer revision prepare.yml wrote: a converge of
site.yml here names that copy of the migrations, as the upgrade did, so that it finds
the database at its own head."""

from __future__ import annotations

import os
import subprocess

import pytest

from devtools.container import MAJOR_BY_RELEASE, molecule_playbook, psql_query
from devtools.revisions import NEWER_REVISION


@pytest.fixture(scope="module")
def major(host) -> int:
    release = host.run(". /etc/os-release && echo $VERSION_ID").stdout.strip()
    return MAJOR_BY_RELEASE[release]


@pytest.fixture(scope="module")
def query(host):
    return psql_query(host)


@pytest.fixture(scope="session")
def new_revision() -> str:
    return NEWER_REVISION


@pytest.fixture(scope="session")
def converge():
    """site.yml on one container, with the newer migrations the upgrade applied."""
    newer = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "newer")

    def run(name: str) -> subprocess.CompletedProcess:
        return molecule_playbook(
            "site.yml", "--limit", name, "-e", f"migrations_source_dir={newer}", timeout=600
        )

    return run
