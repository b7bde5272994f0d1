#!/usr/bin/env bash
# Runs `molecule test` for each scenario in two lanes at once: the scenarios given as
# arguments one after the other, and the scenario in MOLECULE_BESIDE (the longest, mostly
# waiting on apt and on the drills' timeouts) beside them. The lane beside writes to a log
# that is printed when it ends; the run fails when any scenario failed, after both lanes.
#
#     MOLECULE_BESIDE=ha bash scripts/molecule-lanes.sh default cluster ...
set -uo pipefail
cd "$(dirname "$0")/.."
beside="${MOLECULE_BESIDE:-}"
log=$(mktemp "${TMPDIR:-/tmp}/backend-db-molecule-${beside:-none}.XXXXXX")
pid=""
# Interrupted, the lane beside stops too.
trap 'rm -f "$log"; [ -z "$pid" ] || kill "$pid" 2>/dev/null' EXIT

if [ -n "$beside" ]; then
    molecule test --scenario-name "$beside" >"$log" 2>&1 &
    pid=$!
    echo "molecule test --scenario-name $beside: running beside the others (its log follows when it ends)"
fi

failed=()
for scenario in "$@"; do
    molecule test --scenario-name "$scenario" || failed+=("$scenario")
done

if [ -n "$pid" ]; then
    wait "$pid" || failed+=("$beside")
    pid=""
    echo "===== molecule test --scenario-name $beside ====="
    cat "$log"
fi

if [ "${#failed[@]}" -gt 0 ]; then
    echo "Molecule scenarios failed: ${failed[*]}; their output is above." >&2
    exit 1
fi
