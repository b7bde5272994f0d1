#!/usr/bin/env bash
# Converge time on the Molecule container against the floor of the same work by hand.
#
#     bash bench/converge.sh [RERUNS] [EXTRA_VARS]   (after make setup image; about four minutes)
#
# EXTRA_VARS, a JSON object, is given to every run of site.yml (-e): for example
# '{"backend_exporters_enabled": true}' measures the same with the Prometheus exporters and
# PgBouncer's metrics on.
#
# Untimed first: the Debian 12 container of the Molecule scenario `upgrade` (a single
# server, the floor's image) is created and prepared, and the migrations role's
# controller side builds the Python packages and the bundle.
# Floor: a fresh container from the same image; the same work by the same means, by
# hand: apt-get installs the packages the roles install (PostgreSQL, pgBackRest,
# psycopg2), archiving is switched on, pgBackRest's stanza is created and its first full
# backup taken, a virtualenv is made and the same packages unpacked into it, a database
# and owner are created, and `alembic upgrade head` runs. Then `ansible-playbook site.yml` on
# that container, as a user runs it (Molecule's own inventory and settings):
# the first converge, then RERUNS idempotent re-runs (default 5, median reported).
# Per-task times from profile_tasks go to bench/converge.log. Last, the re-run against
# the least its tasks and module calls can cost here (bench/ansible_floor.py).
#
# RELEASE=13 measures the same on Debian 13 (default 12).
#
# With BASE set to a commit (BASE=3abe85d bash bench/converge.sh 5), each re-run of this
# tree is paired with one of BASE's tree (a temporary git worktree, with its own bundle),
# alternating on the same container, and both medians and their ratio are printed: what a
# change does to a single server's re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
RERUNS="${1:-5}"
EXTRA_VARS="${2:-{\}}"
export PATH="$PWD/.venv/bin:$PATH" CONTAINERS_CONF="$PWD/molecule/containers.conf"
RELEASE="${RELEASE:-12}"
# The PostgreSQL major of the release: the postgresql role's own table.
MAJOR=$(python - "$RELEASE" <<'PY'
import sys, yaml
with open("roles/postgresql/vars/main.yml", encoding="utf-8") as role_vars:
    majors = yaml.safe_load(role_vars)["__postgresql_release_versions"]
print(majors.get(sys.argv[1], ""))
PY
)
if [ -z "$MAJOR" ]; then
    echo "RELEASE must be 12 or 13 (Debian's release), not $RELEASE" >&2
    exit 2
fi
IMAGE=localhost/backend-db-debian$RELEASE:latest
SCENARIO=upgrade
TARGET=backend-db-upgrade-$RELEASE
FLOOR=backend-db-bench-floor
LOG=bench/converge.log
: >"$LOG"

now() { date +%s.%N; }
elapsed() { python -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(now)" "$1"; }

BASE="${BASE:-}"
base_tree=$(mktemp -d)
cleanup() {
    podman rm -f "$FLOOR" >/dev/null 2>&1 || true
    molecule destroy -s "$SCENARIO" >>"$LOG" 2>&1 || true
    git worktree remove --force "$base_tree/tree" >/dev/null 2>&1 || true
    rm -rf "$base_tree"
}
trap cleanup EXIT

molecule destroy -s "$SCENARIO" >>"$LOG" 2>&1
molecule create -s "$SCENARIO" >>"$LOG" 2>&1
molecule prepare -s "$SCENARIO" >>"$LOG" 2>&1
# Molecule's ephemeral directory of the scenario: the newest one.
ephemeral=$(ls -td "$HOME"/.ansible/tmp/molecule.*."$SCENARIO" | head -n 1)
export ANSIBLE_CONFIG="$ephemeral/ansible.cfg" MOLECULE_EPHEMERAL_DIRECTORY="$ephemeral" \
    ANSIBLE_COLLECTIONS_PATH="$PWD/collections"
# ansible-playbook on the container, run by the tree given, with its own collection.
playbook_by() {
    local tree="$1"
    shift
    (cd "$tree" && ANSIBLE_COLLECTIONS_PATH="$tree/collections" \
        ansible-playbook -i "$ephemeral/inventory" --limit "$TARGET" "$@")
}
playbook() { playbook_by "$PWD" "$@"; }
playbook bench/prebuild.yml >>"$LOG" 2>&1

# The package tree for the image's Python (the controller may hold trees for others).
python=$(podman run --rm "$IMAGE" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
packages=$(ls -t .build/packages-"$python"-*.tar.gz | head -n 1)
app=$(python roles/migrations/files/build_bundle.py --name-only .build . models migrations)
podman run -d --name "$FLOOR" --systemd=always "$IMAGE" /sbin/init >/dev/null
podman exec "$FLOOR" systemctl is-system-running --wait >/dev/null || true
podman cp "$packages" "$FLOOR:/opt/packages.tar.gz"
podman cp ".build/$app.tar.gz" "$FLOOR:/opt/app.tar.gz"
start=$(now)
podman exec -e MAJOR="$MAJOR" "$FLOOR" sh -c '
  set -e
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "postgresql-$MAJOR" "postgresql-client-$MAJOR" \
      pgbackrest python3-psycopg2 openssl >/dev/null
  printf "[global]\nrepo1-path=/var/lib/pgbackrest\nrepo1-retention-full=2\n[main]\npg1-path=%s\n" \
      "/var/lib/postgresql/$MAJOR/main" >/etc/pgbackrest.conf
  printf "archive_mode = on\narchive_command = '"'"'pgbackrest --stanza=main archive-push %%p'"'"'\n" \
      >"/etc/postgresql/$MAJOR/main/conf.d/archiving.conf"
  systemctl restart "postgresql@$MAJOR-main"
  runuser -u postgres -- pgbackrest --stanza=main stanza-create
  runuser -u postgres -- pgbackrest --stanza=main --type=full backup
  python3 -m venv --without-pip /opt/venv
  tar -xzf /opt/packages.tar.gz -C /opt/venv
  cd /opt && tar -xzf app.tar.gz
  runuser -u postgres -- psql -qc "CREATE ROLE backend_owner LOGIN" -c "CREATE DATABASE backend OWNER backend_owner"
  cd /opt/app-* && runuser -u postgres -- env DATABASE_URL="postgresql:///backend?host=/var/run/postgresql" \
      /opt/venv/bin/python -c "
from alembic.config import Config
from alembic import command
config = Config()
config.set_main_option(\"script_location\", \"migrations\")
command.upgrade(config, \"head\")"
' >>"$LOG" 2>&1
floor=$(elapsed "$start")
podman rm -f "$FLOOR" >/dev/null

# profile_tasks beside the callbacks the scenarios enable (a tree without one warns).
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks,backend_db.postgresql.preload
start=$(now); playbook site.yml -e "$EXTRA_VARS" >>"$LOG" 2>&1; first=$(elapsed "$start")
site_by() {
    local tree="$1"
    shift
    playbook_by "$tree" site.yml -e "$EXTRA_VARS" "$@"
}
# One re-run by the tree given, timed; it must change nothing, or its timing would mean
# nothing.
rerun() {
    local tree="$1" run_log start
    run_log=$(mktemp)
    start=$(now)
    site_by "$tree" >"$run_log" 2>&1 || true
    elapsed "$start"
    cat "$run_log" >>"$LOG"
    if ! grep -Eq 'failed=0' "$run_log" || grep -Eq 'changed=[1-9]' "$run_log"; then
        echo "a re-run of site.yml by $tree failed or reported changes; see $LOG" >&2
        exit 1
    fi
    rm -f "$run_log"
}
if [ -n "$BASE" ]; then
    git worktree add --detach "$base_tree/tree" "$BASE" >>"$LOG" 2>&1
    cp -r .build "$base_tree/tree/"
    # Not timed: BASE's tree builds its own bundle of the migrations.
    site_by "$base_tree/tree" >>"$LOG" 2>&1
fi
again=()
before=()
for _ in $(seq "$RERUNS"); do
    if [ -n "$BASE" ]; then before+=("$(rerun "$base_tree/tree")"); fi
    again+=("$(rerun "$PWD")")
done

# One more re-run, untimed, at -vvv: its tasks and module calls, against Ansible's own
# cost of a task and a call on this container (bench/ansible_floor.py).
verbose_log=$(mktemp)
if ! (unset ANSIBLE_CALLBACKS_ENABLED && site_by "$PWD" -vvv) >"$verbose_log" 2>&1; then
    cat "$verbose_log" >>"$LOG"
    echo "the re-run at -vvv failed; see $LOG" >&2
    exit 1
fi
median=$(python -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" "${again[@]}")

python - "$floor" "$first" "$median" "${again[@]}" <<'PY'
import sys
floor, first, median, *again = map(float, sys.argv[1:])
print(f"floor (apt-get install, archiving, stanza-create, full backup, virtualenv,"
      f" alembic upgrade head, by hand): {floor:.1f} s")
print(f"first converge of site.yml: {first:.1f} s (ratio to floor {first / floor:.2f};"
      f" target <= 1.5 x floor + 10 s = {1.5 * floor + 10:.1f} s)")
print(f"idempotent re-runs of site.yml: {', '.join(f'{t:.1f}' for t in again)} s;"
      f" median {median:.1f} s (target <= 5 s)")
PY
if [ -n "$BASE" ]; then
    python - "$BASE" "${before[@]}" "${again[@]}" <<'PY'
import statistics, sys
base, *times = sys.argv[1:]
before, after = times[: len(times) // 2], times[len(times) // 2 :]
before, after = list(map(float, before)), list(map(float, after))
print(f"re-runs by {base}, paired with this tree's: {', '.join(f'{t:.1f}' for t in before)} s;"
      f" median {statistics.median(before):.1f} s; this tree / {base}:"
      f" {statistics.median(after) / statistics.median(before):.2f}")
PY
fi
python bench/ansible_floor.py "$ephemeral/inventory" "$TARGET" "$verbose_log" "$median"
rm -f "$verbose_log"
echo "every re-run reported changed=0"
