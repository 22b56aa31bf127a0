#!/bin/bash
# Runs once, after InfluxDB 2's automatic setup (docker-entrypoint-initdb.d):
# a v1 user that can only read the bucket, for Grafana's InfluxQL datasource
# ("Token grafana:<password>"), so Grafana never holds the all-access token.
# The same script as k8s/telemetry-deployment.yaml's influxdb-init.
set -euo pipefail
influx v1 auth create --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --username grafana --password "${GRAFANA_INFLUXDB_PASSWORD}" \
  --read-bucket "${DOCKER_INFLUXDB_INIT_BUCKET_ID}"
