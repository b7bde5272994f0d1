"""host_snapshot through Ansible itself, reading this machine: its dpkg, files and Python."""

from __future__ import annotations

import grp
import hashlib
import os
import platform
import pwd
import shutil
import subprocess
import sys

import pytest

from tests.helpers import module_manual, run_module


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
    packages = ["dpkg", "python3", "postgresql-client-15", "postgresql-15", "podman"]
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


def test_services_are_read_only_where_systemd_runs():
    result = snapshot("services=backend-db-no-such-unit")
    if result["systemd"]:
        assert result["services"] == {
            "backend-db-no-such-unit": {"active": False, "enabled": False}
        }
    else:
        assert result["services"] == {}


def test_a_relative_path_fails_with_one_clear_line():
    completed, result = run_module("host_snapshot", "paths=etc/postgresql")
    assert completed.returncode != 0
    assert result["msg"] == "paths must be absolute; these are not: etc/postgresql"
    assert "Traceback" not in completed.stdout + completed.stderr


def test_ansible_doc_is_the_manual():
    manual = module_manual("host_snapshot")
    for word in ("packages", "paths", "services", "missing_packages", "EXAMPLES"):
        assert word in manual
