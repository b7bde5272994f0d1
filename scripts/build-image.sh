#!/usr/bin/env bash
# Builds the Debian images with systemd that the Molecule scenarios run, from Debian's
# archive with debootstrap (no registry is needed): one image per release, from the
# same recipe, named localhost/backend-db-debian<release>:latest.
#
#     scripts/build-image.sh [--force] [12] [13]     # no release named: both
#
# The archive is the one this machine's own apt sources name (a company mirror
# included); DEBIAN_MIRROR overrides it. Each image carries a label with a digest of
# this script and its release, so an image built from an older recipe is rebuilt and a
# current one is reused; --force rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,procps,iproute2,ca-certificates,locales-all,openssh-server
SCRIPT_DIGEST="$(sha256sum "$0" | cut -c1-16)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/molecule/containers.conf}"

codename_of() {
    case "$1" in
        12) echo bookworm ;;
        13) echo trixie ;;
        *) echo "build-image: Debian $1 is not a release the images are made for; name 12 or 13" >&2
           return 1 ;;
    esac
}

# The URI of the Debian archive this machine's apt reads its own release from: the
# entry (deb822 stanza or one-line `deb` entry) whose suites include the release's
# codename itself, not -updates or -security.
machine_mirror() {
    local codename
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [ -n "$codename" ] || return 1
    shopt -s nullglob
    local sources=(/etc/apt/sources.list.d/*.sources)
    local lists=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
    shopt -u nullglob
    {
        if ((${#sources[@]})); then
            awk -v suite="$codename" '
                function flush() {
                    if (uri != "" && deb && (" " suites " ") ~ (" " suite " ")) print uri
                    uri = ""; suites = ""; deb = 0
                }
                /^[[:space:]]*$/ { flush(); next }
                /^Types:/ { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
                /^URIs:/ { uri = $2 }
                /^Suites:/ { $1 = ""; suites = $0 }
                END { flush() }' "${sources[@]}"
        fi
        for list in "${lists[@]}"; do
            [ -f "$list" ] || continue
            # deb [options] URI suite component...
            sed -E 's/\[[^]]*\]//' "$list" | awk -v suite="$codename" '$1 == "deb" && $3 == suite { print $2 }'
        done
    } | head -n 1
}

MIRROR="${DEBIAN_MIRROR:-$(machine_mirror || true)}"
if [ -z "$MIRROR" ]; then
    echo "build-image: this machine's apt sources name no Debian archive for its own release;" \
         "set DEBIAN_MIRROR to the archive's URL (for example your company's mirror)" >&2
    exit 1
fi

force=""
releases=()
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        *) releases+=("$arg") ;;
    esac
done
((${#releases[@]})) || releases=(12 13)

build() {
    local release="$1" codename image recipe root old
    codename="$(codename_of "$release")"
    image="localhost/backend-db-debian$release:latest"
    recipe="$SCRIPT_DIGEST-$release"
    if [ -z "$force" ] && podman image exists "$image" \
        && [ "$(podman image inspect --format '{{ index .Labels "backend-db.recipe" }}' "$image")" = "$recipe" ]; then
        echo "image $image is present"
        return 0
    fi
    root="$(mktemp -d /var/tmp/backend-db-rootfs.XXXXXX)"
    # shellcheck disable=SC2064 # the path is fixed now, on purpose
    trap "rm -rf '$root' '$root.log'" EXIT
    echo "building $image ($codename) with debootstrap (about a minute)"
    debootstrap --variant=minbase --include="$PACKAGES" "$codename" "$root" "$MIRROR" >"$root.log" 2>&1 \
        || { tail -20 "$root.log" >&2; exit 1; }
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
    old="$(podman image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)"
    tar -C "$root" -c . | podman import --quiet \
        --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
        --change "LABEL backend-db.recipe=$recipe" - "$image" >/dev/null
    if [ -n "$old" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
    rm -rf "$root" "$root.log"
    trap - EXIT
    echo "built $image"
}

for release in "${releases[@]}"; do
    build "$release"
done
