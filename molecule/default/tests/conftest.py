"""Fixtures of the default scenario's verification, on its Debian 13 container."""

from __future__ import annotations

import pytest

from devtools.container import MAJOR_BY_RELEASE, psql_query


@pytest.fixture(scope="module")
def major(host) -> int:
    release = host.run(". /etc/os-release && echo $VERSION_ID").stdout.strip()
    return MAJOR_BY_RELEASE[release]


@pytest.fixture(scope="module")
def query(host):
    return psql_query(host)
