"""Build, on the controller, the wheels a target host needs to run the migrations.

    build_wheelhouse.py DEST --python-version 3.11 --platform manylinux2014_x86_64 \
        --constraints requirements.lock alembic SQLAlchemy psycopg2-binary

Downloads binary wheels for the target's Python and platform (the target needs no
internet and no compiler) at the versions the constraints pin, and writes
DEST/requirements.txt naming each one, then DEST.tar holding DEST's files under its
name, so that one file ships to a host and unpacks there into a directory of the same
name; requirements.txt comes last, so a host that has it has every wheel. A finished
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

WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.*\.whl$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--python-version", required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--constraints", type=Path, required=True)
    parser.add_argument("packages", nargs="+")
    args = parser.parse_args()

    archive = args.dest.with_name(args.dest.name + ".tar")
    if (args.dest / "requirements.txt").is_file() and archive.is_file():
        print("unchanged")
        return 0
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wheelhouse-", dir=args.dest.parent))
    staged_archive = staging.with_name(staging.name + ".tar")
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                args.python_version,
                "--platform",
                args.platform,
                "--constraint",
                str(args.constraints),
                "--dest",
                str(staging),
                *args.packages,
            ],
            check=True,
        )
        pins = sorted(
            f"{match['name'].replace('_', '-')}=={match['version']}"
            for wheel in staging.glob("*.whl")
            if (match := WHEEL_NAME.match(wheel.name))
        )
        (staging / "requirements.txt").write_text("\n".join(pins) + "\n")
        with tarfile.open(staged_archive, "w") as tar:
            tar.add(staging, arcname=args.dest.name, recursive=False, filter=_owned_by_root)
            for path in [*sorted(staging.glob("*.whl")), staging / "requirements.txt"]:
                tar.add(path, arcname=f"{args.dest.name}/{path.name}", filter=_owned_by_root)
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
