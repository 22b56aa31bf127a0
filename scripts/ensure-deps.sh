#!/usr/bin/env bash
# Install the Debian packages the tests talk to (real servers and tools, no
# mocks); with --bench, also the peers of the benchmarks; with --container,
# what npm run test:container needs (podman and the base-image recipe). Run as root it installs what is missing; otherwise it names the
# exact command to run and fails.
set -euo pipefail

# package:command-that-proves-it-is-installed
NEEDED=(
  fping:fping
  mtr-tiny:mtr
  iputils-ping:ping
  iproute2:ip
  nftables:nft
  dnsmasq:dnsmasq
  openssl:openssl
  redis-server:redis-server
  redis-sentinel:redis-sentinel
  faketime:faketime
  haproxy:haproxy
  victoria-metrics:victoria-metrics
  influxdb:influxd
  prometheus:promtool
  prometheus-alertmanager:amtool
  yamllint:yamllint
  docker-compose:docker-compose
  systemd:systemd-analyze
  chromium:chromium
  prometheus-redis-exporter:prometheus-redis-exporter
  prometheus-node-exporter:prometheus-node-exporter
)
# `npm run bench` also needs the peers it measures against.
if [ "${1:-}" = "--bench" ]; then
  NEEDED+=(
    prometheus-blackbox-exporter:prometheus-blackbox-exporter
    prometheus-smokeping-prober:prometheus-smokeping-prober
  )
fi

# npm run test:container: podman with runc (crun refuses cgroups v1 here),
# debootstrap for the base image, the CNI dnsname plugin (compose's service
# names), curl for the operator commands of docs/operations.md.
if [ "${1:-}" = "--container" ]; then
  NEEDED+=(
    podman:podman
    buildah:buildah
    runc:runc
    conmon:conmon
    debootstrap:debootstrap
    golang-github-containernetworking-plugin-dnsname:/usr/lib/cni/dnsname
    curl:curl
    openssl:openssl
  )
fi

missing=()
for entry in "${NEEDED[@]}"; do
  pkg=${entry%%:*}
  cmd=${entry#*:}
  # A path is checked as a file (a name like haproxy must not match the repository's haproxy/ folder).
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ] && ! [[ $cmd == /* && -f $cmd ]]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run as root:  $install_cmd" >&2
  exit 1
fi
echo "installing missing Debian packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
