#!/usr/bin/env bash
# npm run test:container — the image and the HA compose stack, for real, with
# podman (no Docker engine on these machines; COOKBOOK "Containers with podman"):
#   1. podman set up for this machine (scripts/container/podman-setup.sh) and
#      the base image synthesized (scripts/container/base-image.sh, cached);
#   2. podman build of docker/Dockerfile (and its GEO=offline variant), and of
#      the stand-in images for what compose would pull;
#   3. test/container/*.test.ts inside a network namespace of this run: the
#      ports the compose files publish (8086, 9090, ...) then belong to this
#      run alone, and nothing here can reach or disturb the host's services.
# Prints the image size, build times, the failover time and the points lost.
# Everything it creates is named nt-ct-<run> (or labelled with that compose
# project) and removed on exit, even on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf 'test:container: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (rootful podman, a network namespace): run as root, as CI does"
bash scripts/ensure-deps.sh --container

# One run at a time per machine: runs share the image tags and the layer cache.
exec 8>/var/lock/nt-container-test.lock
flock -w 1800 8 || die "another npm run test:container holds /var/lock/nt-container-test.lock"

T0=$(date +%s)
since() { echo $(( $(date +%s) - $1 )); }

bash scripts/container/podman-setup.sh
t=$(date +%s)
BASE=$(bash scripts/container/base-image.sh)
say "base image $BASE ($(since "$t") s)"
bash scripts/container/podman-setup.sh --check "$BASE"

RUN_ID="nt-ct-$(date +%s)-$$"
LOGDIR=$(mktemp -d "/tmp/$RUN_ID.XXXX")
IMAGE=localhost/nt-ct/network-telemetry:test
IMAGE_GEO=localhost/nt-ct/network-telemetry:test-geo
STANDINS=localhost/nt-ct/standins:test

# build NAME LOG podman-build-args...: quiet on success, the log's tail on failure.
build() {
  local what=$1 log=$LOGDIR/$2 t
  shift 2
  t=$(date +%s)
  if ! podman --runtime runc build --pull=never --format docker "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "podman build of $what failed (full log: $log)"
  fi
  say "built $what in $(since "$t") s"
}
# The build context as `docker build .` sends it (.dockerignore applied, its
# patterns anchored at the root as Docker reads them), with every mtime and
# owner zeroed: buildah's layer cache keys COPY by file metadata too, and a
# fresh clone (CI) has new mtimes on every file, which would rebuild the
# `npm ci` layer on every run although package-lock.json did not change.
CONTEXT=$LOGDIR/context
mkdir -p "$CONTEXT"
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' .dockerignore | sed 's|^/*|./|' >"$LOGDIR/exclude"
tar -c --anchored --exclude-from="$LOGDIR/exclude" --mtime=@0 --owner=0 --group=0 --numeric-owner . | tar -x -C "$CONTEXT"
# --format docker: the OCI format has no HEALTHCHECK, and the test runs it.
build "the image (docker/Dockerfile)" image.log -f docker/Dockerfile -t "$IMAGE" "$CONTEXT"
build "the GEO=offline variant" image-geo.log -f docker/Dockerfile --build-arg GEO=offline -t "$IMAGE_GEO" "$CONTEXT"
build "the stand-in images" standins.log -f test/container/standins.Dockerfile --build-arg "BASE=$BASE" -t "$STANDINS" test/container

# Images superseded by earlier builds: untagged, built on our base (every
# image built on it inherits its label nt.base.recipe, so only ours), and not
# a step of these builds (their layers are the cache of the next run; a plain
# `podman image prune` would also drop the final image of the build stage and
# cost the next run its `npm run build`). Newest first, so children go before
# their parents; a parent still in use is refused, which is fine.
keep=$(grep -ohE -e '^--> (Using cache )?[0-9a-f]{12,64}' "$LOGDIR"/*.log | awk '{ print substr($NF, 1, 12) }' | sort -u)
for id in $(podman images -a --filter dangling=true --filter label=nt.base.recipe --format '{{.ID}}' 2>/dev/null); do
  grep -qx "${id:0:12}" <<<"$keep" || podman rmi "$id" >/dev/null 2>&1 || true
done

NS=$RUN_ID
cleanup() {
  local rc=$?
  set +e
  # Whatever a dead test left behind, by this run's names and compose project.
  for c in $(podman ps -aq --filter "name=^$RUN_ID" 2>/dev/null) $(podman ps -aq --filter "label=com.docker.compose.project=$RUN_ID" 2>/dev/null); do
    podman rm -f -v "$c" >/dev/null 2>&1
  done
  for v in $(podman volume ls -q --filter "label=com.docker.compose.project=$RUN_ID" 2>/dev/null) $(podman volume ls -q --filter "name=^$RUN_ID" 2>/dev/null); do
    podman volume rm -f "$v" >/dev/null 2>&1
  done
  for n in $(podman network ls -q --filter "name=^$RUN_ID" 2>/dev/null); do
    podman network rm -f "$n" >/dev/null 2>&1
    # The dnsname plugin's dnsmasq for that network, if the removal left it.
    [ -f "/run/containers/cni/dnsname/$n/pidfile" ] && kill "$(cat "/run/containers/cni/dnsname/$n/pidfile")" 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$LOGDIR"
  say "$( [ $rc -eq 0 ] && echo passed || echo FAILED ) in $(since "$T0") s"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
# nsenter, not `ip netns exec`: the latter also remounts /sys, which hides the
# cgroup mounts runc needs ("no cgroup mount found in mountinfo").
# --test-timeout bounds each file: the tests inside have their own bounds
# (up to 10 min each); this one only catches a hang. ha-compose takes 9 min on
# an idle machine and took 15+ with a soak daemon on one of the two cores.
nsenter --net="/run/netns/$NS" env \
  NT_CT_RUN="$RUN_ID" NT_CT_IMAGE="$IMAGE" NT_CT_IMAGE_GEO="$IMAGE_GEO" NT_CT_STANDINS="$STANDINS" NT_CT_LOGDIR="$LOGDIR" \
  node --import tsx --test --test-concurrency=1 --test-timeout=1800000 test/container/image.test.ts test/container/ha-compose.test.ts
