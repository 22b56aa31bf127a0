import type { HttpClient, HttpOutcome } from '../http-client/http-client.js';
import type { Deadline } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { deadlineSignal, isDeadline } from '../util/abort.js';
import type { Member } from './coordinator.js';
import { memberUrlProblem, type MemberUrlPolicy } from './member-auth.js';

/** Why a member did not give an answer. */
export type PeerFailure =
  /** Not a live member in this replica's view. */
  | 'unknown_member'
  /** The member advertises no API address (an older version, or none configured). */
  | 'no_url'
  /** Its breaker is open after consecutive failures: not even tried. */
  | 'circuit_open'
  | 'timeout'
  /** Connection refused, reset, DNS... */
  | 'unreachable'
  /** It answered with a status other than 2xx. */
  | 'http_status'
  | 'too_large'
  | 'bad_path'
  /** Its advertised URL is not one this replica calls (CLUSTER_PEER_PORTS, scheme, a path or userinfo). */
  | 'url_refused';

export type PeerAnswer =
  | { status: 'ok'; member: string; url: string; statusCode: number; /** Parsed JSON, or the text. */ body: unknown; ms: number }
  | { status: 'unavailable'; member: string; url?: string; reason: PeerFailure; detail: string; statusCode?: number };

/** Where the live members come from (the coordinator). */
export interface MemberDirectory {
  members(): Member[];
}

export interface PeerClientOptions {
  /** The read-only member-to-member token (ClusterCredentials.readToken), sent as a bearer token. Never COLLECT_TOKEN. */
  readToken?: string;
  /** Which advertised URLs are called at all (member-auth.ts memberUrlProblem). */
  urlPolicy?: MemberUrlPolicy;
  /** Sent with every call (e.g. authorization when WEB_CONFIG_FILE protects the API). */
  headers?: Record<string, string>;
  /** Sent with the calls to one member, over `headers` (other sites each have their own credential). */
  headersFor?: (memberId: string) => Record<string, string> | undefined;
  /** Largest answer accepted (default 8 MiB). */
  maxBodyBytes?: number;
  /** Counts each answer (default: telemetry_peer_requests_total{result}). */
  onResult?: (memberId: string, result: 'ok' | PeerFailure) => void;
}

/**
 * Asks other cluster members for what only they hold (the web UI: the
 * targets a member owns and their recent data). Calls go through the
 * project's HttpClient, so each member has its own circuit breaker (one per
 * origin = per advertised URL), connections are pooled and counted in
 * MAX_CONNECTIONS, and a dead member costs one fast failure per breaker
 * step instead of a timeout per page. Nothing here throws: a member that
 * does not answer in time is `unavailable` with the reason, and the caller
 * renders what it has.
 */
export class PeerClient {
  private readonly maxBodyBytes: number;

  constructor(
    private readonly directory: MemberDirectory,
    private readonly http: HttpClient,
    private readonly metrics?: TelemetryMetrics,
    private readonly o: PeerClientOptions = {},
  ) {
    this.maxBodyBytes = o.maxBodyBytes ?? 8 * 1024 * 1024;
  }

  /** GET `path` (starting with '/') on member `memberId`, answered by `deadline`. */
  async get(memberId: string, path: string, deadline: Deadline): Promise<PeerAnswer> {
    const member = this.directory.members().find((m) => m.id === memberId);
    if (!member) return this.fail({ member: memberId }, 'unknown_member', `${memberId} is not a live member in this replica's view`);
    return this.ask(member, path, deadline);
  }

  /** GET `path` on every other live member at once; one answer per member, sorted by member id. */
  async fanOut(path: string, deadline: Deadline): Promise<PeerAnswer[]> {
    const others = this.directory.members().filter((m) => !m.self);
    return Promise.all(others.map((m) => this.ask(m, path, deadline)));
  }

  private async ask(member: Member, path: string, deadline: Deadline): Promise<PeerAnswer> {
    const who = { member: member.id, url: member.url || undefined };
    if (!member.url) return this.fail(who, 'no_url', `${member.id} advertises no API address (CLUSTER_ADVERTISE_URL)`);
    const refused = this.o.urlPolicy && !member.self ? memberUrlProblem(member.url, this.o.urlPolicy) : undefined;
    if (refused) return this.fail(who, 'url_refused', `not calling ${member.id}: its URL is refused (${refused})`);
    let url: URL;
    try {
      const base = new URL(member.url);
      // Appended, not resolved: a path like //host must not leave the member.
      url = new URL(base.origin + base.pathname.replace(/\/$/, '') + path);
      if (!path.startsWith('/') || url.origin !== base.origin) throw new Error('not a path');
    } catch {
      return this.fail(who, 'bad_path', `${JSON.stringify(path)} is not a path on ${member.url}`);
    }
    const ms = deadline.remaining();
    if (ms === 0) return this.fail(who, 'timeout', 'deadline passed before the call');
    const { signal, dispose } = deadlineSignal(ms);
    let outcome: HttpOutcome;
    try {
      outcome = await this.http.request(url, {
        signal,
        readTimeoutMs: ms,
        keepBodyBytes: this.maxBodyBytes,
        trust: 'peer',
        headers: { accept: 'application/json', ...(this.o.readToken ? { authorization: `Bearer ${this.o.readToken}` } : {}), ...this.o.headers, ...this.o.headersFor?.(member.id) },
      });
    } finally {
      dispose();
    }
    if (!outcome.ok) {
      if (outcome.circuitOpen) return this.fail(who, 'circuit_open', outcome.error.message);
      const timedOut = isDeadline(signal.reason) || /TIMEOUT/i.test(outcome.error.code ?? '');
      return this.fail(who, timedOut ? 'timeout' : 'unreachable', `${outcome.error.code ?? outcome.error.name}: ${outcome.error.message}`);
    }
    if (outcome.statusCode < 200 || outcome.statusCode > 299) {
      // The status only: a member's answer is never shown raw (it reaches our API and UI).
      return this.fail(who, 'http_status', `HTTP ${outcome.statusCode}`, outcome.statusCode);
    }
    if (outcome.bodyTruncated) return this.fail(who, 'too_large', `answer larger than ${this.maxBodyBytes} bytes`);
    const text = outcome.body?.toString('utf8') ?? '';
    const type = String(outcome.headers['content-type'] ?? '');
    let body: unknown = text;
    if (type.includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        return this.fail(who, 'http_status', 'answer is not the JSON it claims to be', outcome.statusCode);
      }
    }
    this.count(member.id, 'ok');
    return { status: 'ok', member: member.id, url: member.url, statusCode: outcome.statusCode, body, ms: Math.round(outcome.timings.totalMs * 10) / 10 };
  }

  private count(member: string, result: 'ok' | PeerFailure): void {
    if (this.o.onResult) this.o.onResult(member, result);
    else this.metrics?.peerRequests.inc({ result });
  }

  private fail(who: { member: string; url?: string }, reason: PeerFailure, detail: string, statusCode?: number): PeerAnswer {
    this.count(who.member, reason);
    return { status: 'unavailable', ...who, reason, detail, ...(statusCode !== undefined ? { statusCode } : {}) };
  }
}
