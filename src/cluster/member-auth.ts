import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Trust between the members of a cluster. Redis is shared state, not an
 * authority: anyone who can write to it could list a member of their own
 * (an id, a URL) and, before this, receive the collect token and a share of
 * the targets. So:
 *
 * - every member record (id, API URL, target-list hash, time) carries an
 *   HMAC-SHA256 under a key derived from CLUSTER_SECRET; a record without a
 *   valid proof, or whose time is more than one member TTL away from Redis's
 *   clock (a replayed record of a dead member), is not a member;
 * - members read each other's API with a read-only bearer token derived from
 *   the same secret (CLUSTER_READ_TOKEN overrides it), never COLLECT_TOKEN:
 *   the API accepts it for reads only;
 * - a member's URL must be an API root this replica allows (member-url check
 *   below), checked before any request.
 *
 * Why an HMAC and not mutual TLS: it works over the plain HTTP most
 * clusters run inside a pod network, needs no certificate per replica, and
 * proves the record itself (TLS would prove the peer we connect to, after
 * we already chose to connect to an address read from Redis). TLS between
 * members (WEB_CONFIG_FILE, https advertise URLs) protects the token in
 * transit on top of this.
 *
 * CLUSTER_SECRET unset: derived from COLLECT_TOKEN (one HMAC, so the
 * membership key and the read token reveal nothing of the token), which
 * every replica of a deployment shares.
 */

const PROOF_VERSION = 'v1';

export interface MemberRecord {
  id: string;
  url: string;
  /** Hash of the member's target list. */
  config: string;
}

export type ProofCheck = 'ok' | 'missing' | 'bad_signature' | 'stale' | 'future';

export class ClusterCredentials {
  private readonly memberKey: Buffer;
  /** Bearer token members send each other: grants GET routes, nothing else. */
  readonly readToken: string;

  constructor(secret: string, readToken?: string) {
    const root = createHash('sha256').update(secret).digest();
    this.memberKey = createHmac('sha256', root).update('network-telemetry member record').digest();
    this.readToken = readToken ?? createHmac('sha256', root).update('network-telemetry peer read token').digest('base64url');
  }

  /**
   * The cluster's credentials from CLUSTER_SECRET, or derived from
   * COLLECT_TOKEN; undefined when there is neither (cluster mode refuses to
   * start then: see load-config).
   */
  static fromEnv(env: { CLUSTER_SECRET?: string; CLUSTER_READ_TOKEN?: string; COLLECT_TOKEN?: string }): ClusterCredentials | undefined {
    const secret = env.CLUSTER_SECRET ?? (env.COLLECT_TOKEN ? createHmac('sha256', env.COLLECT_TOKEN).update('network-telemetry cluster secret').digest('base64url') : undefined);
    return secret ? new ClusterCredentials(secret, env.CLUSTER_READ_TOKEN) : undefined;
  }

  /** `v1.<time ms>.<hmac>` over the record and the time (Redis's clock as this replica estimates it). */
  prove(r: MemberRecord, atMs: number): string {
    const t = String(Math.round(atMs));
    return `${PROOF_VERSION}.${t}.${this.mac(r, t)}`;
  }

  /** Whether `proof` was made with our secret for exactly this record, within one TTL of `nowMs` (Redis's clock). */
  check(r: MemberRecord, proof: string, nowMs: number, ttlMs: number): ProofCheck {
    if (!proof) return 'missing';
    const [version, t, mac] = proof.split('.');
    if (version !== PROOF_VERSION || !t || !/^\d{1,16}$/.test(t) || !mac) return 'bad_signature';
    const want = Buffer.from(this.mac(r, t));
    const got = Buffer.from(mac);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return 'bad_signature';
    const at = Number(t);
    if (at < nowMs - ttlMs) return 'stale';
    if (at > nowMs + ttlMs) return 'future';
    return 'ok';
  }

  private mac(r: MemberRecord, t: string): string {
    // Lengths first: no two different records share one byte string.
    const parts = [r.id, r.url, r.config, t];
    const h = createHmac('sha256', this.memberKey);
    for (const p of parts) h.update(`${Buffer.byteLength(p)}:${p}\n`);
    return h.digest('base64url');
  }
}

export interface MemberUrlPolicy {
  /** This replica's own advertised URL: an https cluster takes no plain-http member. */
  selfUrl: string;
  /** CLUSTER_PEER_PORTS: the ports a member may advertise (empty: any). */
  ports: readonly number[];
}

/**
 * Why a member's advertised URL is not one we call, or undefined when it
 * is: an http(s) API root (no user, password, path, query or fragment), of
 * an allowed port, and https when we ourselves advertise https.
 */
export function memberUrlProblem(raw: string, policy: MemberUrlPolicy): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol.replace(/:$/, '')} (only http and https)`;
  if (u.username || u.password) return 'it carries a user or password';
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) return 'it has a path, query or fragment (a member URL is the API root)';
  if (policy.selfUrl.startsWith('https:') && u.protocol !== 'https:') return 'plain http while this replica advertises https';
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  if (policy.ports.length && !policy.ports.includes(port)) return `port ${port} is not in CLUSTER_PEER_PORTS (${policy.ports.join(', ')})`;
  return undefined;
}
