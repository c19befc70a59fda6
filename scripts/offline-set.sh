#!/usr/bin/env bash
# Gathers Ferry's offline install set: the given Ferry packages and every Debian package they need
# that a minimal Debian 12 lacks, in one folder, with install.sh, which installs them there without
# network (docs/install.md).
# Usage: offline-set.sh OUTDIR FERRY-DEB...
# Runs as root on a host that reaches Debian's archive; needs mmdebstrap. What a minimal host lacks
# is resolved by apt inside a minimal root made by `mmdebstrap --variant=minbase bookworm`.
# FERRY_OFFLINE_CACHE=DIR keeps that root's tarball, and the packages downloaded for a given set of
# Depends, in DIR for the next run.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 OUTDIR FERRY-DEB..." >&2
    exit 2
fi
readonly out=$1
shift
for deb in "$@"; do
    if [[ ! -f $deb || $deb != *.deb ]]; then
        echo "$0: error: $deb: not a .deb file" >&2
        exit 2
    fi
done
if [[ -e $out ]] && [[ -n $(ls -A "$out") ]]; then
    echo "$0: error: $out exists and is not empty" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-offline-set.XXXXXX")
trap 'rm -rf "$work"' EXIT
cache=${FERRY_OFFLINE_CACHE:-$work}
mkdir -p "$cache"

# The minimal root: Debian 12 minbase, from this host's Debian sources when it has them.
readonly tarball="$cache/bookworm-minbase.tar"
if [[ ! -f $tarball ]]; then
    sources=()
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        sources=(/etc/apt/sources.list.d/debian.sources)
    fi
    # mmdebstrap tells the output's format by its name: .tar, even while it is written.
    mmdebstrap --quiet --variant=minbase --mode=root bookworm "$cache/partial-minbase.tar" "${sources[@]}"
    mv "$cache/partial-minbase.tar" "$tarball"
fi

# What the set needs besides Ferry depends only on the packages' Depends and the minimal root:
# the key of the cache.
key=$({
    stat -c '%s %Y' "$tarball"
    for deb in "$@"; do dpkg-deb -f "$deb" Package Depends Pre-Depends; done
} | sha256sum | cut -c1-16)
readonly deps="$cache/deps-$key"
if [[ ! -d $deps ]]; then
    # apt, inside a copy of the minimal root, downloads what installing the packages would need.
    root="$work/root"
    mkdir -p "$root"
    tar -xf "$tarball" -C "$root"
    cp --remove-destination /etc/resolv.conf "$root/etc/resolv.conf"
    mkdir -p "$root/tmp/ferry-debs"
    cp "$@" "$root/tmp/ferry-debs/"
    chroot "$root" apt-get update -qq
    chroot "$root" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only \
        --no-install-recommends /tmp/ferry-debs/*.deb' >/dev/null
    mkdir -p "$deps.tmp"
    find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp {} "$deps.tmp/" \;
    mv "$deps.tmp" "$deps"
fi

mkdir -p "$out"
cp "$@" "$out/"
if [[ -n $(ls -A "$deps") ]]; then
    cp "$deps"/*.deb "$out/"
fi
cat >"$out/install.sh" <<'EOF'
#!/bin/sh
# Installs Ferry and the Debian packages it needs from this folder, without network: run as root
# on Debian 12 (docs/install.md). A package the host already has in the same or a newer version is
# left as it is.
set -eu
cd "$(dirname "$0")"
sha256sum --check --quiet SHA256SUMS
dpkg --skip-same-version --refuse-downgrade --install ./*.deb
EOF
chmod 0755 "$out/install.sh"
(cd "$out" && sha256sum -- *.deb install.sh >SHA256SUMS)
echo "offline install set in $out: $(find "$out" -name '*.deb' | wc -l) packages"
