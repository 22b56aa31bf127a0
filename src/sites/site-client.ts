import { PeerClient, type PeerAnswer } from '../cluster/peer-client.js';
import type { HttpClient } from '../http-client/http-client.js';
import type { Deadline } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { Site } from '../config/site-list.js';

/**
 * Calls to the other sites: the cluster's PeerClient with the sites as its
 * members, so a site gets what a member gets — the shared HttpClient's pool
 * and MAX_CONNECTIONS, a circuit breaker per site (per origin), a deadline
 * per call, answers that never throw — plus its own credential and
 * telemetry_site_requests_total{site,result}. Only GETs: reading is all a
 * site may do at another.
 */
export class SiteClient {
  private readonly peers: PeerClient;

  constructor(
    readonly sites: readonly Site[],
    http: HttpClient,
    metrics?: TelemetryMetrics,
  ) {
    const byName = new Map(sites.map((s) => [s.name, s]));
    const members = sites.map((s) => ({ id: s.name, url: s.url, self: false }));
    this.peers = new PeerClient({ members: () => members }, http, metrics, {
      headersFor: (name) => byName.get(name)?.headers,
      onResult: (name, result) => metrics?.siteRequests.inc({ site: name, result }),
      // The states of 10,000 targets with their routes stay well under this.
      maxBodyBytes: 32 * 1024 * 1024,
    });
  }

  get(site: string, path: string, deadline: Deadline): Promise<PeerAnswer> {
    return this.peers.get(site, path, deadline);
  }
}
