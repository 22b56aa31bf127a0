#!/bin/sh
# Start Alertmanager with the receivers' URLs from the environment
# (ALERT_WEBHOOK_URL, WATCHDOG_WEBHOOK_URL): Alertmanager reads no environment
# variables in its configuration, so this renders prometheus/alertmanager.yml
# once at start, replacing the two placeholder lines, into a file only this
# user can read (a webhook URL often carries a token).
#
#   alertmanager-entrypoint.sh [alertmanager flags...]   render, then exec alertmanager
#   alertmanager-entrypoint.sh --render-only             render and exit (tests, the loopback stack)
set -eu
template=${ALERTMANAGER_CONFIG_TEMPLATE:-/etc/alertmanager/alertmanager.yml}
dir=${ALERTMANAGER_RUNTIME_DIR:-/alertmanager/runtime}
: "${ALERT_WEBHOOK_URL:?ALERT_WEBHOOK_URL is not set: the webhook every alert goes to}"
: "${WATCHDOG_WEBHOOK_URL:?WATCHDOG_WEBHOOK_URL is not set: the dead man switch the Watchdog alert goes to}"

umask 077
mkdir -p "$dir"
# A YAML single-quoted scalar; ENVIRON, not -v (awk would read backslashes in -v).
awk '
  function q(s) { gsub(/\047/, "\047\047", s); return "\047" s "\047" }
  /^[[:space:]]*- url: ALERT_WEBHOOK_URL[[:space:]]*$/ { print substr($0, 1, index($0, "ALERT_WEBHOOK_URL") - 1) q(ENVIRON["ALERT_WEBHOOK_URL"]); n++; next }
  /^[[:space:]]*- url: WATCHDOG_WEBHOOK_URL[[:space:]]*$/ { print substr($0, 1, index($0, "WATCHDOG_WEBHOOK_URL") - 1) q(ENVIRON["WATCHDOG_WEBHOOK_URL"]); n++; next }
  { print }
  END { if (n != 2) { print "alertmanager-entrypoint.sh: expected the two url placeholder lines, found " n > "/dev/stderr"; exit 1 } }
' "$template" >"$dir/alertmanager.yml.tmp"
mv "$dir/alertmanager.yml.tmp" "$dir/alertmanager.yml"

[ "${1:-}" = "--render-only" ] && exit 0
exec alertmanager --config.file="$dir/alertmanager.yml" "$@"
