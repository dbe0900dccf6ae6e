#!/usr/bin/env bash
# Make a local Debian bookworm + Python 3.11 base image for building the project's Dockerfile
# where no container registry is reachable (this project's machines reach package registries
# only). Prints the image name on its last line; everything else goes to stderr.
#
# Cached: the image is tagged with a hash of what goes into it (this script, the host's extra CA
# certificates and the pip settings carried over), so it is built once and rebuilt only when one
# of those changes. Needs root, podman and debootstrap (deploy/container-test.sh installs them).
#
# Environment: BASE_IMAGE_REPO (default localhost/segmentation-base), DEBIAN_MIRROR (default: the
# host's apt mirror, else http://deb.debian.org/debian), CONTAINERS_CONF (default: the file beside
# this script).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
repo="${BASE_IMAGE_REPO:-localhost/segmentation-base}"
suite=bookworm

log() { printf 'base-image: %s\n' "$*" >&2; }

# The host's extra CA certificates: pip inside the build reaches the registry through a proxy
# that only these make trusted. The project's Dockerfile stays free of this; only the local base
# knows it.
shopt -s nullglob
extra_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob

# pip settings worth carrying into the image: the host's index URLs when they point at a server
# (file:// indexes and find-links are folders of this host and mean nothing inside the image).
pip_env=()
for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
    value="${!name:-}"
    if [[ -z "$value" ]] && command -v pip3 >/dev/null; then
        key="${name#PIP_}"
        key="global.${key,,}"
        key="${key//_/-}"
        value="$(pip3 config get "$key" 2>/dev/null || true)"
    fi
    kept=()
    for item in $value; do
        [[ "$name" == PIP_TRUSTED_HOST || "$item" == http://* || "$item" == https://* ]] && kept+=("$item")
    done
    if ((${#kept[@]})); then
        pip_env+=("$name=${kept[*]}")
    fi
done

key="$({
    cat "${BASH_SOURCE[0]}"
    ((${#extra_cas[@]})) && cat "${extra_cas[@]}"
    printf '%s\n' "${pip_env[@]}"
} | sha256sum | cut -c1-12)"
image="$repo:$suite-$key"

if podman image exists "$image"; then
    log "$image exists (cached)"
    printf '%s\n' "$image"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    log "debootstrap needs root"
    exit 1
fi

mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | head -n1 | awk '{print $2}' || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
fi

work="$(mktemp -d /var/tmp/segmentation-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

log "debootstrap $suite from $mirror (a minute or two)"
started=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
}

if ((${#extra_cas[@]})); then
    log "trusting ${#extra_cas[@]} extra CA certificate(s) of the host"
    cp "${extra_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >>"$work/debootstrap.log" 2>&1
fi
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log

bundle=/etc/ssl/certs/ca-certificates.crt
changes=(
    --change "ENV LANG=C.UTF-8"
    --change "ENV PIP_CERT=$bundle"
    --change "ENV REQUESTS_CA_BUNDLE=$bundle"
    --change "ENV SSL_CERT_FILE=$bundle"
    --change 'CMD ["python3"]'
)
for setting in "${pip_env[@]}"; do
    changes+=(--change "ENV $setting")
done

tar -C "$rootfs" --numeric-owner -cf - . | podman import --quiet "${changes[@]}" - "$image" >/dev/null
log "built $image in $((SECONDS - started))s ($(chroot "$rootfs" python3 --version))"
printf '%s\n' "$image"
