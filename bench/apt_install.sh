#!/usr/bin/env bash
# The postgresql role's package task against apt-get doing the same install by hand.
#
#     bash bench/apt_install.sh [PAIRS]     (after make setup image; about two minutes a pair)
#
# The apt module's payload (AnsiballZ_apt.py, with the role's arguments: the packages
# the roles install, update_cache with cache_valid_time, no recommends) is made once
# by an untimed run in a throwaway container. Then, in PAIRS pairs of fresh containers
# from the image (default 3), one runs `apt-get install` of the same packages and the
# other runs the payload with the container's python3, as Ansible would. Both are timed
# around one `podman exec`, so Ansible's connection and the controller are not in it:
# what is left is what the module does on top of apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS="${1:-3}"
export PATH="$PWD/.venv/bin:$PATH" CONTAINERS_CONF="$PWD/molecule/containers.conf"
IMAGE=localhost/backend-db-debian12:latest
PACKAGES="postgresql-15 postgresql-client-15 python3-psycopg2 openssl"
NAME=backend-db-bench-apt
work=$(mktemp -d)

cleanup() {
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

fresh() {
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    podman run -d --name "$NAME" --systemd=always "$IMAGE" /sbin/init >/dev/null
    podman exec "$NAME" systemctl is-system-running --wait >/dev/null 2>&1 || true
}

now() { date +%s.%N; }
elapsed() { python -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(now)" "$1"; }

fresh
ANSIBLE_KEEP_REMOTE_FILES=1 ANSIBLE_PIPELINING=0 ANSIBLE_REMOTE_TMP=/root/.ansible/tmp \
    ansible all -i "$NAME," -c containers.podman.podman -m ansible.builtin.apt \
    -a "name=${PACKAGES// /,} state=present update_cache=true cache_valid_time=86400 install_recommends=false" \
    >"$work/payload.log" 2>&1
payload=$(podman exec "$NAME" sh -c 'ls /root/.ansible/tmp/*/AnsiballZ_apt.py')
podman cp "$NAME:$payload" "$work/AnsiballZ_apt.py"

results=()
for _ in $(seq "$PAIRS"); do
    fresh
    start=$(now)
    podman exec "$NAME" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $PACKAGES >/dev/null 2>&1"
    results+=("apt-get $(elapsed "$start")")
    fresh
    podman cp "$work/AnsiballZ_apt.py" "$NAME:/root/AnsiballZ_apt.py"
    start=$(now)
    podman exec "$NAME" sh -c "python3 /root/AnsiballZ_apt.py >/root/apt.json 2>&1"
    results+=("module $(elapsed "$start")")
    # The module must have installed, as the role's first converge does.
    podman exec "$NAME" grep -q '"changed": true' /root/apt.json
done

printf '%s\n' "${results[@]}" | python -c '
import statistics, sys
runs = {}
for line in sys.stdin:
    kind, seconds = line.split()
    runs.setdefault(kind, []).append(float(seconds))
by_hand, module = statistics.median(runs["apt-get"]), statistics.median(runs["module"])
for kind, times in runs.items():
    print(f"{kind}: " + ", ".join(f"{t:.1f}" for t in times) + f" s; median {statistics.median(times):.1f} s")
print(f"apt module / apt-get install: {module / by_hand:.2f}")
'
