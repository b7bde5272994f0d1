"""What one task's process of a run made, kept for the next ones: each task runs in a
process of its own, forked from ansible-playbook, which forgets what it made when the
task ends.

The folder is in the run's own temporary directory (Ansible's ansible-local-*, private to
the user), which Ansible removes when the run ends.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable


def digest(*parts) -> str:
    """A file name for what is made from these parts: a digest of their text."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def make_folder(folder: str) -> None:
    """The folder, private to the user, made if it is not there."""
    os.makedirs(folder, mode=0o700, exist_ok=True)


def kept(folder: str, name: str, make: Callable[[], bytes]) -> bytes:
    """The bytes a process of this run kept under `name`, or else those `make` returns,
    kept there for the next process."""
    path = os.path.join(folder, name)
    try:
        # Written by this run's own processes, in its private directory (0700).
        with open(path, "rb") as found:
            return found.read()
    except OSError:
        pass
    made = make()
    partial = f"{path}.{os.getpid()}"
    try:
        with open(partial, "wb") as keeping:
            keeping.write(made)
        # Whole or not at all, for a process that reads it meanwhile.
        os.replace(partial, path)
    except OSError:
        pass
    return made
