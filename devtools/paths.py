"""Where the project's files are, for the tests, the benchmarks and the scripts."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
# The virtualenv's commands (ansible-playbook, molecule, ...): beside this Python.
BIN = Path(sys.executable).parent
