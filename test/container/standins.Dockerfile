# Stand-ins for the images docker-compose.ha.yml pulls, made from Debian
# packages because no image registry is reachable on the test machines
# (COOKBOOK): Redis, HAProxy, VictoriaMetrics (it speaks InfluxDB 2's write API:
# the stand-in for influxdb:2.7), Prometheus, Alertmanager, redis_exporter,
# node_exporter. One image, one entrypoint per service in
# docker-compose.standins.yml. Grafana, PostgreSQL and oauth2-proxy have no
# stand-in: the override leaves them out.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      redis-server redis-sentinel haproxy victoria-metrics prometheus prometheus-alertmanager \
      prometheus-redis-exporter prometheus-node-exporter wget curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/prometheus-alertmanager /usr/local/bin/alertmanager \
 && mkdir -p /data && chown redis:redis /data
