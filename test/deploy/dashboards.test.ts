/**
 * Grafana provisioning and dashboards.
 *
 * Static: the provisioning YAML and dashboard JSON are well-formed, every
 * panel uses the provisioned datasource (uid influxdb) with raw InfluxQL, and
 * every measurement, field and tag a query names is one the daemon writes
 * (src/probes/schema.ts) — the checker is itself tested against bad queries.
 *
 * Live: a real InfluxDB 1.x is loaded by the real daemon (icmp + trace on
 * loopback, an https server, a tcp port open and one closed, dnsmasq for dns,
 * and a restart with a changed route so `route_changed` is really true), then
 * every panel, variable and annotation query runs with its variables filled
 * in the way Grafana fills them, and must return data in every column.
 * Geolocation is off in the daemon (GEO=off is the default), so the geo
 * panels alone read a few synthetic hop/geo points written here as fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { COMMON_TAGS, SCHEMA } from '../../src/probes/schema.js';
import { toLineProtocol } from '../../src/outbox/transports/line-protocol.js';
import type { AnySample, Sample } from '../../src/samples/sample.js';
import { Influx1, REPO } from '../../scripts/lib/services.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, makeCert, startHttpsServer, waitFor } from '../helpers/net.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { analyze, grafanaRegexEscape, substitute } from './dashboards-influxql.js';

const DS = { type: 'influxdb', uid: 'influxdb' };
const DASH_DIR = join(REPO, 'grafana/dashboards');
const PROV_DIR = join(REPO, 'grafana/provisioning');
/** Grafana's InfluxQL macros the dashboards may use. */
const MACROS = new Set(['$timeFilter', '$__interval']);

// ------------------------------------------------------------------ dashboard model

type Json = Record<string, any>;
interface Dashboard {
  file: string;
  json: Json;
}
interface DashQuery {
  dashboard: string;
  where: string;
  kind: 'panel' | 'variable' | 'annotation';
  query: string;
  panel?: Json;
  refId?: string;
}

/**
 * The InfluxQL dashboards (datasource uid influxdb). Dashboards on the
 * Prometheus datasource are checked by operations-dashboard.test.ts.
 */
function loadDashboards(): Dashboard[] {
  return loadAllDashboards().filter((d) => dashboardDatasources(d.json).has('influxdb'));
}

/** Datasource uids a dashboard uses, Grafana's built-in annotation source aside. */
function dashboardDatasources(json: Json): Set<string> {
  return new Set(datasourceRefs(json).map((r) => (r.ds as Json)?.uid).filter((u) => typeof u === 'string' && u !== '-- Grafana --'));
}

function loadAllDashboards(): Dashboard[] {
  const files = readdirSync(DASH_DIR).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 1, 'no dashboards in grafana/dashboards');
  return files.map((file) => {
    const text = readFileSync(join(DASH_DIR, file), 'utf8');
    let json: Json;
    try {
      json = JSON.parse(text) as Json;
    } catch (err) {
      throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
    }
    return { file, json };
  });
}

/** Every panel, rows' nested panels included. */
function panelsOf(d: Json): Json[] {
  const out: Json[] = [];
  const walk = (ps: Json[] = []) => {
    for (const p of ps) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

function queriesOf({ file, json }: Dashboard): DashQuery[] {
  const out: DashQuery[] = [];
  for (const p of panelsOf(json)) {
    for (const t of p.targets ?? []) out.push({ dashboard: file, where: `panel "${p.title}" ${t.refId}`, kind: 'panel', query: t.query, panel: p, refId: t.refId });
  }
  for (const v of json.templating?.list ?? []) if (v.type === 'query') out.push({ dashboard: file, where: `variable $${v.name}`, kind: 'variable', query: typeof v.query === 'string' ? v.query : v.query?.query });
  for (const a of json.annotations?.list ?? []) {
    if (a.builtIn) continue;
    out.push({ dashboard: file, where: `annotation "${a.name}"`, kind: 'annotation', query: a.target?.query ?? a.query });
  }
  return out;
}

/** Every `datasource` value anywhere in the JSON. */
function datasourceRefs(node: unknown, path = '$', out: { path: string; ds: unknown }[] = []): { path: string; ds: unknown }[] {
  if (Array.isArray(node)) node.forEach((n, i) => datasourceRefs(n, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'datasource') out.push({ path: `${path}.${k}`, ds: v });
      datasourceRefs(v, `${path}.${k}`, out);
    }
  }
  return out;
}

/** Geo fields of `hop` points (present only with GEO on). */
const GEO_HOP_FIELDS = ['lat', 'lon', 'country', 'city', 'asn', 'as_org', 'geo_private'].filter((f) => f in SCHEMA.hop.fields);
const isGeoQuery = (q: string) => {
  const f = analyze(q);
  return f.measurements.includes('geo') || f.references.some((r) => GEO_HOP_FIELDS.includes(r));
};

// ------------------------------------------------------------------ static checks

test('provisioning: InfluxQL datasource (uid influxdb) and the dashboard file provider', () => {
  const dsText = readFileSync(join(PROV_DIR, 'datasources/influxdb.yaml'), 'utf8');
  const ds = YAML.parse(dsText, { prettyErrors: true, uniqueKeys: true }) as Json;
  assert.equal(ds.apiVersion, 1);
  assert.equal(ds.datasources.length, 1);
  const [src] = ds.datasources as Json[];
  // The InfluxQL database is the bucket the daemons write (INFLUXDB_BUCKET=netmon in .env moves both).
  assert.equal(src!.uid, 'influxdb');
  assert.equal(src!.type, 'influxdb');
  assert.equal(src!.access, 'proxy');
  assert.equal(src!.url, '${INFLUXDB_URL}');
  assert.equal(src!.jsonData.dbName, '${INFLUXDB_BUCKET}');
  assert.ok(['GET', 'POST'].includes(src!.jsonData.httpMode), `httpMode ${src!.jsonData.httpMode}`);
  assert.ok(src!.jsonData.version === undefined || src!.jsonData.version === 'InfluxQL', 'InfluxQL mode, not Flux/SQL');
  assert.equal(src!.jsonData.httpHeaderName1, 'Authorization');
  assert.equal(src!.secureJsonData.httpHeaderValue1, 'Token ${INFLUXDB_TOKEN}');
  // Grafana expands $VAR / ${VAR} in provisioning values: only the three the compose files and k8s/ pass.
  const envRefs = new Set<string>();
  const walk = (n: unknown) => {
    if (typeof n === 'string') for (const m of n.matchAll(/\$\{?(\w+)\}?/g)) envRefs.add(m[1]!);
    else if (n && typeof n === 'object') Object.values(n).forEach(walk);
  };
  walk(ds);
  assert.deepEqual([...envRefs].sort(), ['INFLUXDB_BUCKET', 'INFLUXDB_TOKEN', 'INFLUXDB_URL']);

  const provText = readFileSync(join(PROV_DIR, 'dashboards/dashboards.yaml'), 'utf8');
  const prov = YAML.parse(provText, { prettyErrors: true, uniqueKeys: true }) as Json;
  assert.equal(prov.apiVersion, 1);
  const [provider] = prov.providers as Json[];
  assert.equal(provider!.type, 'file');
  assert.equal(provider!.options.path, '/var/lib/grafana/dashboards');
  assert.match(provText, /^#.*\.\/grafana\/dashboards/m, 'the mount path is documented');
});

test('provisioning YAML passes yamllint with the repository config', () => {
  // scripts/ensure-deps.sh installs yamllint before every npm test: missing is a failure, not a skip.
  const r = spawnSync('yamllint', ['-c', join(REPO, '.yamllint.yml'), '-f', 'parsable', PROV_DIR], { encoding: 'utf8' });
  assert.ifError(r.error ? new Error(`yamllint: ${r.error.message} (bash scripts/ensure-deps.sh installs it)`) : undefined);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('every dashboard uses exactly one provisioned datasource; uids are unique', () => {
  const all = loadAllDashboards();
  const uids = all.map((d) => d.json.uid);
  assert.equal(new Set(uids).size, uids.length, `dashboard uids ${uids}`);
  const provisioned = new Set(
    readdirSync(join(PROV_DIR, 'datasources')).flatMap((f) => (YAML.parse(readFileSync(join(PROV_DIR, 'datasources', f), 'utf8')) as Json).datasources.map((d: Json) => d.uid)),
  );
  for (const { file, json } of all) {
    const used = [...dashboardDatasources(json)];
    assert.equal(used.length, 1, `${file} uses ${used.join(', ')}`);
    assert.ok(provisioned.has(used[0]), `${file}: datasource ${used[0]} is not provisioned (${[...provisioned]})`);
  }
  assert.ok(loadDashboards().length >= 2, 'the InfluxQL dashboards');
});

test('dashboards: JSON, unique ids, datasource uid influxdb everywhere, raw InfluxQL, variables, layout', () => {
  const dashboards = loadDashboards();
  for (const { file, json } of dashboards) {
    assert.ok(typeof json.uid === 'string' && json.uid.length <= 40, `${file}: uid`);
    assert.ok(json.schemaVersion >= 36, `${file}: schemaVersion ${json.schemaVersion}`);
    const panels = panelsOf(json);
    const ids = panels.map((p) => p.id);
    assert.ok(ids.every((id) => Number.isInteger(id)), `${file}: panel without an integer id`);
    assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids ${ids}`);

    for (const { path, ds } of datasourceRefs(json)) {
      const builtin = path.startsWith('$.annotations.list[0]') && (ds as Json)?.type === 'grafana';
      if (!builtin) assert.deepEqual(ds, DS, `${file} ${path}`);
    }
    const varNames = new Set<string>((json.templating?.list ?? []).map((v: Json) => v.name));
    for (const p of panels) {
      if (p.type === 'row') continue;
      assert.deepEqual(p.datasource, DS, `${file} panel ${p.id} datasource`);
      assert.ok(p.targets?.length, `${file} panel "${p.title}" has no query`);
      for (const t of p.targets) {
        assert.equal(t.rawQuery, true, `${file} "${p.title}" ${t.refId}: raw InfluxQL`);
        assert.ok(['time_series', 'table'].includes(t.resultFormat), `${file} "${p.title}" ${t.refId}: resultFormat ${t.resultFormat}`);
      }
      const refIds = p.targets.map((t: Json) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${file} "${p.title}": duplicate refIds`);
      if (p.repeat) assert.ok(varNames.has(p.repeat), `${file} "${p.title}" repeats over unknown $${p.repeat}`);
      for (const m of String(p.title).matchAll(/\$(\w+)/g)) assert.ok(varNames.has(m[1]!), `${file} "${p.title}": unknown $${m[1]}`);
    }

    for (const q of queriesOf({ file, json })) {
      assert.ok(typeof q.query === 'string' && q.query.trim(), `${file} ${q.where}: empty query`);
      const facts = analyze(q.query);
      if (facts.kind === 'select') {
        assert.ok(q.query.includes('$timeFilter'), `${file} ${q.where}: no $timeFilter (would scan all time)`);
        if (/GROUP BY time\(/i.test(q.query)) assert.match(q.query, /GROUP BY time\(\$__interval\)/, `${file} ${q.where}`);
      }
      // Dashboard variables only as anchored, regex-escaped matches: /^${name:regex}$/.
      const bare = q.query.replace(/\/\^\$\{(\w+):regex\}\$\//g, (m, n: string) => {
        assert.ok(varNames.has(n), `${file} ${q.where}: unknown variable ${n}`);
        return '';
      });
      for (const v of analyze(bare).variables) assert.ok(MACROS.has(v), `${file} ${q.where}: ${v} must be used as /^\${name:regex}$/ or be a Grafana macro`);
    }
    for (const v of json.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      assert.deepEqual(v.datasource, DS, `${file} variable ${v.name}`);
      if (v.includeAll) assert.equal(v.allValue, '.*', `${file} variable ${v.name}: All must match everything`);
    }

    // Panels do not overlap on the 24-column grid.
    const boxes = panels.filter((p) => p.gridPos).map((p) => ({ id: p.id, ...p.gridPos }));
    for (const b of boxes) assert.ok(b.x >= 0 && b.w > 0 && b.x + b.w <= 24 && b.h > 0, `${file} panel ${b.id} gridPos ${JSON.stringify(b)}`);
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i]!, boxes[j]!];
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!overlap, `${file}: panels ${a.id} and ${b.id} overlap`);
      }
  }
});

test('every dashboard query names only measurements, fields and tags the daemon writes', () => {
  const used = new Map<string, Set<string>>();
  const problems: string[] = [];
  for (const d of loadDashboards()) {
    for (const q of queriesOf(d)) {
      const facts = analyze(q.query);
      for (const p of facts.problems) problems.push(`${q.dashboard} ${q.where}: ${p}\n    ${q.query}`);
      for (const m of facts.measurements) {
        const set = used.get(m) ?? new Set<string>();
        facts.references.forEach((r) => set.add(r));
        used.set(m, set);
      }
    }
  }
  assert.deepEqual(problems, []);
  // And the dashboards show what docs/operations.md promises (coverage, not just consistency).
  const want: Record<string, string[]> = {
    ping: ['rtt_min_ms', 'rtt_avg_ms', 'rtt_max_ms', 'loss_pct', 'jitter_ms', 'mos', 'r_factor'],
    route: ['hop_count', 'route_changed', 'route_diff', 'path'],
    hop: ['ttl', 'ip', 'loss_pct', 'rtt_avg_ms', 'rtt_best_ms', 'rtt_worst_ms', 'hostname', 'ecmp_ips', 'lat', 'lon'],
    http: ['dns_ms', 'connect_ms', 'tls_ms', 'ttfb_ms', 'transfer_ms', 'total_ms', 'status_code', 'cert_expiry_days'],
    dns: ['query_ms', 'rcode'],
    tcp: ['connect_ms'],
    probe: ['success', 'reason'],
    geo: ['src_lat', 'src_lon', 'dst_lat', 'dst_lon', 'distance_km'],
    collector: ['round_duration_s', 'targets_run', 'probes_ok', 'probes_failed', 'skipped_overrun', 'outbox_points', 'open_circuits', 'targets_owned', 'cluster_members', 'instance'],
  };
  assert.equal(GEO_HOP_FIELDS.length, 7, 'hop geo fields in the schema');
  for (const [m, fields] of Object.entries(want)) {
    const have = used.get(m) ?? new Set();
    const missing = fields.filter((f) => !have.has(f));
    assert.deepEqual(missing, [], `no panel on ${m}: ${missing.join(', ')}`);
  }
});

test('the schema check fails on queries the daemon could not feed', () => {
  const bad: [string, RegExp][] = [
    ['SELECT mean("rtt_ms") FROM "ping" WHERE $timeFilter', /"rtt_ms" is neither a field nor a tag of "ping"/],
    ['SELECT mean("rtt_avg_ms") FROM "latency" WHERE $timeFilter', /measurement "latency" is not written/],
    ['SELECT mean(rtt_avg_ms) FROM "ping" WHERE $timeFilter', /unquoted identifier/],
    ['SELECT mean("ip") FROM "ping" WHERE $timeFilter', /mean\("ip"\): ip is string, not a number/],
    ['SELECT last("ip") FROM "hop" WHERE $timeFilter GROUP BY "hop_count"', /GROUP BY "hop_count": not a tag of "hop"/],
    ['SELECT last("ip") FROM "hop" WHERE "instance" = \'x\' AND $timeFilter', /"instance" is neither a field nor a tag of "hop"/],
    // collector points are about a replica: no target tag
    ['SELECT last("round_duration_s") FROM "collector" WHERE "target" =~ /^x$/ AND $timeFilter', /"target" is neither a field nor a tag of "collector"/],
    ['SHOW TAG VALUES WITH KEY = "hop_count"', /WITH KEY "hop_count": not a tag/],
    ['SHOW TAG VALUES FROM "ping" WITH KEY = "ttl"', /WITH KEY "ttl": not a tag of "ping"/],
    ['SELECT * FROM "ping" WHERE $timeFilter', /wildcard/],
    ['SELECT mean("value") FROM /.*/ WHERE $timeFilter', /FROM \/regex\//],
    ['SELECT mean("mos") FROM (SELECT "mos" FROM "ping") WHERE $timeFilter', /subqueries/],
    ['SELECT magic("mos") FROM "ping" WHERE $timeFilter', /unknown function magic/],
  ];
  for (const [q, expected] of bad) {
    const { problems } = analyze(q);
    assert.ok(problems.some((p) => expected.test(p)), `${q}\n  expected ${expected}, got ${JSON.stringify(problems)}`);
  }
  const good = 'SELECT mean("rtt_avg_ms") AS "avg" FROM "ping" WHERE "target" =~ /^${target:regex}$/ AND $timeFilter GROUP BY time($__interval), "family" fill(none)';
  assert.deepEqual(analyze(good).problems, []);
  assert.deepEqual(analyze(good).references.sort(), ['family', 'rtt_avg_ms', 'target']);
  assert.equal(grafanaRegexEscape('https://a.b:8443/x?y'), 'https:\\/\\/a\\.b:8443\\/x\\?y');
  assert.ok(COMMON_TAGS.includes('target'));
});

test('geomap panel: source, hops and destination on one route layer plus markers, fed by InfluxQL', () => {
  const main = loadDashboards().find((d) => panelsOf(d.json).some((p) => p.type === 'geomap'));
  assert.ok(main, 'a dashboard with a geomap panel');
  const map = panelsOf(main.json).find((p) => p.type === 'geomap')!;
  const layers = map.options.layers as Json[];
  const route = layers.find((l) => l.type === 'route');
  const markers = layers.find((l) => l.type === 'markers');
  assert.ok(route && markers, `layers ${layers.map((l) => l.type)}`);
  for (const l of [route, markers]) assert.deepEqual(l.location, { mode: 'coords', latitude: 'lat', longitude: 'lon' });
  assert.equal(route.config.arrow, 1, 'arrows in path direction');
  assert.deepEqual(
    (map.transformations as Json[]).map((t) => t.id),
    ['convertFieldType', 'merge', 'filterByValue', 'sortBy'],
  );
  assert.equal(map.transformations[3].options.sort[0].field, 'ttl');
  const measurements = (map.targets as Json[]).map((t) => analyze(t.query).measurements[0]).sort();
  assert.deepEqual(measurements, ['geo', 'geo', 'hop']);
  assert.ok(panelsOf(main.json).some((p) => p.type === 'table' && p.targets.some((t: Json) => /"lat"/.test(t.query) && /FROM "hop"/.test(t.query))), 'a hop geo table as fallback');
});

// ------------------------------------------------------------------ live

/** Columns a result never fills, and why that is expected on this machine. */
const MAY_BE_EMPTY: Record<string, string> = {
  hostname: 'TRACE_REVERSE_DNS is off and loopback has no PTR record here',
  ecmp_ips: 'loopback has a single path (no ECMP)',
};

interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

async function run(db: Influx1, q: string): Promise<Series[]> {
  const body = await db.query(q);
  return (body.results?.[0]?.series ?? []) as Series[];
}

function emptyColumns(series: Series[]): string[] {
  const cols = new Set(series.flatMap((s) => s.columns.filter((c) => c !== 'time')));
  return [...cols].filter((c) => series.every((s) => s.values.every((v) => v[s.columns.indexOf(c)] === null || v[s.columns.indexOf(c)] === undefined)));
}

const rowsOf = (series: Series[]) => series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })) as Record<string, any>[]);

const FIXTURE = 'fixture:geo path (synthetic)';

/**
 * Synthetic geo data for the geo panels only: the daemon runs with GEO off.
 * Shaped as docs/schema.md describes GEO≠off output (typed through the
 * project's Sample type and encoded by its own line-protocol encoder).
 */
function geoFixture(timeMs: number): string {
  const tags = (ttl: number) => ({ target: FIXTURE, source: 'test-source', ttl: String(ttl) });
  const hop = (ttl: number, fields: Sample<'hop'>['fields']): Sample<'hop'> => ({ measurement: 'hop', tags: tags(ttl), fields: { sent: 3, ...fields }, timeMs });
  const samples: AnySample[] = [
    hop(1, { ip: '192.168.1.1', loss_pct: 0, rtt_avg_ms: 0.4, rtt_best_ms: 0.3, rtt_worst_ms: 0.6, geo_private: true }),
    hop(2, { ip: '198.51.100.1', loss_pct: 0, rtt_avg_ms: 9.1, rtt_best_ms: 8.7, rtt_worst_ms: 9.9, lat: 50.1109, lon: 8.6821, city: 'Frankfurt', country: 'DE', asn: 64500, as_org: 'Example Transit A' }),
    hop(3, { ip: '198.51.100.77', loss_pct: 0, rtt_avg_ms: 14.2, rtt_best_ms: 13.8, rtt_worst_ms: 15.0, lat: 52.3676, lon: 4.9041, city: 'Amsterdam', country: 'NL', asn: 64501, as_org: 'Example Transit B' }),
    ...[4, 5, 6, 7, 8, 9].map((ttl) => hop(ttl, { ip: '*', loss_pct: 100 })),
    hop(10, { ip: '203.0.113.10', loss_pct: 0, rtt_avg_ms: 19.6, rtt_best_ms: 19.1, rtt_worst_ms: 20.4, lat: 51.5072, lon: -0.1276, city: 'London', country: 'GB', asn: 64502, as_org: 'Example Hosting' }),
    {
      measurement: 'geo',
      tags: { target: FIXTURE, source: 'test-source', dst_country: 'GB' },
      fields: { src_lat: 48.8566, src_lon: 2.3522, dst_lat: 51.5072, dst_lon: -0.1276, distance_km: 343.5, dst_asn: 64502, dst_city: 'London', dst_ip: '203.0.113.10' },
      timeMs,
    },
  ];
  return samples.map((s) => toLineProtocol(s)).join('\n');
}

test('live: every panel, variable and annotation query returns data from InfluxDB 1.x loaded by the real daemon', { timeout: 240_000 }, async () => {
  const cleanups: (() => unknown)[] = [];
  const daemons: Daemon[] = [];
  try {
    const db = await Influx1.start();
    cleanups.push(() => db.cleanup());
    const cert = makeCert(30);
    cleanups.push(() => cert.cleanup());
    const web = await startHttpsServer((_q, r) => r.end('ok'), cert);
    cleanups.push(() => web.close());
    const dns = await startDnsmasq({ 'svc.test': '127.0.0.1' });
    cleanups.push(() => dns.stop());
    const dir = mkdtempSync(join(tmpdir(), 'nt-dash-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');
    const closed = await freePort();

    const httpsTarget = `https://localhost:${web.port}/health`;
    const targets = {
      icmp: 'localhost',
      https: httpsTarget,
      dns: 'svc.test',
      tcpOpen: `127.0.0.1:${web.port}`,
      tcpClosed: `127.0.0.1:${closed}`,
      moving: 'moving',
    };
    const env = {
      INFLUXDB_URL: db.url,
      INFLUX_API: 'v1',
      INFLUXDB_DB: 'telemetry',
      INFLUX_FLUSH_INTERVAL: '0.5',
      COLLECTION_INTERVAL: '2',
      // The schema's default trace interval is 60 s: trace every slot here.
      TRACE_INTERVAL: '2',
    };
    const movingEntry = (host: string) => `  - name: moving\n    host: ${host}\n    probes: [trace]\n`;

    // Phase A: target "moving" traced at 127.0.0.1; the daemon remembers that route in DATA_DIR.
    const fileA = join(dir, 'targets-a.yaml');
    writeFileSync(fileA, `targets:\n${movingEntry('127.0.0.1')}`);
    const a = await startDaemon({ ...env, TARGETS_FILE: fileA }, { dataDir });
    daemons.push(a);
    await waitFor(async () => (await db.rows(`SELECT "hop_count" FROM "route" WHERE "target" = 'moving'`)).length >= 1, 'first trace of "moving"', 30_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}\n${a.stderr().slice(-3000)}`);
    });
    a.proc.kill('SIGTERM');
    await a.exited;

    // Phase B: same DATA_DIR, "moving" now resolves to 127.0.0.2 — a real route change for the daemon.
    const fileB = join(dir, 'targets-b.yaml');
    writeFileSync(
      fileB,
      [
        'targets:',
        movingEntry('127.0.0.2').trimEnd(),
        `  - name: "${httpsTarget}"`,
        '    host: localhost',
        '    probes: [http]',
        `    http: { url: "${httpsTarget}", insecure_tls: true }`,
        '  - name: svc.test',
        '    host: svc.test',
        '    probes: [dns]',
        `    dns: { server: "${dns.server}", record: A, name: svc.test }`,
        '',
      ].join('\n'),
    );
    const d = await startDaemon({ ...env, TARGETS_FILE: fileB, TARGET_FQDNS: [targets.icmp, targets.tcpOpen, targets.tcpClosed].join(',') }, { dataDir });
    daemons.push(d);
    const count = async (q: string) => Number((await db.rows(q))[0]?.n ?? 0);
    const ready: Record<string, string> = {
      ping: `SELECT count("rtt_avg_ms") AS "n" FROM "ping" WHERE "target" = 'localhost'`,
      route: `SELECT count("hop_count") AS "n" FROM "route" WHERE "target" = 'localhost'`,
      hop: `SELECT count("ip") AS "n" FROM "hop" WHERE "target" = 'localhost'`,
      'route change': `SELECT count("hop_count") AS "n" FROM "route" WHERE "target" = 'moving' AND "route_changed" = true`,
      http: `SELECT count("total_ms") AS "n" FROM "http" WHERE "target" = '${httpsTarget}'`,
      dns: `SELECT count("query_ms") AS "n" FROM "dns" WHERE "target" = 'svc.test'`,
      tcp: `SELECT count("connect_ms") AS "n" FROM "tcp" WHERE "target" = '${targets.tcpOpen}'`,
      'probe failure': `SELECT count("reason") AS "n" FROM "probe" WHERE "target" = '${targets.tcpClosed}'`,
      collector: `SELECT count("round_duration_s") AS "n" FROM "collector"`,
    };
    const need: Record<string, number> = { route: 2, hop: 2, 'route change': 1 };
    let missing: string[] = [];
    await waitFor(
      async () => {
        missing = [];
        for (const [what, q] of Object.entries(ready)) if ((await count(q)) < (need[what] ?? 3)) missing.push(what);
        return missing.length === 0;
      },
      'three rounds of every measurement',
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; missing ${missing.join(', ')}\n${d.stderr().slice(-3000)}`);
    });

    // Fixtures for the geo panels only (GEO is off in the daemon).
    assert.equal(await db.write(geoFixture(Math.floor(Date.now() / 2000) * 2000)), 204);

    const instance = String((await db.rows('SHOW TAG VALUES FROM "collector" WITH KEY = "instance"'))[0]?.value ?? '');
    assert.ok(instance, 'collector instance tag');
    const allTargets = (await db.rows('SHOW TAG VALUES WITH KEY = "target"')).map((r) => String(r.value));
    const daemonTargets = [...new Set(allTargets)].filter((t) => t !== FIXTURE);
    for (const t of Object.values(targets)) assert.ok(daemonTargets.includes(t), `target ${t} has data (${daemonTargets})`);

    const macros = { timeFilter: 'time > now() - 1h', interval: '10s', intervalMs: 10_000 };
    const failures: string[] = [];
    const passed: { q: DashQuery; target?: string; series: Series[] }[] = [];
    for (const dash of loadDashboards()) {
      for (const q of queriesOf(dash)) {
        const candidates = !q.query.includes('${target:regex}') ? [undefined] : isGeoQuery(q.query) ? [FIXTURE] : daemonTargets;
        const attempts: string[] = [];
        let ok = false;
        for (const target of candidates) {
          const vars: Record<string, string> = { source: 'test-source', instance, ...(target ? { target } : {}) };
          const sql = substitute(q.query, vars, macros);
          let series: Series[];
          try {
            series = await run(db, sql);
          } catch (err) {
            attempts.push(`${target ?? '-'}: ${(err as Error).message}`);
            continue;
          }
          const empty = emptyColumns(series).filter((c) => !(c in MAY_BE_EMPTY));
          if (series.length && series.some((s) => s.values.length) && empty.length === 0) {
            passed.push({ q, target, series });
            ok = true;
            break;
          }
          attempts.push(`${target ?? '-'}: ${series.length ? `no data in ${empty.join(', ')}` : 'no series'} <- ${sql}`);
        }
        if (!ok) failures.push(`${q.dashboard} ${q.where}:\n    ${attempts.join('\n    ')}`);
      }
    }
    assert.deepEqual(failures, [], 'queries without data');

    const result = (where: RegExp, target?: string) => {
      const p = passed.find((x) => where.test(x.q.where) && (target === undefined || x.target === target));
      assert.ok(p, `no passing query ${where} for ${target ?? 'any target'}: ${passed.map((x) => `${x.q.where}@${x.target}`).join('; ')}`);
      return p;
    };
    // Variables list what the daemon wrote.
    const values = (s: Series[]) => rowsOf(s).map((r) => r.value);
    assert.ok(values(result(/variable \$source/).series).includes('test-source'));
    const targetValues = values(result(/variable \$target/).series);
    for (const t of Object.values(targets)) assert.ok(targetValues.includes(t), `$target lists ${t}`);
    assert.ok(values(result(/variable \$instance/).series).includes(instance));

    // The annotation and the route-change table see the real change of "moving", and only there.
    const anno = passed.find((x) => x.q.kind === 'annotation')!;
    assert.equal(anno.target, 'moving');
    assert.ok(rowsOf(anno.series).some((r) => r.path === '127.0.0.2'), JSON.stringify(anno.series));
    const annoDef = loadDashboards().flatMap((x) => x.json.annotations.list).find((x: Json) => x.name === 'Route changes');
    for (const col of [annoDef.target.textColumn, annoDef.target.tagsColumn]) assert.ok(anno.series[0]!.columns.includes(col), `annotation column ${col}`);
    assert.equal(result(/panel "Route changes"/).target, 'moving');

    // The current route of localhost: one hop, 127.0.0.1 at TTL 1.
    const route = substitute(result(/panel "Current route/).q.query, { source: 'test-source', target: 'localhost' }, macros);
    const hops = rowsOf(await run(db, route));
    assert.deepEqual(hops.map((h) => [h.ttl, h.ip]), [['1', '127.0.0.1']]);

    // Failures: the closed port, reason "refused".
    const byProbe = rowsOf((await run(db, substitute(result(/panel "Runs and failures by probe"/).q.query, { source: 'test-source', target: targets.tcpClosed }, macros))));
    assert.equal(byProbe[0]?.probe, 'tcp');
    assert.equal(byProbe[0]?.last_reason, 'refused');
    assert.equal(byProbe[0]?.failures, byProbe[0]?.runs);

    // Transformations and map layers only name columns the queries return.
    const geomapPanel = result(/panel "Path on the map/).q.panel!;
    for (const panel of new Set(passed.filter((x) => x.q.panel?.transformations?.length).map((x) => x.q.panel!))) {
      const cols = new Set(passed.filter((x) => x.q.panel === panel).flatMap((x) => x.series.flatMap((s) => [...s.columns, ...Object.keys(s.tags ?? {})])));
      const named = (panel.transformations as Json[]).flatMap((t) => [
        ...(t.options.conversions ?? []).map((c: Json) => c.targetField),
        ...(t.options.sort ?? []).map((s: Json) => s.field),
        ...(t.options.filters ?? []).map((f: Json) => f.fieldName),
      ]);
      if (panel === geomapPanel) for (const l of panel.options.layers) named.push(l.location.latitude, l.location.longitude, ...(l.config.style?.text?.field ? [l.config.style.text.field] : []));
      for (const n of named) assert.ok(cols.has(n), `panel "${panel.title}" names column ${n}, queries return ${[...cols]}`);
    }

    // What Grafana's transformations make of the geomap frames: source, located hops by numeric TTL, destination.
    const frames = passed.filter((x) => x.q.panel === geomapPanel).flatMap((x) => rowsOf(x.series));
    const path = frames
      .map((r): Record<string, any> => ({ ...r, ttl: Number(r.ttl) }))
      .filter((r) => r.lat !== null && r.lat !== undefined)
      .sort((x, y) => x.ttl - y.ttl);
    if (process.env.DASHBOARDS_TEST_VERBOSE) for (const p of passed) console.log(`${p.q.dashboard} ${p.q.where} <- ${p.target ?? '-'}: ${p.series.length} series`);
    assert.deepEqual(
      path.map((r) => [r.ttl, r.lat, r.lon]),
      [
        [0, 48.8566, 2.3522],
        [2, 50.1109, 8.6821],
        [3, 52.3676, 4.9041],
        [10, 51.5072, -0.1276],
        [65, 51.5072, -0.1276],
      ],
    );
  } finally {
    for (const d of daemons.reverse()) await d.cleanup();
    for (const c of cleanups.reverse()) await c();
  }
});
