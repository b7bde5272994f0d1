#!/usr/bin/env bash
# Runs the pytest suite in a Debian userland of another release than this machine's:
# a container of the Molecule image for that release (systemd as PID 1, as on a real
# host), with the project copied in, the release's own PostgreSQL and Python, and a
# virtualenv with exactly requirements.lock. `make test` runs it for the release this
# machine is not (13 on Debian 12, 12 on Debian 13), so every run covers both.
#
#     scripts/pytest-in-container.sh [RELEASE] [PYTEST ARGS...]   # 12, 13 or other (default)
#
# The container trusts the certificates this machine trusts (so pip reaches PyPI
# through the same proxy the machine does) and is removed afterwards. With JUNIT_XML set
# (devtools/lanes.py sets it), pytest's JUnit file is copied out to that path.
#
# The release's packages and the virtualenv are installed once, into an image of their own
# (localhost/backend-db-pytest<release>, tagged by a digest of requirements.lock and this
# script), which later runs start from: about two minutes a run, like the Molecule images.
set -euo pipefail
cd "$(dirname "$0")/.."

release="${1:-other}"
shift || true
if [ "$release" = other ]; then
    case "$(. /etc/os-release && echo "${VERSION_ID:-}")" in
        13) release=12 ;;
        *) release=13 ;;
    esac
fi
image="localhost/backend-db-debian$release:latest"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/molecule/containers.conf}"

bash scripts/build-image.sh "$release"
# Made again when the lock, this script or the release's image changes.
tag="$({ cat requirements.lock scripts/pytest-in-container.sh; podman image inspect --format '{{.Id}}' "$image"; } \
    | sha256sum | cut -c1-12)"
prepared="localhost/backend-db-pytest$release:$tag"
name="backend-db-pytest-$release"
junit="${JUNIT_XML:-}"
finish() {
    [ -z "$junit" ] || podman cp "$name:/srv/junit.xml" "$junit" 2>/dev/null || true
    podman rm --force --ignore "$name" >/dev/null
}
trap finish EXIT
in_container() { podman exec -i "$name" "$@"; }
# Right after the start, systemd may not have made its bus yet ("Failed to connect to
# system scope bus"): ask again until it answers, for at most a minute.
boot() {
    podman rm --force --ignore "$name" >/dev/null
    podman run --detach --name "$name" --hostname "$name" --systemd=always "$1" /sbin/init >/dev/null
    local state=""
    for _ in $(seq 60); do
        state="$(in_container systemctl is-system-running --wait 2>/dev/null || true)"
        case "$state" in running|degraded) return 0 ;; esac
        sleep 1
    done
    echo "pytest-in-container: the Debian $release container did not boot (${state:-no answer})" >&2
    exit 1
}

if ! podman image exists "$prepared"; then
    echo "pytest-in-container: installing Debian $release's PostgreSQL and Python into $prepared"
    boot "$image"
    in_container sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends postgresql postgresql-client python3-venv >/dev/null'
    podman cp requirements.lock "$name:/srv/requirements.lock"
    podman cp /etc/ssl/certs/ca-certificates.crt "$name:/etc/ssl/certs/backend-db-controller.crt"
    in_container sh -c 'python3 -m venv /srv/venv \
        && PIP_CERT=/etc/ssl/certs/backend-db-controller.crt /srv/venv/bin/python -m pip install \
           --quiet --disable-pip-version-check -r /srv/requirements.lock'
    podman stop --time 30 "$name" >/dev/null
    # The images of an older lock or script go.
    podman images --format '{{.Repository}}:{{.Tag}}' "localhost/backend-db-pytest$release" \
        | xargs -r podman rmi --force >/dev/null 2>&1 || true
    podman commit --quiet "$name" "$prepared" >/dev/null
else
    echo "pytest-in-container: $prepared is present"
fi
boot "$prepared"
podman cp /etc/ssl/certs/ca-certificates.crt "$name:/etc/ssl/certs/backend-db-controller.crt"
in_container mkdir -p /srv/backend-db
git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | in_container tar -x -C /srv/backend-db

echo "pytest-in-container: the pytest suite in Debian $release ($(in_container sh -c '. /etc/os-release; echo $PRETTY_NAME'))"
in_container env PIP_CERT=/etc/ssl/certs/backend-db-controller.crt \
    sh -c 'cd /srv/backend-db && exec /srv/venv/bin/pytest -p no:cacheprovider "$@"' pytest \
    ${junit:+--junitxml=/srv/junit.xml} "$@"
