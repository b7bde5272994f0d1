"""What the roles compare with before they write a file (the filter found_files), from the
files a host's snapshot (host_snapshot) found, as the roles' tasks evaluate it."""

from __future__ import annotations

import pytest

FILES = {
    "/etc/postgresql/17/main/conf.d/50-backend-db.conf": {
        "exists": True, "mode": "0640", "owner": "postgres", "group": "postgres",
        "checksum": "9f5f3a1e2b1c07c1b1b3b1d2e3f4a5b6c7d8e9f0",
    },
    "/var/lib/postgresql/17/main": {
        "exists": True, "mode": "0700", "owner": "postgres", "group": "postgres", "checksum": "",
    },
    # Owned by postgres, grouped elsewhere: a task that writes postgres:postgres sends it.
    "/etc/postgresql/17/main/pg_hba.conf": {
        "exists": True, "mode": "0640", "owner": "postgres", "group": "ssl-cert",
        "checksum": "0a0b",
    },
    "/etc/etcd": {"exists": True, "mode": "0750", "owner": "etcd", "group": "etcd", "checksum": ""},
    "/etc/patroni/config.yml": {"exists": False},
}  # fmt: skip


def test_an_owner_keeps_its_paths_each_as_mode_and_checksum(template):
    expression = "{{ files | backend_db.postgresql.found_files('postgres') }}"
    found = template(expression, {"files": FILES})
    assert found == {
        "/etc/postgresql/17/main/conf.d/50-backend-db.conf": (
            "0640 9f5f3a1e2b1c07c1b1b3b1d2e3f4a5b6c7d8e9f0"
        ),
        "/var/lib/postgresql/17/main": "0700 ",
    }


def test_without_an_owner_every_path_that_exists_names_its_owner(template):
    every = template("{{ files | backend_db.postgresql.found_files }}", {"files": FILES})
    assert sorted(every) == sorted(path for path, file in FILES.items() if file["exists"])
    assert every["/etc/etcd"] == "0750 etcd:etcd "
    assert every["/etc/postgresql/17/main/pg_hba.conf"] == "0640 postgres:ssl-cert 0a0b"


@pytest.mark.parametrize("files", [{}, None])
def test_a_host_not_read_yet_has_nothing_found(template, files):
    nothing = "{{ files | backend_db.postgresql.found_files('root') }}"
    assert template(nothing, {"files": files}) == {}


def test_present_paths_are_those_that_exist_in_the_snapshots_order(template):
    present = template("{{ files | backend_db.postgresql.present_paths }}", {"files": FILES})
    assert present == [path for path, file in FILES.items() if file["exists"]]
    assert "/etc/patroni/config.yml" not in present
    assert template("{{ none | backend_db.postgresql.present_paths }}", {"none": None}) == []
