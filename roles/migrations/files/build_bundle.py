"""Pack models/ and migrations/ into a reproducible, content-addressed tar.gz for the hosts.

    build_bundle.py [--name-only] BUILD_DIR PROJECT_ROOT models migrations

The release is named by a digest of its contents, NAME = app-<digest>: the archive
BUILD_DIR/NAME.tar.gz holds everything under NAME/, so it unpacks on the host into a
directory of that name, and a host that already has NAME needs nothing sent. The last
entry, NAME/RELEASE, holds the name: tar extracts in order, so a host that has it has
everything before it (an unpack that was cut off is done again). The same
sources always give the same bytes (sorted names, fixed times and owners, no
__pycache__). Prints "built NAME", or "unchanged NAME" when the archive was already there;
with --name-only, only NAME, building nothing.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

RELEASE_MARKER = "RELEASE"
# Part of every digest: a change to the archive's layout gives every release a new name.
FORMAT = b"backend-db bundle 2"


def sources(root: Path, directories: list[str]) -> list[Path]:
    return [
        path
        for directory in directories
        for path in sorted((root / directory).rglob("*"))
        if "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]


def digest(root: Path, paths: list[Path]) -> str:
    content = hashlib.sha256(FORMAT + b"\0")
    for path in paths:
        content.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_file():
            content.update(path.read_bytes() + b"\0")
    return content.hexdigest()[:16]


def pack(root: Path, paths: list[Path], name: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        top = tarfile.TarInfo(name)
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(top)
        for path in paths:
            info = tar.gettarinfo(str(path), arcname=f"{name}/{path.relative_to(root)}")
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
        release = f"{name}\n".encode()
        marker = tarfile.TarInfo(f"{name}/{RELEASE_MARKER}")
        marker.size, marker.mode = len(release), 0o644
        tar.addfile(marker, io.BytesIO(release))
    return gzip.compress(raw.getvalue(), mtime=0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name-only", action="store_true")
    parser.add_argument("build_dir", type=Path)
    parser.add_argument("root", type=Path)
    parser.add_argument("directories", nargs="+")
    args = parser.parse_args(argv)
    paths = sources(args.root, args.directories)
    name = f"app-{digest(args.root, paths)}"
    if args.name_only:
        print(name)
        return 0
    out = args.build_dir / f"{name}.tar.gz"
    if out.is_file():
        print(f"unchanged {name}")
        return 0
    args.build_dir.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial")
    staging.write_bytes(pack(args.root, paths, name))
    staging.rename(out)
    print(f"built {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
