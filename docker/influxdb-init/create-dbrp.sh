#!/bin/bash
# Runs once, after InfluxDB 2's automatic setup (docker-entrypoint-initdb.d):
# map the v1 database "telemetry" to the bucket, so Grafana's InfluxQL
# datasource (and the v1 write API) can use it.
set -euo pipefail
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default
