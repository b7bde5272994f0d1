#!/usr/bin/env bash
# Builds the Debian 12 image with systemd that the Molecule scenarios run, from
# Debian's archive with debootstrap (no registry is needed). The image carries a label
# with a digest of this script, so an image built from an older recipe is rebuilt and
# a current one is reused; pass --force to rebuild it anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${BACKEND_DB_IMAGE:-localhost/backend-db-debian12:latest}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,procps,iproute2,ca-certificates,locales-all,openssh-server
RECIPE="$(sha256sum "$0" | cut -c1-16)"

export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/molecule/containers.conf}"

if [ "${1:-}" != "--force" ] && podman image exists "$IMAGE" \
    && [ "$(podman image inspect --format '{{ index .Labels "backend-db.recipe" }}' "$IMAGE")" = "$RECIPE" ]; then
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
# Ansible reaches the containers over SSH (pipelining, one multiplexed connection):
# root by key only, the key installed by each scenario's prepare step. Host keys
# are made at each container's first boot, so no two containers share them.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
    >"$root/etc/systemd/system/ssh.service.d/host-keys.conf"
printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n' \
    >"$root/etc/ssh/sshd_config.d/backend-db-test.conf"
echo "backend-db-test" >"$root/etc/hostname"
# The image this replaces, if any, goes once the new one is in place.
old="$(podman image inspect --format '{{ .Id }}' "$IMAGE" 2>/dev/null || true)"
tar -C "$root" -c . | podman import --quiet \
    --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL backend-db.recipe=$RECIPE" - "$IMAGE" >/dev/null
if [ -n "$old" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
echo "built $IMAGE"
