#!/usr/bin/env bash
# Installs everything backend-db needs on a Debian 12 machine: the Debian packages
# (PostgreSQL 15 server binaries for the tests, python3-venv, podman with runc and
# CNI plugins and debootstrap for the Molecule containers) and the virtualenv .venv
# with exactly the versions in requirements.lock. Safe to run again: it only installs
# what is missing. `make setup` runs it when requirements.lock or this file changes.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
    postgresql-15 postgresql-client-15 python3-venv
    podman runc containernetworking-plugins golang-github-containernetworking-plugin-dnsname
    debootstrap
)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi
echo "setup: installing requirements.lock into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
