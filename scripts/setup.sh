#!/usr/bin/env bash
# Installs everything backend-db needs on a Debian 12 or 13 machine: the Debian
# packages (the PostgreSQL server the release ships, 15 or 17, for the tests;
# python3-venv; podman with runc, its network stack and debootstrap for the Molecule
# containers) and the virtualenv .venv with exactly the versions in requirements.lock.
# Safe to run again: it only installs what is missing. `make setup` runs it when
# requirements.lock or this file changes.
set -euo pipefail
cd "$(dirname "$0")/.."

release="$(. /etc/os-release && echo "${ID:-}:${VERSION_ID:-}")"
# podman 4 (Debian 12) networks its containers with CNI; podman 5 (Debian 13) with
# netavark and aardvark-dns, and no longer knows CNI.
case "$release" in
    debian:12) PODMAN_NETWORK=(containernetworking-plugins golang-github-containernetworking-plugin-dnsname) ;;
    debian:13) PODMAN_NETWORK=(netavark aardvark-dns) ;;
    *) echo "setup: this is ${release/:/ }, not Debian 12 or 13; the setup is made for those" >&2
       exit 1 ;;
esac
# postgresql and postgresql-client depend on the major the release ships.
DEBIAN_PACKAGES=(
    postgresql postgresql-client python3-venv
    podman runc "${PODMAN_NETWORK[@]}"
    debootstrap
    # ip, run in a container's network namespace by the partition drill (molecule/ha).
    iproute2
)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi

# One program of a package of the release, unpacked into .venv/bin without installing
# the package, which would install and start a server on this machine that the tests
# do not need: promtool, Prometheus's checker and tester of rule files (make lint,
# tests/unit), and the PostgreSQL exporter the alert rules read
# (tests/integration/test_monitoring_exporter.py runs it against a private server).
unpack() {
    local package="$1" path="$2" download
    [ -x ".venv/bin/${path##*/}" ] && return 0
    echo "setup: unpacking ${path##*/} from the release's $package package"
    download="$(mktemp -d)"
    if ! (cd "$download" && apt-get download -qq "$package" >/dev/null 2>&1); then
        $sudo apt-get update -qq
        (cd "$download" && apt-get download -qq "$package" >/dev/null)
    fi
    dpkg-deb --fsys-tarfile "$download/${package}"_*.deb | tar -x -C "$download" ".$path"
    install -m 0755 "$download$path" ".venv/bin/${path##*/}"
    rm -rf "$download"
}
unpack prometheus /usr/bin/promtool
unpack prometheus-postgres-exporter /usr/bin/prometheus-postgres-exporter
echo "setup: installing requirements.lock into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
# pip would byte-compile, one by one, every module it installs, most of them the 15,000
# files of the collections the `ansible` package bundles, which nothing here imports:
# 29 s for the lock on this project's 2-core machine. Compiled instead, on every core:
# the packages, and of those collections the ones the project uses (requirements.yml;
# containers.podman, Molecule's driver): 14 s in all. Without .pyc files every run would
# compile what it imports again where PYTHONDONTWRITEBYTECODE is set.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.lock
site_packages="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
.venv/bin/python -m compileall -q -j 0 -x '/ansible_collections/' "$site_packages"
# The collections' names, read from requirements.yml (lines "  - name: namespace.name").
used=(containers/podman)
while read -r _ key name; do
    if [ "$key" = "name:" ]; then used+=("${name/.//}"); fi
done < requirements.yml
.venv/bin/python -m compileall -q -j 0 "${used[@]/#/$site_packages/ansible_collections/}"
