import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { HttpClient } from '../../http-client/http-client.js';
import { encodeLine } from './line-protocol.js';
import type { StoredPoint } from '../stored-point.js';
import { httpVerdict, postBody, type SendResult, type Transport } from './transport.js';

const gzip = promisify(gzipCb);

/** InfluxDB settings shared by every URL of INFLUXDB_URLS. */
export interface InfluxSettings {
  api: 'v1' | 'v2';
  token?: string;
  org?: string;
  bucket?: string;
  db?: string;
  rp?: string;
  username?: string;
  password?: string;
}

/** Where one InfluxDB endpoint takes writes, and how to authenticate. */
export interface InfluxEndpoint {
  /** The base URL without credentials: cursor key and metric label. */
  name: string;
  /** .../api/v2/write?org=&bucket=&precision=ns or .../write?db=&rp=&precision=ns */
  writeUrl: string;
  headers: Record<string, string>;
}

/** Build the write URL and auth headers of one endpoint. */
export function influxEndpoint(base: string, t: InfluxSettings): InfluxEndpoint {
  const u = new URL(base);
  const prefix = u.pathname.replace(/\/$/, '');
  const name = `${u.protocol}//${u.host}${prefix}`;
  const headers: Record<string, string> = {};
  let write: URL;
  if (t.api === 'v2') {
    write = new URL(`${u.origin}${prefix}/api/v2/write`);
    write.searchParams.set('org', t.org ?? '');
    write.searchParams.set('bucket', t.bucket ?? '');
    if (t.token) headers.authorization = `Token ${t.token}`;
  } else {
    write = new URL(`${u.origin}${prefix}/write`);
    write.searchParams.set('db', t.db ?? t.bucket ?? '');
    if (t.rp) write.searchParams.set('rp', t.rp);
    if (t.username) headers.authorization = `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}`;
    else if (t.token) headers.authorization = `Token ${t.token}`;
  }
  write.searchParams.set('precision', 'ns');
  return { name, writeUrl: write.toString(), headers };
}

/** One line of line protocol ('' for a point without fields): see line-protocol.ts. */
export function toLine(p: StoredPoint): string {
  return encodeLine(p);
}

/**
 * InfluxDB v1 (`/write`) and v2 (`/api/v2/write`) — and whatever speaks
 * them, like VictoriaMetrics: gzip'd line protocol, nanosecond precision.
 * A point written twice overwrites itself (same series, same timestamp), so
 * a re-sent batch is harmless and nothing here is ever `stale`.
 */
export class InfluxTransport implements Transport {
  readonly kind = 'influxdb';
  readonly name: string;

  constructor(
    private readonly endpoint: InfluxEndpoint,
    private readonly http: HttpClient,
  ) {
    this.name = endpoint.name;
  }

  async encode(points: readonly StoredPoint[]): Promise<Uint8Array | null> {
    const lines: string[] = [];
    for (const p of points) {
      const l = toLine(p);
      if (l) lines.push(l);
    }
    return lines.length ? gzip(Buffer.from(lines.join('\n'))) : null;
  }

  async send(body: Uint8Array, signal: AbortSignal): Promise<SendResult> {
    const headers = { ...this.endpoint.headers, 'content-type': 'text/plain; charset=utf-8', 'content-encoding': 'gzip' };
    return httpVerdict(await postBody(this.http, this.endpoint.writeUrl, body, headers, signal));
  }
}
