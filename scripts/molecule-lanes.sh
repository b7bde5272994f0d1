#!/usr/bin/env bash
# Runs `molecule test` for each scenario in two lanes at once: the scenarios given as
# arguments one after the other, and the scenario in MOLECULE_BESIDE (the longest, mostly
# waiting on apt and on the drills' timeouts) beside them. The lane beside writes to a log
# that is printed when it ends; the run fails when any scenario failed, after both lanes,
# and ends with why: the failed tasks and tests of each failed scenario, so that the last
# lines of a long CI log say what went wrong.
#
#     MOLECULE_BESIDE=ha bash scripts/molecule-lanes.sh default cluster ...
set -uo pipefail
cd "$(dirname "$0")/.."
beside="${MOLECULE_BESIDE:-}"
logs=$(mktemp -d "${TMPDIR:-/tmp}/backend-db-molecule.XXXXXX")
pid=""
# Interrupted, the lane beside stops too.
trap 'rm -rf "$logs"; [ -z "$pid" ] || kill "$pid" 2>/dev/null' EXIT

if [ -n "$beside" ]; then
    molecule test --scenario-name "$beside" >"$logs/$beside" 2>&1 &
    pid=$!
    echo "molecule test --scenario-name $beside: running beside the others (its log follows when it ends)"
fi

failed=()
for scenario in "$@"; do
    molecule test --scenario-name "$scenario" 2>&1 | tee "$logs/$scenario" || failed+=("$scenario")
done

if [ -n "$pid" ]; then
    wait "$pid" || failed+=("$beside")
    pid=""
    echo "===== molecule test --scenario-name $beside ====="
    cat "$logs/$beside"
fi

if [ "${#failed[@]}" -gt 0 ]; then
    for scenario in "${failed[@]}"; do
        echo "===== why $scenario failed: its failed tasks and tests (the whole log is above) ====="
        # Colours off; Ansible's failed tasks with the lines after them, then pytest's
        # failed tests: a test that failed on a playbook shows the playbook's fatal line.
        # Molecule frames each line of a step's output with "  │ ".
        plain=$(sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^  │ //' "$logs/$scenario")
        grep -E -A2 '^(fatal|failed): |ran past [0-9]+ s|^CRITICAL |Idempotence test failed|^\* \[' <<<"$plain" | cut -c1-300 | tail -n 12
        # pytest's failed tests (a long id is wrapped onto the next line) and error lines.
        grep -E -A1 '^FAILED($| [a-z])|^ERROR [a-z/_]+\.py' <<<"$plain" | cut -c1-600 | tail -n 8
        grep -E '^E  ' <<<"$plain" | cut -c1-300 | tail -n 6
    done
    echo "Molecule scenarios failed: ${failed[*]}; their output is above." >&2
    exit 1
fi
