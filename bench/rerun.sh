#!/usr/bin/env bash
# What a change does to an idempotent re-run of site.yml: the same hosts re-run by the code
# before the change and by this tree, alternating, in one run of this script.
#
#     bash bench/rerun.sh BASE [SCENARIO] [PAIRS]   (after make setup image; as root)
#
# BASE is the commit before the change (checked out into a temporary worktree). The
# Molecule scenario SCENARIO (default ha: three Patroni members on Debian 13, etcd, the
# application host with HAProxy and the backups; patroni-debian12 for Debian 12's
# cluster; any scenario whose converge playbook is site.yml, idempotent) is
# created and converged with this tree, and each tree re-runs once, not timed (building its
# own bundle of the migrations on the controller). Then PAIRS times (default 3) BASE's
# tree and this tree each run the scenario's converge playbook against it, as Molecule
# runs it (its inventory and settings, no Molecule wrapper); every run must report
# changed=0 on every host. Prints each side's times, their medians and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${1:?the commit before the change}"
SCENARIO="${2:-ha}"
PAIRS="${3:-3}"
export PATH="$PWD/.venv/bin:$PATH" CONTAINERS_CONF="$PWD/molecule/containers.conf"
LOG=bench/rerun.log
: >"$LOG"
base_tree=$(mktemp -d)

now() { date +%s.%N; }
elapsed() { python -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(now)" "$1"; }

cleanup() {
    molecule destroy -s "$SCENARIO" >>"$LOG" 2>&1 || true
    git worktree remove --force "$base_tree/tree" >/dev/null 2>&1 || true
    rm -rf "$base_tree"
}
trap cleanup EXIT

git worktree add --detach "$base_tree/tree" "$BASE" >>"$LOG" 2>&1
molecule destroy -s "$SCENARIO" >>"$LOG" 2>&1
molecule create -s "$SCENARIO" >>"$LOG" 2>&1
molecule prepare -s "$SCENARIO" >>"$LOG" 2>&1
molecule converge -s "$SCENARIO" >>"$LOG" 2>&1
# Molecule's ephemeral directory of the scenario: the newest one.
ephemeral=$(ls -td "$HOME"/.ansible/tmp/molecule.*."$SCENARIO" | head -n 1)
export ANSIBLE_CONFIG="$ephemeral/ansible.cfg" MOLECULE_EPHEMERAL_DIRECTORY="$ephemeral"
# The scenario's converge playbook, as its molecule.yml names it (patroni-debian12 runs the
# ha scenario's), relative to the repository.
CONVERGE=$(python - "$SCENARIO" <<'PY'
import os, sys, yaml
scenario = os.path.join("molecule", sys.argv[1])
with open(os.path.join(scenario, "molecule.yml"), encoding="utf-8") as config:
    playbooks = (yaml.safe_load(config).get("provisioner") or {}).get("playbooks") or {}
print(os.path.normpath(os.path.join(scenario, playbooks.get("converge", "converge.yml"))))
PY
)

# One re-run by the tree given: the scenario's converge playbook, its own collection.
# A warm-up run (second argument) is not timed and may change what lives on the
# controller only (the tree's own build of the migrations' bundle and packages).
rerun() {
    local tree="$1" warm_up="${2:-}" run_log
    run_log=$(mktemp)
    local start status=0
    start=$(now)
    (cd "$tree" && ANSIBLE_COLLECTIONS_PATH="$tree/collections" \
        ansible-playbook -i "$ephemeral/inventory" "$CONVERGE") >"$run_log" 2>&1 \
        || status=$?
    elapsed "$start"
    cat "$run_log" >>"$LOG"
    # A re-run must change nothing; a timing of one that did would mean nothing.
    if [ "$status" -ne 0 ] || grep -Eq "failed=[1-9]" "$run_log" \
        || { [ -z "$warm_up" ] && grep -Eq 'changed=[1-9]' "$run_log"; }; then
        echo "a re-run by $tree failed or reported changes (exit $status); see $LOG" >&2
        exit 1
    fi
    rm -f "$run_log"
}

rerun "$base_tree/tree" warm-up >/dev/null
rerun "$PWD" warm-up >/dev/null
before=()
after=()
for _ in $(seq "$PAIRS"); do
    before+=("$(rerun "$base_tree/tree")")
    after+=("$(rerun "$PWD")")
done

python - "$BASE" "$SCENARIO" "${#before[@]}" "${before[@]}" "${after[@]}" <<'PY'
import statistics, sys
base, scenario, count, *times = sys.argv[1:]
count = int(count)
before, after = list(map(float, times[:count])), list(map(float, times[count:]))
print(f"idempotent re-runs of {scenario}'s converge, alternating, every one changed=0:")
print(f"  at {base[:12]}: {', '.join(f'{t:.1f}' for t in before)} s; median {statistics.median(before):.1f} s")
print(f"  this tree:    {', '.join(f'{t:.1f}' for t in after)} s; median {statistics.median(after):.1f} s")
print(f"  ratio: {statistics.median(after) / statistics.median(before):.2f}")
PY
