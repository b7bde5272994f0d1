#!/usr/bin/python
"""Ansible module host_snapshot: what the roles need to know about a host, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_snapshot
short_description: Read a host's packages, files, services and Python in one module call
description:
  - Reads, and never changes, what the roles decide their work by - which Debian
    packages are installed, the owner, mode and checksum of given files, whether
    given systemd units are running and enabled, the host's Python, architecture and
    name - so that a role makes one module call where the setup, dpkg-query, find,
    stat and systemd modules would make one each. Every Ansible module call costs a
    Python start and the import of Ansible's module code on the host.
  - Packages are read from dpkg's own record with C(dpkg-query), which is much
    cheaper than loading apt's package lists. A package counts as installed only when
    dpkg says C(installed); an unpacked or half-configured one counts as missing.
  - Services are read with one C(systemctl show) per unit, only on a host booted with
    systemd (C(/run/systemd/system) exists).
  - What a role installs can depend on the host's release (Debian 12 ships PostgreSQL
    15, Debian 13 PostgreSQL 17), which the role cannot know before it has asked. So
    every entry of I(packages), I(paths), I(services) and I(globs) may hold the
    placeholder C({version}), which the module fills in with I(version), or when that is
    empty with the value I(version_by_release) gives for the host's release, and it
    reports the value it chose. Where it can choose none, entries with the placeholder
    are left out.
version_added: "0.1.0"
author: backend-db developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; a check reads the same.
  diff_mode:
    support: none
  platform:
    platforms: debian
options:
  packages:
    description: Debian packages whose installed state is wanted.
    type: list
    elements: str
    default: []
  paths:
    description:
      - Absolute paths whose state is wanted. Links are reported as links, not followed.
    type: list
    elements: path
    default: []
  services:
    description: systemd units whose state is wanted, such as C(postgresql@15-main).
    type: list
    elements: str
    default: []
  read:
    description:
      - Absolute paths of small, public text files whose content is wanted, such as a
        certificate, so that the controller can judge it without another call. Never
        name a secret, since the content is in the result. A missing file reads as
        empty; at most 64 KiB of each is read.
    type: list
    elements: path
    default: []
  globs:
    description:
      - Shell patterns of absolute paths (C(*), C(?), C([...])) whose matches are wanted,
        such as C(/etc/postgresql/*/main/postgresql.conf) to find a cluster of any version.
    type: list
    elements: str
    default: []
  fingerprints:
    description:
      - By absolute path of an INI-like file (such as pgBackRest's configuration), the
        keys of the values wanted, such as C([repo1-path, repo1-cipher-pass]); of a YAML
        file (a name ending in C(.yml) or C(.yaml), such as Patroni's settings), dotted
        keys such as C(etcd3.password). The result
        holds a salted, slow hash of each value (C(fingerprint_matches) compares it on the
        controller), never the value, so that the controller learns whether the host
        depends on the same secret as the inventory.
    type: dict
    default: {}
  server_query:
    description:
      - A question for the PostgreSQL server on the host, asked over its Unix socket in a
        read-only transaction, so that a role learns what the server says (such as a
        setting waiting for a restart) in the same call. The value of each key of
        I(args) may hold the placeholder C({version}).
      - Unset, the server is not asked.
    type: dict
    suboptions:
      sql:
        description: One statement; its first row is reported. C(%(name)s) names a value of I(args).
        type: str
        required: true
      args:
        description: The named values of I(sql).
        type: dict
        default: {}
      port:
        description: The server's port.
        type: int
        default: 5432
      socket_dir:
        description: The directory of the server's Unix socket.
        type: path
        default: /var/run/postgresql
      user:
        description: The role to log in as, by peer authentication.
        type: str
        default: postgres
      database:
        description: The database to connect to.
        type: str
        default: postgres
  reach:
    description:
      - Addresses of other hosts, and the TCP port to try on each, so that a role learns
        in the same call which of them this host cannot reach (such as a cluster's members
        on etcd's peer port). Each address gets one attempt of at most I(timeout) seconds;
        a role that expects a listener to start later tries again itself.
      - Unset, nothing is tried.
    type: dict
    suboptions:
      port:
        description: The TCP port to connect to.
        type: int
        required: true
      addresses:
        description: Host names or IP addresses.
        type: list
        elements: str
        default: []
      timeout:
        description: Seconds each attempt may take.
        type: float
        default: 1.0
  version:
    description:
      - The value of the placeholder C({version}). Empty to take it from I(version_by_release).
    type: str
    default: ""
  version_by_release:
    description:
      - The value of the placeholder C({version}) by the host's release (C(VERSION_ID) of
        C(/etc/os-release), such as C(12)), used when I(version) is empty.
    type: dict
    default: {}
notes:
  - Supports check mode; it reads only.
"""

EXAMPLES = r"""
- name: The packages, managed files and service are known as they are now
  host_snapshot:
    packages: [postgresql-15, openssl]
    paths: [/etc/postgresql/15/main/pg_hba.conf]
    services: [postgresql@15-main]
  register: state

- name: The PostgreSQL that the host's release ships is known, installed or not
  host_snapshot:
    version_by_release: {"12": "15", "13": "17"}
    packages: ["postgresql-{version}"]
    services: ["postgresql@{version}-main"]
    globs: ["/etc/postgresql/*/main/postgresql.conf"]
  register: server

- name: The packages are installed
  ansible.builtin.apt:
    name: "{{ state.missing_packages }}"
  when: state.missing_packages | length > 0
"""

RETURN = r"""
missing_packages:
  description: The requested packages that dpkg does not report as installed, in request order.
  returned: always
  type: list
  elements: str
  sample: [postgresql-15]
package_lists:
  description:
    - How many package lists apt has downloaded (files under C(/var/lib/apt/lists)
      whose name has C(_Packages)). An image whose lists were deleted has none,
      however recent the directory looks, and must refresh them before installing.
  returned: always
  type: int
  sample: 4
files:
  description:
    - By requested path, its state. C(exists) is false for a missing path and then the
      only key. C(type) is C(file), C(directory), C(link) or C(other); C(mode) is
      four octal digits; C(checksum) is the SHA-1 of a regular file's content, empty
      for anything else.
  returned: always
  type: dict
  sample:
    /etc/postgresql/15/main/pg_hba.conf:
      exists: true
      type: file
      owner: postgres
      group: postgres
      mode: "0600"
      checksum: 9f5f3a1e2b1c07c1b1b3b1d2e3f4a5b6c7d8e9f0
systemd:
  description: Whether the host was booted with systemd.
  returned: always
  type: bool
services:
  description:
    - By requested unit, whether it is C(active) (running) and C(enabled) (started at
      boot; systemd's state C(enabled), nothing weaker). Empty when the host was not
      booted with systemd.
  returned: always
  type: dict
  sample: {postgresql@15-main: {active: true, enabled: true}}
python:
  description: The Python running the module, as C(version) (major.minor) and C(executable).
  returned: always
  type: dict
  sample: {version: "3.11", executable: /usr/bin/python3}
architecture:
  description: The machine's architecture, as C(uname -m) prints it.
  returned: always
  type: str
  sample: x86_64
glibc:
  description:
    - The version of the GNU C library the module's Python runs on, as major.minor;
      null on a host whose C library is another. Binary Python wheels name the oldest
      glibc they need (manylinux).
  returned: always
  type: str
  sample: "2.36"
release:
  description:
    - The host's operating system release from C(/etc/os-release) - C(id), C(version)
      (C(VERSION_ID), empty on a release that has none, such as Debian testing) and
      C(codename).
  returned: always
  type: dict
  sample: {id: debian, version: "12", codename: bookworm}
version:
  description:
    - The value chosen for the placeholder C({version}); null when I(version) is empty and
      I(version_by_release) names no value for the host's release.
  returned: always
  type: str
  sample: "15"
globs:
  description: By requested pattern (placeholder filled in), the paths that match it, sorted.
  returned: always
  type: dict
  sample: {/etc/postgresql/*/main/postgresql.conf: [/etc/postgresql/15/main/postgresql.conf]}
contents:
  description: By requested path of I(read) (placeholder filled in), its text; empty when missing.
  returned: always
  type: dict
  sample: {/etc/postgresql/15/main/server.crt: "-----BEGIN CERTIFICATE-----..."}
fingerprints:
  description:
    - By requested path, by key, the fingerprint (C(salt), C(pbkdf2_sha256)) of the key's
      value; null when the file or the key is missing.
  returned: always
  type: dict
  sample: {/etc/pgbackrest/main.conf: {repo1-cipher-pass: {salt: 3q2+7w==, pbkdf2_sha256: 9f86d08}}}
out_of_reach:
  description:
    - The addresses of I(reach) that did not accept a connection on its port, in the order
      given; empty when nothing was tried. (Not named C(unreachable), which Ansible reads
      as the host's own state.)
  returned: always
  type: list
  elements: str
  sample: [10.0.0.12]
server_row:
  description:
    - The first row of I(server_query)'s answer, by column; null when the server was not
      asked, or could not be (it is not running, refuses the login, or the host's Python
      lacks psycopg2), or the answer had no row.
  returned: always
  type: dict
  sample: {pending: 0, unread: 0}
fqdn:
  description: The host's fully qualified name.
  returned: always
  type: str
  sample: db1.example.com
memory_mb:
  description:
    - The memory the host gives its processes, in MiB - C(MemTotal) of C(/proc/meminfo),
      or a control group's lower limit (C(memory.max)) when the module runs in one, as
      in a container started with a memory limit. Null when neither can be read.
  returned: always
  type: int
  sample: 24105
cpus:
  description:
    - The processors the host gives its processes - those the module may run on, or
      fewer when a control group's quota (C(cpu.max)) allows less, rounded up.
  returned: always
  type: int
  sample: 4
"""

import glob  # noqa: E402
import grp  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import pwd  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import sys  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.backend_db.postgresql.plugins.module_utils.secrets import (  # noqa: E402
    config_value,
    fingerprint,
)

APT_LISTS = "/var/lib/apt/lists"
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
PLACEHOLDER = "{version}"
FILE_TYPES = ((stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "link"))
MEMINFO = "/proc/meminfo"
# cgroup v2's limit of the module's own group, then cgroup v1's: "max" or a number of bytes.
MEMORY_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def glibc_version() -> str | None:
    try:
        name, _space, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")
    except (AttributeError, ValueError, OSError):
        return None
    return ".".join(version.split(".")[:2]) if name == "glibc" else None


def memory_mb(meminfo: str = MEMINFO, limits: tuple[str, ...] = MEMORY_LIMITS) -> int | None:
    """MemTotal in MiB, or a control group's limit when that is lower."""
    sizes = []
    try:
        with open(meminfo, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    sizes.append(int(line.split()[1]) // 1024)
                    break
    except (OSError, ValueError):
        pass
    for path in limits:
        try:
            with open(path, encoding="ascii") as handle:
                sizes.append(int(handle.read().strip()) // (1024 * 1024))
        except (OSError, ValueError):
            continue
    return min(sizes) if sizes else None


CPU_QUOTA = "/sys/fs/cgroup/cpu.max"


def cpus(quota_path: str = CPU_QUOTA) -> int:
    """The processors this process may run on, or a control group's lower quota."""
    count = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    try:
        with open(quota_path, encoding="ascii") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            count = min(count, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return count


def os_release(candidates: tuple[str, ...] = OS_RELEASE) -> dict:
    """ID, VERSION_ID and VERSION_CODENAME from the first os-release file there is."""
    fields: dict[str, str] = {}
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for line in lines:
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip()] = value.strip().strip("\"'")
        break
    return {
        "id": fields.get("ID", ""),
        "version": fields.get("VERSION_ID", ""),
        "codename": fields.get("VERSION_CODENAME", ""),
    }


def fill_in(entries: list[str], version: str | None) -> list[str]:
    """The entries with the placeholder filled in; those needing it left out without one."""
    if version is None:
        return [entry for entry in entries if PLACEHOLDER not in entry]
    return [entry.replace(PLACEHOLDER, version) for entry in entries]


def missing_packages(module: AnsibleModule, packages: list[str]) -> list[str]:
    if not packages:
        return []
    dpkg_query = module.get_bin_path("dpkg-query")
    if dpkg_query is None:
        module.fail_json(
            msg="host_snapshot reads packages with dpkg-query, which this host lacks: "
            "the packages option needs a Debian or Ubuntu host"
        )
    # rc 1 only means that some package is unknown to dpkg, that is, not installed.
    rc, out, err = module.run_command(
        [dpkg_query, "--show", "--showformat=${Package} ${db:Status-Status}\\n", "--", *packages]
    )
    if rc not in (0, 1):
        module.fail_json(msg=f"dpkg-query could not read the package database: {err.strip()}")
    installed = {
        fields[0] for fields in map(str.split, out.splitlines()) if fields[1:] == ["installed"]
    }
    return [package for package in packages if package not in installed]


def package_lists(directory: str = APT_LISTS) -> int:
    try:
        return sum("_Packages" in name for name in os.listdir(directory))
    except OSError:
        return 0


def file_state(module: AnsibleModule, path: str) -> dict:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    kind = next((name for test, name in FILE_TYPES if test(info.st_mode)), "other")
    return {
        "exists": True,
        "type": kind,
        "owner": _name(pwd.getpwuid, info.st_uid),
        "group": _name(grp.getgrgid, info.st_gid),
        "mode": f"{stat.S_IMODE(info.st_mode):04o}",
        # Ansible's own file checksum, as the stat and copy modules report it.
        "checksum": module.digest_from_file(path, "sha1") if kind == "file" else "",
    }


def read_text(module: AnsibleModule, path: str, limit: int = 65536) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        module.fail_json(msg=f"host_snapshot could not read {path}: {exc.strerror}")


def fingerprints(module: AnsibleModule, path: str, keys: list) -> dict:
    """By key, the fingerprint of its value in the file, or None when either is missing."""
    text = read_text(module, path)
    try:
        values = {str(key): config_value(path, text, str(key)) for key in keys}
    except ValueError as error:
        module.fail_json(msg=f"host_snapshot could not read {path}: {error}")
    return {key: fingerprint(value) if value else None for key, value in values.items()}


def server_row(question: dict | None, version: str | None) -> dict | None:
    """The first row of the server's answer to a read-only question; None when it cannot be
    asked. A server that is down, or a host without psycopg2 yet, simply has no answer."""
    if not question:
        return None
    try:
        import psycopg2  # pylint: disable=import-outside-toplevel
        import psycopg2.extras  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    args = {
        key: fill_in([value], version)[0] if isinstance(value, str) and version else value
        for key, value in (question.get("args") or {}).items()
    }
    try:
        connection = psycopg2.connect(
            host=question["socket_dir"],
            port=question["port"],
            user=question["user"],
            dbname=question["database"],
            connect_timeout=5,
            application_name="backend_db host_snapshot",
        )
    except psycopg2.Error:
        return None
    try:
        connection.set_session(readonly=True)
        with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
            cursor.execute(question["sql"], args)
            row = cursor.fetchone()
        return dict(row) if row is not None else None
    except psycopg2.Error:
        return None
    finally:
        # Closed without a commit: the read-only transaction ends with it.
        connection.close()


def _name(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def out_of_reach(reach: dict | None) -> list[str]:
    """The addresses of reach that refuse, or do not answer within its timeout, a TCP
    connection on its port."""
    if not reach:
        return []
    missed = []
    for address in reach["addresses"]:
        try:
            socket.create_connection((address, reach["port"]), timeout=reach["timeout"]).close()
        except OSError:
            missed.append(address)
    return missed


def service_state(module: AnsibleModule, systemctl: str, unit: str) -> dict:
    rc, out, err = module.run_command(
        [systemctl, "show", "--property=ActiveState,UnitFileState", "--", unit]
    )
    if rc != 0:
        module.fail_json(msg=f"systemctl could not show the unit {unit}: {err.strip()}")
    properties = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {
        "active": properties.get("ActiveState") == "active",
        "enabled": properties.get("UnitFileState") == "enabled",
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "paths": {"type": "list", "elements": "path", "default": []},
            "services": {"type": "list", "elements": "str", "default": []},
            "globs": {"type": "list", "elements": "str", "default": []},
            "read": {"type": "list", "elements": "path", "default": []},
            "fingerprints": {"type": "dict", "default": {}},
            "server_query": {
                "type": "dict",
                "options": {
                    "sql": {"type": "str", "required": True},
                    "args": {"type": "dict", "default": {}},
                    "port": {"type": "int", "default": 5432},
                    "socket_dir": {"type": "path", "default": "/var/run/postgresql"},
                    "user": {"type": "str", "default": "postgres"},
                    "database": {"type": "str", "default": "postgres"},
                },
            },
            "reach": {
                "type": "dict",
                "options": {
                    "port": {"type": "int", "required": True},
                    "addresses": {"type": "list", "elements": "str", "default": []},
                    "timeout": {"type": "float", "default": 1.0},
                },
            },
            "version": {"type": "str", "default": ""},
            "version_by_release": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    params = module.params
    release = os_release()
    by_release = {str(key): str(value) for key, value in params["version_by_release"].items()}
    version = params["version"] or by_release.get(release["version"])
    paths, units, packages, patterns, reads = (
        fill_in(params[name], version)
        for name in ("paths", "services", "packages", "globs", "read")
    )
    named = paths + patterns + reads + list(params["fingerprints"])
    relative = [path for path in named if not os.path.isabs(path)]
    if relative:
        module.fail_json(msg=f"paths must be absolute; these are not: {', '.join(relative)}")

    files = {}
    for path in paths:
        try:
            files[path] = file_state(module, path)
        except OSError as exc:
            module.fail_json(msg=f"host_snapshot could not read {path}: {exc.strerror}")

    systemd = os.path.isdir("/run/systemd/system")
    services = {}
    if systemd and units:
        systemctl = module.get_bin_path("systemctl", required=True)
        services = {unit: service_state(module, systemctl, unit) for unit in units}
    module.exit_json(
        changed=False,
        release=release,
        version=version,
        globs={pattern: sorted(glob.glob(pattern)) for pattern in patterns},
        missing_packages=missing_packages(module, packages),
        package_lists=package_lists(),
        files=files,
        systemd=systemd,
        services=services,
        python={
            "version": f"{sys.version_info.major}.{sys.version_info.minor}",
            "executable": sys.executable,
        },
        architecture=platform.machine(),
        glibc=glibc_version(),
        contents={path: read_text(module, path) for path in reads},
        fingerprints={
            path: fingerprints(module, path, keys if isinstance(keys, list) else [keys])
            for path, keys in params["fingerprints"].items()
        },
        server_row=server_row(params["server_query"], version),
        out_of_reach=out_of_reach(params["reach"]),
        fqdn=socket.getfqdn(),
        memory_mb=memory_mb(),
        cpus=cpus(),
    )


if __name__ == "__main__":
    main()
