#!/usr/bin/env bash
# Make podman usable for our container tests on a CI machine (root, no
# systemd, no image registry), idempotently:
#  - /etc/containers/containers.conf gets `runtime = "runc"` under [engine]
#    (crun refuses here: "cgroups in hybrid mode not supported") and
#    `default_ulimits = []` under [containers] (otherwise runc's setrlimit of
#    RLIMIT_NOFILE/RLIMIT_NPROC fails with "Operation not permitted").
#    Existing settings of other keys are left alone; a key we need that is set
#    to something else is rewritten in place.
#  - podman can start a container at all: if not, say exactly why and fail.
# Usage: podman-setup.sh [--check IMAGE]   (--check runs `true` in IMAGE)
set -euo pipefail

CONF=/etc/containers/containers.conf

die() { echo "podman-setup: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (rootful podman, network namespaces): run as root as CI does"
command -v podman >/dev/null || die "podman is not installed (scripts/ensure-deps.sh --container installs it)"
command -v runc >/dev/null || die "runc is not installed (scripts/ensure-deps.sh --container installs it)"

# set_key SECTION KEY VALUE: ensure `KEY = VALUE` inside [SECTION] of $CONF.
set_key() {
  local section=$1 key=$2 value=$3 tmp
  mkdir -p "$(dirname "$CONF")"
  touch "$CONF"
  tmp=$(mktemp "$CONF.XXXXXX")
  awk -v section="[$section]" -v key="$key" -v value="$value" '
    function emit() { print key " = " value; done = 1 }
    /^[[:space:]]*\[/ {
      if (in_section && !done) emit()
      in_section = ($0 ~ "^[[:space:]]*\\[" substr(section, 2, length(section) - 2) "\\][[:space:]]*$")
      if (in_section) seen = 1
      print; next
    }
    in_section && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" { if (!done) emit(); next }
    { print }
    END {
      if (in_section && !done) emit()
      if (!seen) { print ""; print section; emit() }
    }' "$CONF" >"$tmp"
  if cmp -s "$tmp" "$CONF"; then rm -f "$tmp"; else chmod 644 "$tmp"; mv "$tmp" "$CONF"; echo "podman-setup: $CONF: [$section] $key = $value" >&2; fi
}

set_key engine runtime '"runc"'
set_key containers default_ulimits '[]'

if [ "${1:-}" = "--check" ]; then
  image=${2:?--check needs an image}
  name="nt-ct-check-$$"
  if ! out=$(podman run --rm --pull=never --name "$name" --network none "$image" true 2>&1); then
    podman rm -f "$name" >/dev/null 2>&1 || true
    hint=""
    case $out in
      *"cgroups in hybrid mode"*) hint=" (crun refuses cgroups v1/hybrid: runtime = \"runc\" under [engine] in $CONF)";;
      *rlimit*|*RLIMIT*) hint=" (the container's ulimits cannot be set here: default_ulimits = [] under [containers] in $CONF, or CONTAINERS_CONF overrides it)";;
      *"OCI runtime"*"not found"*) hint=" (the configured runtime is missing: runtime = \"runc\" under [engine] in $CONF, or CONTAINERS_CONF overrides it)";;
      *"image not known"*|*"does not resolve"*) hint=" (the image was not built: scripts/container/base-image.sh)";;
      *"permission denied"*|*"operation not permitted"*) hint=" (podman needs a privileged, non-nested host: run the test on the CI machine as root)";;
    esac
    die "podman cannot start a container here${hint}: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
  fi
fi
