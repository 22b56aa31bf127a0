import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseYaml, YamlError } from '../config/yaml-file.js';
import { StartupError } from '../lifecycle/startup-error.js';
import { PasswordVerifier } from './password-verifier.js';

/**
 * WEB_CONFIG_FILE: TLS and basic auth for the daemon's HTTP server, in the
 * format of the Prometheus exporter toolkit's web config file
 * (https://prometheus.io/docs/prometheus/latest/configuration/https/), so an
 * operator who secured node_exporter secures this the same way:
 *
 *   tls_server_config:
 *     cert_file: server.crt
 *     key_file: server.key
 *   basic_auth_users:
 *     alice: $2y$10$...   # bcrypt hash (htpasswd -nBC 10 alice)
 *
 * Relative paths are relative to the file. Checked at start: a problem is one
 * line naming WEB_CONFIG_FILE and the field.
 */
export interface WebConfig {
  tls?: { cert: Buffer; key: Buffer; certFile: string; keyFile: string };
  users?: Map<string, string>;
}

const schema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert_file: z.string().min(1),
      key_file: z.string().min(1),
      min_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).optional(),
    })
    .optional(),
  basic_auth_users: z.record(z.string().min(1), z.string().regex(/^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$/, 'is not a bcrypt hash (make one with `htpasswd -nBC 10 USER`)')).optional(),
  http_server_config: z.strictObject({ http2: z.boolean().optional() }).optional(),
});

export function loadWebConfig(file: string): WebConfig {
  const fail = (msg: string) => new StartupError('WEB_CONFIG_FILE', `${file}: ${msg}`, 2);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let data: unknown = {};
  try {
    if (text.trim() !== '') data = parseYaml(text, file).data ?? {};
  } catch (err) {
    if (!(err instanceof YamlError)) throw err;
    throw fail(`not valid YAML: ${err.message}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const path = (i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]] : i.path).join('.');
    throw fail(`${path || '(top)'}: ${i.message}`);
  }
  const out: WebConfig = {};
  const tls = parsed.data.tls_server_config;
  if (tls) {
    const base = dirname(resolve(file));
    const read = (field: string, p: string) => {
      const full = resolve(base, p);
      try {
        return { data: readFileSync(full), path: full };
      } catch (err) {
        throw fail(`tls_server_config.${field}: cannot read ${full} (${(err as NodeJS.ErrnoException).code})`);
      }
    };
    const cert = read('cert_file', tls.cert_file);
    const key = read('key_file', tls.key_file);
    if (!/-----BEGIN [A-Z ]*CERTIFICATE-----/.test(cert.data.toString('latin1'))) throw fail(`tls_server_config.cert_file: ${cert.path} is not a PEM certificate`);
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.data.toString('latin1'))) throw fail(`tls_server_config.key_file: ${key.path} is not a PEM private key`);
    out.tls = { cert: cert.data, key: key.data, certFile: cert.path, keyFile: key.path };
  }
  const users = parsed.data.basic_auth_users;
  if (users && Object.keys(users).length) out.users = new Map(Object.entries(users));
  return out;
}

/** How long a verified user:password pair is trusted without running bcrypt again. */
const VERIFIED_TTL_MS = 60_000;
const MAX_VERIFIED = 1000;

export interface BasicCredentials {
  user: string;
  password: string;
}

/**
 * Basic auth against bcrypt hashes. bcrypt is slow on purpose (~70-100 ms
 * per check in pure JS): checks run in a worker thread with a bounded queue
 * (PasswordVerifier), and a verified pair is remembered for a minute by its
 * SHA-256 (as the exporter toolkit caches), so a page loading ten assets
 * costs one check, not ten. The server limits failures per client
 * (auth-failures.ts) before asking here.
 */
export class BasicAuth {
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly users: Map<string, string>,
    private readonly verifier = new PasswordVerifier(),
  ) {}

  /** The user and password of a Basic authorization header, if it is one. */
  static parse(header: string | undefined): BasicCredentials | undefined {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }

  /** Start the verifier's thread (at server start: the first login does not wait for it). */
  warm(): void {
    this.verifier.warm();
  }

  /** Verified within the last minute: no bcrypt needed. */
  recentlyVerified(c: BasicCredentials): boolean {
    const until = this.verified.get(cacheKey(c));
    return until !== undefined && until > Date.now();
  }

  /** Whether the pair matches; throws VerifierBusyError when too many checks wait. */
  async verify(c: BasicCredentials): Promise<boolean> {
    if (this.recentlyVerified(c)) return true;
    const hash = this.users.get(c.user);
    // Unknown users cost a bcrypt run too, so timing does not tell which names exist.
    const ok = await this.verifier.verify(c.password, hash ?? DUMMY_HASH);
    if (!ok || !hash) return false;
    if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(cacheKey(c), Date.now() + VERIFIED_TTL_MS);
    return true;
  }

  close(): Promise<void> {
    return this.verifier.close();
  }
}

function cacheKey(c: BasicCredentials): string {
  return createHash('sha256').update(`${c.user}\0${c.password}`).digest('hex');
}

const DUMMY_HASH = '$2b$10$CwTycUXWue0Thq9StjUM0uJ8.E4Mc2aA5xz5cBY1qfNoXl0B5pa1C';

/** Compare secrets in constant time whatever their lengths (hash both first). */
export function secretEquals(got: string, want: string): boolean {
  const a = createHash('sha256').update(got).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b) && got.length === want.length;
}
