"""Build, on the controller, the Python packages a target host needs to run the migrations.

    build_packages.py DEST --python-version 3.11 --platform manylinux_2_36_x86_64 \
        --constraints requirements.lock alembic SQLAlchemy psycopg2-binary

pip installs binary wheels for the target's Python and platform (the target needs no
internet, no compiler and no pip) at the versions the constraints pin into
DEST/site-packages, and names each one in DEST/backend-db-requirements.txt. DEST.tar.gz
then holds that tree as lib/pythonX.Y/site-packages/, so it unpacks into a virtualenv
made with `python3 -m venv --without-pip`, and the requirements file as its last entry:
tar extracts in order, so a virtualenv that has the file has every package. Byte code
is compiled only when the controller's Python is the target's version. A finished
DEST is reused: prints "unchanged" then, "built" otherwise.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MARKER = "backend-db-requirements.txt"
# The names manylinux had before PEP 600 gave each glibc version its own tag.
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def compatible_platforms(platform: str) -> list[str]:
    """A host with glibc 2.N runs wheels built for glibc 2.N and every older one.

    pip takes each --platform literally, so `manylinux_2_36_x86_64` alone would miss a
    wheel tagged only `manylinux_2_28_x86_64` or `manylinux2014_x86_64`: name them all.
    """
    match = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", platform)
    if match is None:
        return [platform]
    newest, arch = int(match.group(1)), match.group(2)
    tags = []
    for minor in range(newest, 4, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in LEGACY_MANYLINUX:
            tags.append(f"{LEGACY_MANYLINUX[minor]}_{arch}")
    return tags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--python-version", required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--constraints", type=Path, required=True)
    parser.add_argument("packages", nargs="+")
    args = parser.parse_args()

    archive = args.dest.with_name(args.dest.name + ".tar.gz")
    if (args.dest / MARKER).is_file() and archive.is_file():
        print("unchanged")
        return 0
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".packages-", dir=args.dest.parent))
    staged_archive = staging.with_name(staging.name + ".tar.gz")
    site = staging / "site-packages"
    platforms = compatible_platforms(args.platform)
    same_python = args.python_version == f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-warn-script-location", "--only-binary=:all:", "--implementation", "cp",
                "--python-version", args.python_version,
                *[option for tag in platforms for option in ("--platform", tag)],
                "--compile" if same_python else "--no-compile",
                "--constraint", str(args.constraints), "--target", str(site), *args.packages,
            ],
            check=True,
        )  # fmt: skip
        # Console scripts name the controller's Python; the host runs `python -m alembic`.
        shutil.rmtree(site / "bin", ignore_errors=True)
        pins = sorted(
            "{}=={}".format(*info.name.removesuffix(".dist-info").split("-", 1))
            for info in site.glob("*.dist-info")
        )
        header = f"# Python {args.python_version} on {args.platform}\n"
        (staging / MARKER).write_text(header + "\n".join(pins) + "\n")
        prefix = f"lib/python{args.python_version}/site-packages"
        with tarfile.open(staged_archive, "w:gz", compresslevel=6) as tar:
            for path in sorted(site.rglob("*")):
                tar.add(path, arcname=f"{prefix}/{path.relative_to(site)}", recursive=False,
                        filter=_owned_by_root)  # fmt: skip
            tar.add(staging / MARKER, arcname=MARKER, filter=_owned_by_root)
        shutil.rmtree(args.dest, ignore_errors=True)
        staging.rename(args.dest)
        staged_archive.rename(archive)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        staged_archive.unlink(missing_ok=True)
    print("built")
    return 0


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o755 if info.isdir() else 0o644
    return info


if __name__ == "__main__":
    sys.exit(main())
