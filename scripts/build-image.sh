#!/usr/bin/env bash
# Builds the Debian 12 image with systemd that the Molecule scenarios run, from
# Debian's archive with debootstrap (no registry is needed). Reuses the image when
# it already exists; pass --force to rebuild it.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${BACKEND_DB_IMAGE:-localhost/backend-db-debian12:latest}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,procps,iproute2,ca-certificates,locales-all

export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/molecule/containers.conf}"

if [ "${1:-}" != "--force" ] && podman image exists "$IMAGE"; then
    echo "image $IMAGE is present"
    exit 0
fi

root="$(mktemp -d /var/tmp/backend-db-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "building $IMAGE with debootstrap (about a minute)"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# Units that make no sense in a container and slow its boot.
for unit in systemd-timesyncd.service getty.target console-getty.service \
            systemd-remount-fs.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
echo "backend-db-test" >"$root/etc/hostname"
tar -C "$root" -c . | podman import \
    --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$IMAGE" >/dev/null
echo "built $IMAGE"
