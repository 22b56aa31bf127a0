#!/bin/sh
# Write .env for the compose stacks with a random value for every secret, so
# no stack runs on a password someone else knows. Refuses to overwrite an
# existing file (a changed INFLUXDB_TOKEN or password does not reach a
# database whose volume already exists: docs/operations.md, "Change passwords
# and tokens").
#
#   sh scripts/generate-env.sh              writes ./.env
#   sh scripts/generate-env.sh path/.env    writes there
#
# Then set the two alert receivers (ALERT_WEBHOOK_URL, WATCHDOG_WEBHOOK_URL:
# the HA stack refuses to start without them) and TARGET_FQDNS.
set -eu
out=${1:-.env}
if [ -e "$out" ]; then
  echo "generate-env.sh: $out exists; remove it first, or edit it (a changed secret needs the steps in docs/operations.md)" >&2
  exit 1
fi
# 32 random bytes as hex (or base64url for the cookie secret), from the kernel.
hex() { od -An -tx1 -N"${1:-32}" /dev/urandom | tr -d ' \n'; }
b64url() { head -c 32 /dev/urandom | base64 | tr -- '+/' '-_' | tr -d '\n'; }

umask 077
{
  echo "# Written by scripts/generate-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it out of version control."
  echo "# Every secret is random; the other settings are .env.example's defaults."
  echo
  echo "TARGET_FQDNS=example.com,https://example.com/"
  echo "SOURCE_NAME=$(hostname 2>/dev/null || echo site)"
  echo "COLLECTION_INTERVAL=60"
  echo
  echo "INFLUXDB_TOKEN=$(hex)"
  echo "INFLUXDB_ORG=telemetry"
  echo "INFLUXDB_BUCKET=telemetry"
  echo "INFLUXDB_ADMIN_USER=admin"
  echo "INFLUXDB_ADMIN_PASSWORD=$(hex 16)"
  echo "GRAFANA_ADMIN_PASSWORD=$(hex 16)"
  echo "GRAFANA_INFLUXDB_PASSWORD=$(hex 16)"
  echo "COLLECT_TOKEN=$(hex)"
  echo
  echo "# HA stack"
  echo "HAPROXY_STATS_USER=admin"
  echo "HAPROXY_STATS_PASSWORD=$(hex 16)"
  echo "GRAFANA_DB_PASSWORD=$(hex 16)"
  echo "REDIS_PASSWORD=$(hex)"
  echo "# Where alerts go: your chat/paging webhook, and a dead man's switch for the Watchdog."
  echo "ALERT_WEBHOOK_URL="
  echo "WATCHDOG_WEBHOOK_URL="
  echo
  echo "# HA stack, profile sso: the client id and secret come from your identity provider."
  echo "OAUTH2_PROXY_COOKIE_SECRET=$(b64url)"
} >"$out"
echo "wrote $out (mode 0600). Set ALERT_WEBHOOK_URL and WATCHDOG_WEBHOOK_URL before starting the HA stack." >&2
