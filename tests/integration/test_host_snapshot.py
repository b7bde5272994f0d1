"""host_snapshot through Ansible itself, reading this machine: its dpkg, files and Python."""

from __future__ import annotations

import grp
import hashlib
import json
import os
import platform
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools.paths import ROOT
from devtools.pgserver import SUPERUSER, free_port, server_major
from tests.helpers import host_memory_mb, module_manual, run_module


def os_release() -> dict[str, str]:
    text = Path("/etc/os-release").read_text()
    return {
        key: value.strip('"')
        for key, _, value in (line.partition("=") for line in text.splitlines())
        if value
    }


def snapshot(*module_args: str, extra: tuple[str, ...] = ()):
    completed, result = run_module("host_snapshot", *module_args, extra=extra)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return result


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="reads dpkg (Debian CI has it)")
def test_packages_dpkg_has_not_installed_are_missing_in_request_order():
    result = snapshot("packages=backend-db-no-such-package,dpkg,backend-db-absent-too")
    assert result["missing_packages"] == ["backend-db-no-such-package", "backend-db-absent-too"]
    assert result["changed"] is False


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="reads dpkg (Debian CI has it)")
def test_packages_agree_with_dpkg_query_itself():
    major = server_major()
    packages = ["dpkg", "python3", f"postgresql-client-{major}", f"postgresql-{major}", "podman"]
    listing = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\n")
    installed = {line.split()[0] for line in listing if line.endswith(" installed")}
    result = snapshot("packages=" + ",".join(packages))
    assert result["missing_packages"] == [name for name in packages if name not in installed]


@pytest.mark.skipif(not shutil.which("apt-get"), reason="reads apt's lists (Debian CI has them)")
def test_package_lists_are_the_ones_apt_itself_names():
    # apt names the Packages lists of its sources, downloaded or not.
    listing = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(FILENAME)", "Created-By: Packages"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert snapshot()["package_lists"] == sum(os.path.exists(path) for path in listing)


def test_files_report_type_owner_mode_and_checksum_without_following_links(tmp_path):
    config = tmp_path / "settings.conf"
    config.write_bytes(b"listen_addresses = 'localhost'\n")
    config.chmod(0o640)
    (tmp_path / "link").symlink_to(config)
    paths = [config, tmp_path, tmp_path / "link", tmp_path / "absent"]

    files = snapshot("paths=" + ",".join(map(str, paths)))["files"]

    owner, group = pwd.getpwuid(os.getuid())[0], grp.getgrgid(os.getgid())[0]
    assert files[str(config)] == {
        "exists": True,
        "type": "file",
        "owner": owner,
        "group": group,
        "mode": "0640",
        "checksum": hashlib.sha1(config.read_bytes(), usedforsecurity=False).hexdigest(),
    }
    assert files[str(tmp_path)]["type"] == "directory"
    assert files[str(tmp_path)]["checksum"] == ""
    assert files[str(tmp_path / "link")]["type"] == "link"
    assert files[str(tmp_path / "absent")] == {"exists": False}


def test_a_changed_file_gets_another_checksum(tmp_path):
    path = tmp_path / "pg_hba.conf"
    path.write_text("local all all peer\n")
    before = snapshot(f"paths={path}")["files"][str(path)]["checksum"]
    path.write_text("local all all scram-sha-256\n")
    assert snapshot(f"paths={path}")["files"][str(path)]["checksum"] != before


def test_python_platform_and_systemd_are_this_machine(tmp_path):
    result = snapshot(extra=("--check",))
    assert result["python"] == {
        "version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "executable": sys.executable,
    }
    assert result["architecture"] == platform.machine()
    # As the C library's own tool prints it ("ldd (Debian GLIBC 2.36-9+deb12u14) 2.36").
    ldd = subprocess.run(["ldd", "--version"], capture_output=True, text=True, check=True)
    assert result["glibc"] == ldd.stdout.splitlines()[0].split()[-1]
    assert result["systemd"] is os.path.isdir("/run/systemd/system")
    assert result["missing_packages"] == [] and result["files"] == {}


def test_memory_is_what_the_kernel_says_or_the_control_groups_lower_limit():
    assert snapshot()["memory_mb"] == host_memory_mb()


def test_the_processors_are_those_the_module_may_run_on():
    assert snapshot()["cpus"] == len(os.sched_getaffinity(0))


def test_services_are_read_only_where_systemd_runs():
    result = snapshot("services=backend-db-no-such-unit")
    if result["systemd"]:
        assert result["services"] == {
            "backend-db-no-such-unit": {"active": False, "enabled": False}
        }
    else:
        assert result["services"] == {}


def test_the_release_is_the_one_os_release_names():
    release = os_release()
    assert snapshot()["release"] == {
        "id": release["ID"],
        "version": release.get("VERSION_ID", ""),
        "codename": release.get("VERSION_CODENAME", ""),
    }


def test_the_version_placeholder_is_filled_in_from_the_release_or_the_version(tmp_path):
    release = os_release()["VERSION_ID"]
    (tmp_path / "v42").mkdir()
    (tmp_path / "v42" / "postgresql.conf").write_text("")
    (tmp_path / "v7").mkdir()
    (tmp_path / "v7" / "postgresql.conf").write_text("")
    asked = (
        f"packages=backend-db-{{version}}-absent,dpkg paths={tmp_path}/v{{version}} "
        f"globs={tmp_path}/v*/postgresql.conf,{tmp_path}/v{{version}}/*.conf"
    )
    by_release = snapshot(asked, f"version_by_release={release}=42,0=7")
    assert by_release["version"] == "42"
    assert by_release["missing_packages"] == ["backend-db-42-absent"]
    assert list(by_release["files"]) == [f"{tmp_path}/v42"]
    assert by_release["globs"] == {
        f"{tmp_path}/v*/postgresql.conf": [
            f"{tmp_path}/v42/postgresql.conf",
            f"{tmp_path}/v7/postgresql.conf",
        ],
        f"{tmp_path}/v42/*.conf": [f"{tmp_path}/v42/postgresql.conf"],
    }

    explicit = snapshot(asked, "version=7", f"version_by_release={release}=42")
    assert explicit["version"] == "7"
    assert explicit["missing_packages"] == ["backend-db-7-absent"]
    assert list(explicit["files"]) == [f"{tmp_path}/v7"]


def test_read_files_come_back_as_text_and_missing_ones_as_empty(tmp_path):
    (tmp_path / "v7").mkdir()
    (tmp_path / "v7" / "server.crt").write_text("-----BEGIN CERTIFICATE-----\nMII\n")
    result = snapshot(f"read={tmp_path}/v{{version}}/server.crt,{tmp_path}/absent", "version=7")
    assert result["contents"] == {
        f"{tmp_path}/v7/server.crt": "-----BEGIN CERTIFICATE-----\nMII\n",
        f"{tmp_path}/absent": "",
    }


def test_without_a_version_for_the_release_entries_needing_one_are_left_out(tmp_path):
    result = snapshot(
        f"packages=backend-db-{{version}}-absent,backend-db-absent paths={tmp_path}/v{{version}}",
        "version_by_release=0=7",
    )
    assert result["version"] is None
    assert result["missing_packages"] == ["backend-db-absent"]
    assert result["files"] == {}


def asked(postgres, sql: str, args: dict | None = None, port: int | None = None, **more: str):
    """host_snapshot with a question for the test server on its own socket (trust)."""
    question = {
        "sql": sql, "args": args or {}, "port": port or postgres.port,
        "socket_dir": str(postgres.socket_dir), "user": SUPERUSER,
    }  # fmt: skip
    return snapshot(json.dumps({"server_query": question, **more}))


def test_the_server_answers_with_its_first_row_in_a_read_only_transaction(postgres):
    # The placeholder is filled in within the values: PG_{version} is the data directory's
    # PG_VERSION for one version, a file that is not there for another.
    sql = (
        "SELECT %(word)s AS word, current_setting('transaction_read_only') AS read_only, "
        "(pg_stat_file(%(path)s, true)).size IS NOT NULL AS found FROM generate_series(1, 3)"
    )
    args = {"word": "pending", "path": f"{postgres.datadir}/PG_{{version}}"}
    assert asked(postgres, sql, args, version="VERSION")["server_row"] == {
        "word": "pending", "read_only": "on", "found": True,
    }  # fmt: skip
    assert asked(postgres, sql, args, version="ABSENT")["server_row"]["found"] is False


def test_a_server_that_cannot_answer_or_would_be_changed_gives_no_row(postgres, admin):
    # Nothing listens on that port: a server that is down.
    assert asked(postgres, "SELECT 1 AS one", port=free_port())["server_row"] is None
    # No row at all.
    assert asked(postgres, "SELECT 1 AS one WHERE false")["server_row"] is None
    # A statement that writes fails in the read-only transaction, and nothing is left.
    assert asked(postgres, "CREATE TABLE snapshot_wrote (id int)")["server_row"] is None
    with admin.cursor() as cursor:
        cursor.execute("SELECT to_regclass('snapshot_wrote') IS NULL")
        assert cursor.fetchone()[0] is True
    # Not asked: no row either.
    assert snapshot()["server_row"] is None


def test_the_migrations_roles_question_is_the_revision_the_database_records(postgres, admin):
    """What the migrations role asks in its snapshot: a re-run whose database records the
    requested revision calls no migration module (roles/migrations/tasks/main.yml)."""
    role_vars = yaml.safe_load((ROOT / "roles/migrations/vars/main.yml").read_text())
    sql = role_vars["__migrations_revision_query"]["sql"]
    # No alembic_version yet (a first run): no answer, and the module decides.
    assert asked(postgres, sql)["server_row"] is None
    with admin.cursor() as cursor:
        cursor.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        try:
            cursor.execute("INSERT INTO alembic_version VALUES ('ef967eba196f')")
            assert asked(postgres, sql)["server_row"] == {"recorded": "ef967eba196f"}
            # Two branches recorded: no single id, which no requested revision equals.
            cursor.execute("INSERT INTO alembic_version VALUES ('b1c2d3e4f5a6')")
            recorded = asked(postgres, sql)["server_row"]["recorded"]
            assert sorted(recorded.split(" ")) == ["b1c2d3e4f5a6", "ef967eba196f"]
        finally:
            cursor.execute("DROP TABLE alembic_version")


def test_addresses_that_refuse_the_port_are_the_unreachable_ones():
    """What a cluster's member learns of its peers in the same call (the patroni role)."""
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        # The listener takes connections on 127.0.0.1 only: 127.0.0.2 refuses them.
        reach = {"reach": {"port": port, "addresses": ["127.0.0.1", "127.0.0.2"]}}
        assert snapshot(json.dumps(reach))["out_of_reach"] == ["127.0.0.2"]
    # The listener gone, nothing accepts; not asked, nothing is tried.
    assert snapshot(json.dumps(reach))["out_of_reach"] == ["127.0.0.1", "127.0.0.2"]
    assert snapshot()["out_of_reach"] == []


def test_a_relative_path_fails_with_one_clear_line():
    completed, result = run_module("host_snapshot", "paths=etc/postgresql")
    assert completed.returncode != 0
    assert result["msg"] == "paths must be absolute; these are not: etc/postgresql"
    assert "Traceback" not in completed.stdout + completed.stderr


def test_ansible_doc_is_the_manual():
    manual = module_manual("host_snapshot")
    for word in ("packages", "paths", "services", "missing_packages", "EXAMPLES"):
        assert word in manual
