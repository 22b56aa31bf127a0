import { compress, uncompress } from 'snappyjs';
import type { HttpClient } from '../../http-client/http-client.js';
import { splitUrlAuth, type EndpointAuth } from '../../http-client/url-auth.js';
import { VERSION } from '../../version.js';
import type { StoredPoint } from '../stored-point.js';
import { WriteRequest, type Label, type TimeSeries } from './remote-write-proto.js';
import { httpVerdict, postBody, type SendResult, type Transport } from './transport.js';

export interface RemoteWriteEndpoint {
  /** The URL without credentials: cursor key and metric label. */
  name: string;
  url: string;
  headers: Record<string, string>;
}

export type RemoteWriteAuth = EndpointAuth;

/** One REMOTE_WRITE_URLS entry with its auth (userinfo in the URL, else the settings). */
export function remoteWriteEndpoint(raw: string, auth: RemoteWriteAuth): RemoteWriteEndpoint {
  const { url: u, headers } = splitUrlAuth(raw, auth);
  return { name: `${u.protocol}//${u.host}${u.pathname}`, url: u.toString(), headers };
}

const NAME_OK = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_OK = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const sanitize = (s: string, ok: RegExp) => (ok.test(s) ? s : s.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9])/, '_$1'));

/** `telemetry_<measurement>_<field>`: the series name of one numeric field. */
export function seriesName(measurement: string, field: string): string {
  return sanitize(`telemetry_${measurement}_${field}`, NAME_OK);
}

/**
 * Points as remote-write time series: one series per numeric field
 * (`telemetry_<measurement>_<field>`; booleans 0/1; integers as floats;
 * string fields are not samples and are skipped), the tags as labels with
 * `__name__` first and the rest sorted by name (the spec requires sorted
 * labels), the slot timestamp in ms. Samples of one series are sorted by
 * time: Prometheus refuses a request whose series goes back in time.
 */
export function toTimeSeries(points: readonly StoredPoint[]): TimeSeries[] {
  const series = new Map<string, TimeSeries>();
  for (const p of points) {
    const tagNames = Object.keys(p.t).sort();
    const labels: Label[] = tagNames.map((k) => ({ name: sanitize(k, LABEL_OK), value: p.t[k]! }));
    const labelKey = labels.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
    const add = (field: string, value: number) => {
      const name = seriesName(p.m, field);
      const key = `${name}\u0001${labelKey}`;
      let s = series.get(key);
      if (!s) {
        s = { labels: [{ name: '__name__', value: name }, ...labels], samples: [] };
        series.set(key, s);
      }
      s.samples.push({ value, timestamp: p.ts });
    };
    for (const [k, v] of Object.entries(p.f)) {
      if (typeof v === 'number') add(k, v);
      else if (typeof v === 'boolean') add(k, v ? 1 : 0);
    }
    if (p.i) for (const [k, v] of Object.entries(p.i)) add(k, v);
  }
  const out = [...series.values()];
  for (const s of out) {
    s.samples.sort((a, b) => a.timestamp - b.timestamp);
    // One sample per timestamp: a slot stored twice (ad-hoc and scheduled runs have different tags, so
    // this is a re-collection of the same slot) keeps its last value, as InfluxDB would.
    s.samples = s.samples.filter((x, i, all) => i === all.length - 1 || all[i + 1]!.timestamp !== x.timestamp);
  }
  return out;
}

/** The body of a remote-write request: a snappy block-compressed WriteRequest. */
export function encodeWriteRequest(series: TimeSeries[]): Uint8Array {
  // encode() takes plain objects of the right shape: no fromObject copy.
  return compress(WriteRequest.encode({ timeseries: series }).finish());
}

/** The inverse (tests, and the recording receiver of the tests). */
export function decodeWriteRequest(body: Uint8Array): TimeSeries[] {
  const msg = WriteRequest.decode(uncompress(body));
  return (WriteRequest.toObject(msg, { longs: Number, defaults: true }) as { timeseries: TimeSeries[] }).timeseries;
}

/**
 * Prometheus's answers to samples it already has something newer (or the
 * same) for: 2.x says "out of order sample", "duplicate sample for
 * timestamp", "out of bounds", "too old sample".
 */
const STALE = /out of order|duplicate sample|out of bounds|too old/i;

/**
 * Prometheus remote write 1.0: protobuf WriteRequest, snappy block
 * compression, the spec's headers. Receivers: Prometheus
 * (--web.enable-remote-write-receiver, /api/v1/write), VictoriaMetrics
 * (/api/v1/write), Mimir, Thanos receive, ...
 *
 * Why snappyjs (pure JS) and protobufjs: both are plain npm packages with no
 * install step; `snappy` (napi-rs) also installs here from per-platform npm
 * packages, but a native add-on ties the image to a libc and CPU for a
 * compression of a few kB per second.
 */
export class RemoteWriteTransport implements Transport {
  readonly kind = 'remote_write';
  readonly name: string;

  constructor(
    private readonly endpoint: RemoteWriteEndpoint,
    private readonly http: HttpClient,
  ) {
    this.name = endpoint.name;
  }

  async encode(points: readonly StoredPoint[]): Promise<Uint8Array | null> {
    const series = toTimeSeries(points);
    return series.length ? encodeWriteRequest(series) : null;
  }

  async send(body: Uint8Array, signal: AbortSignal): Promise<SendResult> {
    const headers = {
      ...this.endpoint.headers,
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': `network-telemetry/${VERSION}`,
    };
    return httpVerdict(await postBody(this.http, this.endpoint.url, body, headers, signal), (_status, text) => STALE.test(text));
  }
}
