"""Pack models/ and migrations/ into a reproducible tar.gz for the target hosts.

    build_bundle.py OUT PROJECT_ROOT models migrations

The same sources always give the same bytes (sorted names, fixed times and owners,
no __pycache__), so copying the bundle reports a change only when the code changed.
Prints "unchanged" when OUT already holds exactly these bytes, "built" otherwise.
"""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
from pathlib import Path


def pack(root: Path, directories: list[str]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in directories:
            for path in sorted((root / directory).rglob("*")):
                if "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(root)))
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = 0o755 if path.is_dir() else 0o644
                if path.is_file():
                    with path.open("rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
    return gzip.compress(raw.getvalue(), mtime=0)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, root, directories = Path(argv[0]), Path(argv[1]), argv[2:]
    data = pack(root, directories)
    if out.is_file() and out.read_bytes() == data:
        print("unchanged")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print("built")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
