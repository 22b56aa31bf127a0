#!/bin/sh
# Start Prometheus with the HAProxy stats credentials HAProxy itself reads
# (HAPROXY_STATS_USER / HAPROXY_STATS_PASSWORD, docker-compose.ha.yml), so one
# pair of variables sets both sides. Prometheus reads no environment variables
# in its configuration, and the version in the stack has no username_file, so
# this script renders the configuration once at start:
#   - the password goes to a file only this user can read (password_file);
#   - the placeholder username HAPROXY_STATS_USER is replaced by the value;
#   - rules/ is linked next to the rendered file (rule_files are relative).
# Without this script the haproxy job scrapes with the placeholder and fails
# (401), which the HAProxyScrapeDown alert reports: never silently.
#
#   entrypoint.sh [prometheus flags...]    render, then exec prometheus
#   entrypoint.sh --render-only            render and exit (tests)
set -eu
template=${PROMETHEUS_CONFIG_TEMPLATE:-/etc/prometheus/prometheus.yml}
dir=${PROMETHEUS_RUNTIME_DIR:-/prometheus/runtime}
: "${HAPROXY_STATS_USER:?HAPROXY_STATS_USER is not set}"
: "${HAPROXY_STATS_PASSWORD:?HAPROXY_STATS_PASSWORD is not set}"

umask 077
mkdir -p "$dir"
printf '%s' "$HAPROXY_STATS_PASSWORD" >"$dir/haproxy-stats-password"
# A YAML single-quoted scalar: the only character to escape is ' itself.
# ENVIRON, not -v: awk would interpret backslashes in a -v value.
awk '
  BEGIN { user = ENVIRON["HAPROXY_STATS_USER"]; gsub(/\047/, "\047\047", user) }
  # No sub(): "&" and "\\" in the replacement would be special to it.
  /^[[:space:]]*username: HAPROXY_STATS_USER[[:space:]]*$/ { print substr($0, 1, index($0, "HAPROXY_STATS_USER") - 1) "\047" user "\047"; n++; next }
  { print }
  END { if (n != 1) { print "entrypoint.sh: expected one \"username: HAPROXY_STATS_USER\" line, found " n > "/dev/stderr"; exit 1 } }
' "$template" >"$dir/prometheus.yml.tmp"
mv "$dir/prometheus.yml.tmp" "$dir/prometheus.yml"
ln -sfn "$(dirname "$template")/rules" "$dir/rules"

[ "${1:-}" = "--render-only" ] && exit 0
exec prometheus --config.file="$dir/prometheus.yml" "$@"
