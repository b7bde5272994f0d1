#!/usr/bin/env bash
# Converge time on the Molecule container against the floor of the same work by hand.
#
#     bash bench/converge.sh        (after make setup image; takes about five minutes)
#
# Floor: a fresh container from the same image; apt-get installs the packages the roles
# install, a virtualenv is built from the same wheelhouse, a database and owner are
# created, and `alembic upgrade head` runs. Then: the first `molecule converge` of
# site.yml on a fresh container, and an idempotent re-run, each timed from outside,
# with profile_tasks' per-task times in the log. Prints the times and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" CONTAINERS_CONF="$PWD/molecule/containers.conf"
IMAGE=localhost/backend-db-debian12:latest
FLOOR=backend-db-bench-floor
LOG=bench/converge.log
: >"$LOG"

now() { date +%s.%N; }
elapsed() { python -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(now)" "$1"; }

podman rm -f "$FLOOR" >/dev/null 2>&1 || true
podman run -d --name "$FLOOR" --systemd=always "$IMAGE" /sbin/init >/dev/null
trap 'podman rm -f "$FLOOR" >/dev/null 2>&1 || true' EXIT
sleep 3
wheelhouse=$(ls -d .build/wheelhouse-* | head -n 1)
python roles/migrations/files/build_bundle.py .build/bench-app.tar.gz . models migrations >/dev/null
podman cp "$wheelhouse" "$FLOOR:/opt/wheelhouse"
podman cp .build/bench-app.tar.gz "$FLOOR:/opt/app.tar.gz"
start=$(now)
podman exec "$FLOOR" sh -c '
  set -e
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 \
      python3-psycopg2 openssl python3-venv python3-packaging >/dev/null
  mkdir -p /opt/app && tar -xzf /opt/app.tar.gz -C /opt/app
  python3 -m venv /opt/venv
  /opt/venv/bin/pip install -q --no-index --find-links /opt/wheelhouse -r /opt/wheelhouse/requirements.txt
  runuser -u postgres -- psql -qc "CREATE ROLE backend_owner LOGIN" -c "CREATE DATABASE backend OWNER backend_owner"
  cd /opt/app && runuser -u postgres -- env DATABASE_URL="postgresql:///backend?host=/var/run/postgresql" \
      /opt/venv/bin/python -c "
from alembic.config import Config
from alembic import command
config = Config()
config.set_main_option(\"script_location\", \"/opt/app/migrations\")
command.upgrade(config, \"head\")"
' >>"$LOG" 2>&1
floor=$(elapsed "$start")

export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
molecule destroy >>"$LOG" 2>&1
molecule create >>"$LOG" 2>&1
start=$(now); molecule converge >>"$LOG" 2>&1; first=$(elapsed "$start")
start=$(now); molecule converge >>"$LOG" 2>&1; again=$(elapsed "$start")
molecule destroy >>"$LOG" 2>&1

printf 'floor (apt-get install + venv + alembic upgrade head by hand): %.1f s\n' "$floor"
printf 'first converge of site.yml: %.1f s (ratio to floor %.2f, target <= 1.50)\n' \
    "$first" "$(python -c "import sys; print(float(sys.argv[1]) / float(sys.argv[2]))" "$first" "$floor")"
printf 'idempotent re-run of site.yml: %.1f s (target < 10 s)\n' "$again"
