"""One provisioned site for the tests of tests/site/: site.yml run twice on this machine.

The first run provisions a Debian cluster of its own on a free port (the machine's `main`
cluster is left alone), with the local inventory's group variables: its passwords and the
repository's passphrase are made by the secret lookup into a directory of the site's own,
as `make site` makes them. The second runs with -vvv while every process's arguments are
sampled, and must change nothing. A test that changes the site puts it back as it found
it, or leaves what it changed where the site reads it (a rotated password in its secrets
file, a rolled-over CA in its CA directory).
"""

from __future__ import annotations

import os
import shutil

import pytest

from devtools.site import Site

HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(config, items):
    """Provisioning needs root and postgresql-common, as `make site` does (CI has both)."""
    if os.geteuid() == 0 and shutil.which("pg_createcluster"):
        return
    skip = pytest.mark.skip(reason="provisioning this machine needs root and postgresql-common")
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("site"))
    first = site.play()
    second, processes = site.play_watching_processes("-vvv")
    site.runs = (first, second)
    site.processes = processes
    yield site
    site.destroy()
