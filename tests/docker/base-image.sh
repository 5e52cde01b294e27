#!/usr/bin/env bash
# Makes (once) and prints the tag of a local base image for the Dockerfile's BASE_IMAGE:
# Debian bookworm (debootstrap minbase) with python3, python3-venv, ca-certificates and this
# host's CA bundle, loaded with `docker import`. The end-to-end test needs it because CI reaches
# Debian's package registry and PyPI but not Docker Hub (no python:3.11-slim to pull).
#
# Cached twice, keyed by this recipe and the host's CA bundle: the image in the engine (a second
# run costs one `docker image inspect`) and its root tarball under $BDA_EMULATOR_CACHE (default
# ~/.cache/bda-emulator; re-imported in seconds after the engine's storage is wiped).
# Needs root and debootstrap only when neither cache has it. Progress goes to stderr; stdout
# is the tag alone. `base-image.sh --check` makes nothing: exit 0 if it could, else 2 and why.
set -euo pipefail

SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
MIRROR=${BDA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${BDA_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
CACHE=${BDA_EMULATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bda-emulator}
RECIPE_VERSION=1  # bump when the steps below change

say() { printf 'base-image: %s\n' "$*" >&2; }

[[ -r $CA_BUNDLE ]] || { say "no CA bundle at $CA_BUNDLE (set BDA_CA_BUNDLE)"; exit 2; }
key=$( { printf '%s\n' "$RECIPE_VERSION" "$SUITE" "$PACKAGES"; cat "$CA_BUNDLE"; } \
       | sha256sum | cut -c1-12)
tag="bda-emulator-base:$SUITE-$key"
tarball="$CACHE/base-$SUITE-$key.tar.gz"

can_debootstrap() {
    command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)"; return 2; }
    [[ $(id -u) == 0 ]] || { say "debootstrap needs root (and nothing is cached in $CACHE)"; return 2; }
}

if docker image inspect "$tag" >/dev/null 2>&1; then
    [[ ${1:-} == --check ]] || echo "$tag"
    exit 0
fi
if [[ ${1:-} == --check ]]; then
    [[ -s $tarball ]] || can_debootstrap || exit 2
    exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock --timeout 900 9 || { say "timed out waiting for $CACHE/.lock"; exit 1; }
if docker image inspect "$tag" >/dev/null 2>&1; then  # made by a concurrent run
    echo "$tag"
    exit 0
fi

if [[ ! -s $tarball ]]; then
    can_debootstrap || exit 2
    work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    # On a tmpfs when memory allows (dpkg's fsyncs cost ~10 s on disk); it needs ~500 MB.
    mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
    if ((mem_kb > 2000000)) &&
        mount -t tmpfs -o size=1500m,mode=0755 bda-emulator-rootfs "$work" 2>/dev/null; then
        trap 'umount "$work"; rm -rf "$work"' EXIT
    else
        trap 'rm -rf "$work"' EXIT
    fi
    say "debootstrap $SUITE ($PACKAGES) from $MIRROR"
    started=$SECONDS
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/root" "$MIRROR" \
        >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
    root="$work/root"
    # The host's trust store, so pip inside `docker build` trusts the registry the host trusts
    # (an intercepting proxy's CA included): Debian's Python and pip read this very file.
    cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
    # Slim, like the Docker Hub images: no downloaded packages, indexes, docs, man pages, logs.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
           "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
           "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/log/*.log \
           "$root"/var/log/apt/* "$root"/tmp/* "$root"/root/.cache
    tar --numeric-owner --xattrs -C "$root" -cf - . | gzip -1 >"$tarball.part"
    mv "$tarball.part" "$tarball"
    say "rootfs $(du -h "$tarball" | cut -f1) in $((SECONDS - started)) s: $tarball"
fi

say "docker import $tarball as $tag"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "debootstrap $SUITE minbase + $PACKAGES, host CA bundle (bda-emulator tests)" \
    "$tarball" "$tag" >/dev/null
echo "$tag"
