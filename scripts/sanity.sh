#!/usr/bin/env bash
# ansible-test sanity on the collection, as Galaxy would receive it: the artifact that
# `ansible-galaxy collection build` makes, installed into a temporary
# ansible_collections/ tree (ansible-test runs only from inside one). Each sanity test
# gets the virtualenv ansible-test makes for it, with the versions ansible-test pins,
# from PyPI; pip itself comes from PyPI too (scripts/ansible-test-get-pip.py), not from
# the host ansible-test would download it from.
#
#     bash scripts/sanity.sh [ANSIBLE-TEST SANITY OPTIONS...]     # e.g. --test pylint
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
python="$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# The pip version ansible-test bootstraps, and where it looks for the bootstrap script.
pip_version="$("$BIN/python" - <<'PY'
import re
from pathlib import Path

import ansible_test

source = Path(ansible_test.__file__).parent / "_internal/python_requirements.py"
print(re.search(r"pip='([\d.]+)'", source.read_text()).group(1))
PY
)"
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
if [ ! -f "$cache/pip-$pip_version-py3-none-any.whl" ]; then
    "$BIN/python" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --dest "$cache" "pip==$pip_version"
fi
cp scripts/ansible-test-get-pip.py "$cache/get_pip_${pip_version//./_}.py"

work=$(mktemp -d "${TMPDIR:-/tmp}/backend-db-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$BIN/ansible-galaxy" collection build --output-path "$work" . >/dev/null
ANSIBLE_COLLECTIONS_PATH="$work/collections" "$BIN/ansible-galaxy" collection install \
    --offline --no-deps --force -p "$work/collections" "$work"/backend_db-postgresql-*.tar.gz >/dev/null
cd "$work/collections/ansible_collections/backend_db/postgresql"
"$BIN/ansible-test" sanity --venv --python "$python" --color no "$@"
