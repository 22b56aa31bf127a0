#!/bin/sh
# Start one Redis node of the HA stack as the Sentinels see the set now: a
# replica of the primary they name, or the primary itself. On the very first
# start no Sentinel answers yet and REDIS_DEFAULT_PRIMARY decides (empty: this
# node is the primary). A node that comes back after a failover thus rejoins
# as a replica of the promoted one instead of as a second, empty primary.
#
# Environment: REDIS_NODE_NAME (the service name it announces),
# REDIS_DEFAULT_PRIMARY, REDIS_PASSWORD, REDIS_SENTINEL_HOSTS (host ...).
set -eu
: "${REDIS_NODE_NAME:?}" "${REDIS_PASSWORD:?}"
primary=""
# Each ask is bounded: on the first start the Sentinels' names may not resolve
# yet, and a slow lookup must not keep redis-server from starting (the health
# check, and the Sentinels waiting on it, would give up first).
for s in ${REDIS_SENTINEL_HOSTS:-}; do
  primary=$(timeout 2 redis-cli -h "$s" -p 26379 --raw sentinel get-master-addr-by-name telemetry 2>/dev/null | head -n 1) || primary=""
  [ -n "$primary" ] && break
done
# A node restarted in place (its restart policy, seconds after a crash) that
# the Sentinels still name primary would come back empty (no persistence) and
# stay primary, its replica emptied by the resync. Such a node waits for the
# Sentinels to promote the replica (down-after 5 s, then the election), and
# starts as primary only if none was promoted within 30 s (the whole set down).
marker=/tmp/.start-node-ran
if [ -f "$marker" ] && [ "$primary" = "$REDIS_NODE_NAME" ]; then
  echo "start-node.sh: $REDIS_NODE_NAME restarted while still named primary; waiting up to 30 s for the Sentinels to promote a replica"
  n=0
  while [ "$n" -lt 30 ] && [ "$primary" = "$REDIS_NODE_NAME" ]; do
    sleep 1
    n=$((n + 1))
    for s in ${REDIS_SENTINEL_HOSTS:-}; do
      p=$(timeout 2 redis-cli -h "$s" -p 26379 --raw sentinel get-master-addr-by-name telemetry 2>/dev/null | head -n 1) || p=""
      [ -n "$p" ] && { primary=$p; break; }
    done
  done
fi
touch "$marker" 2>/dev/null || true
[ -n "$primary" ] || primary=${REDIS_DEFAULT_PRIMARY:-}
echo "start-node.sh: $REDIS_NODE_NAME starts as $( [ -n "$primary" ] && [ "$primary" != "$REDIS_NODE_NAME" ] && echo "replica of $primary" || echo primary)"
# The password in a configuration read from stdin, not on the command line
# (which ps shows); exec keeps redis-server as the process the engine signals.
# Extra arguments (tests: --port) go last.
start() {
  exec redis-server - --save "" --appendonly no --replica-announce-ip "$REDIS_NODE_NAME" "$@" <<CONF
requirepass $REDIS_PASSWORD
masterauth $REDIS_PASSWORD
CONF
}
if [ -n "$primary" ] && [ "$primary" != "$REDIS_NODE_NAME" ]; then
  start --replicaof "$primary" 6379 "$@"
fi
start "$@"
