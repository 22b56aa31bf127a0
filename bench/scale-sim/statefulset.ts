import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, REPO } from '../../scripts/lib/services.js';

/**
 * The StatefulSet controller's part of the loop, on this machine: pods are
 * daemon processes (`node dist/cli.js run`) named `<name>-<ordinal>`, each
 * with a DATA_DIR of its own that outlives it (the volume claim, kept on
 * scale-down: persistentVolumeClaimRetentionPolicy Retain). Parallel pod
 * management, as in the manifest: a scale-up starts every missing ordinal
 * at once; a scale-down deletes every ordinal at or above the new count,
 * highest first: the pod turns terminating, preStop runs (its sleep), then
 * SIGTERM, and SIGKILL once the grace period (counted from the deletion)
 * is over.
 *
 * It also serves the scale subresource
 * (GET /apis/apps/v1/namespaces/<ns>/statefulsets/<name>/scale), the one
 * API call a replica makes at stop to learn whether it is leaving for good
 * (src/cluster/departure.ts), and keeps Prometheus' file_sd target list to
 * the pods that exist (as the kubernetes-pods job does from the API).
 */

export interface Pod {
  name: string;
  ordinal: number;
  port: number;
  url: string;
  dataDir: string;
  proc: ChildProcess;
  startedAt: number;
  /** First /health/ready 200. */
  readyAt?: number;
  /** Deletion time (terminating from then on). */
  deletedAt?: number;
  exitedAt?: number;
  exitCode?: number | null;
  /** Parsed JSON log lines. */
  logs: Record<string, unknown>[];
  exited: Promise<void>;
}

export interface StatefulSetOptions {
  name: string;
  namespace: string;
  /** Where each ordinal's DATA_DIR lives (`<dir>/data-<name>-<n>`). */
  dir: string;
  /** Prometheus file_sd file the pods are listed in. */
  sdFile: string;
  env: Record<string, string>;
  /** Node arguments before `run`: the built daemon (dist/cli.js) or the sources through tsx. */
  entry: string[];
  preStopMs: number;
  gracePeriodMs: number;
  /** Called with every event (a pod created, ready, deleted, exited) for the timeline. */
  onEvent?: (e: { at: number; pod: string; what: 'created' | 'ready' | 'deleted' | 'sigterm' | 'exited' | 'killed'; code?: number | null }) => void;
}

export class StatefulSet {
  /** spec.replicas (the scale subresource; the HPA writes it). */
  replicas = 0;
  /** Every pod ever made, by ordinal incarnation (latest last). */
  readonly history: Pod[] = [];
  private readonly pods = new Map<number, Pod>();
  private readonly ports = new Map<number, number>();
  private api?: Server;
  apiUrl = '';

  constructor(private readonly o: StatefulSetOptions) {
    mkdirSync(o.dir, { recursive: true });
    this.writeSd();
  }

  /** Serve the scale subresource. */
  async start(): Promise<void> {
    const path = `/apis/apps/v1/namespaces/${this.o.namespace}/statefulsets/${this.o.name}/scale`;
    this.api = createServer((req, res) => {
      if (req.url !== path) {
        res.statusCode = 404;
        return void res.end();
      }
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          kind: 'Scale',
          apiVersion: 'autoscaling/v1',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { replicas: this.replicas },
          status: { replicas: this.live().length },
        }),
      );
    });
    await new Promise<void>((r) => this.api!.listen(0, '127.0.0.1', r));
    this.apiUrl = `http://127.0.0.1:${(this.api.address() as AddressInfo).port}`;
  }

  /** Pods that exist and are not terminating. */
  live(): Pod[] {
    return [...this.pods.values()].filter((p) => p.deletedAt === undefined).sort((a, b) => a.ordinal - b.ordinal);
  }

  /** Every pod that exists, terminating ones included (what the HPA's pod list shows). */
  all(): Pod[] {
    return [...this.pods.values()].sort((a, b) => a.ordinal - b.ordinal);
  }

  /** The scale subresource changed: make the pods follow. */
  async scale(n: number): Promise<void> {
    this.replicas = n;
    const starts: Promise<void>[] = [];
    for (let i = 0; i < n; i++) if (!this.pods.has(i)) starts.push(this.create(i));
    // Highest ordinal first; Parallel management deletes them without waiting for each other.
    for (const p of this.live().reverse()) if (p.ordinal >= n) this.delete(p);
    await Promise.all(starts);
  }

  private async create(ordinal: number): Promise<void> {
    const name = `${this.o.name}-${ordinal}`;
    const port = this.ports.get(ordinal) ?? (await freePort());
    this.ports.set(ordinal, port);
    const dataDir = join(this.o.dir, `data-${name}`);
    mkdirSync(dataDir, { recursive: true });
    const proc = spawn(process.execPath, [...this.o.entry, 'run'], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...this.o.env, DATA_DIR: dataDir, PORT: String(port), LISTEN_ADDRESS: '127.0.0.1', POD_NAME: name, POD_NAMESPACE: this.o.namespace, INSTANCE_NAME: name, KUBERNETES_API_URL: this.apiUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: Record<string, unknown>[] = [];
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ raw: line });
        }
      }
    });
    proc.stderr!.on('data', (d: Buffer) => logs.push({ stderr: d.toString() }));
    const pod: Pod = {
      name,
      ordinal,
      port,
      url: `http://127.0.0.1:${port}`,
      dataDir,
      proc,
      startedAt: Date.now(),
      logs,
      exited: new Promise<void>((r) =>
        proc.once('exit', (code) => {
          pod.exitedAt = Date.now();
          pod.exitCode = code;
          if (this.pods.get(ordinal) === pod) this.pods.delete(ordinal);
          this.writeSd();
          this.o.onEvent?.({ at: Date.now(), pod: name, what: 'exited', code });
          r();
          // Scaled up again while it was terminating: the controller makes it once the old one is gone.
          if (!this.closing && ordinal < this.replicas && !this.pods.has(ordinal)) void this.create(ordinal);
        }),
      ),
    };
    this.pods.set(ordinal, pod);
    this.history.push(pod);
    this.writeSd();
    this.o.onEvent?.({ at: pod.startedAt, pod: name, what: 'created' });
    void this.watchReady(pod);
  }

  private async watchReady(pod: Pod): Promise<void> {
    while (pod.exitedAt === undefined && pod.deletedAt === undefined) {
      try {
        if ((await fetch(`${pod.url}/health/ready`, { signal: AbortSignal.timeout(2000) })).ok) {
          pod.readyAt = Date.now();
          this.o.onEvent?.({ at: pod.readyAt, pod: pod.name, what: 'ready' });
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Pod deletion: terminating, preStop, SIGTERM, SIGKILL after the grace period. */
  private delete(pod: Pod): void {
    pod.deletedAt = Date.now();
    this.o.onEvent?.({ at: pod.deletedAt, pod: pod.name, what: 'deleted' });
    const term = setTimeout(() => {
      if (pod.exitedAt !== undefined) return;
      pod.proc.kill('SIGTERM');
      this.o.onEvent?.({ at: Date.now(), pod: pod.name, what: 'sigterm' });
    }, this.o.preStopMs);
    const kill = setTimeout(() => {
      if (pod.exitedAt !== undefined) return;
      pod.proc.kill('SIGKILL');
      this.o.onEvent?.({ at: Date.now(), pod: pod.name, what: 'killed' });
    }, this.o.gracePeriodMs);
    void pod.exited.then(() => {
      clearTimeout(term);
      clearTimeout(kill);
    });
  }

  /** Stop every pod as a restart would (SIGTERM, the scale unchanged: each keeps what it could not deliver). */
  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.closing = true;
    const all = [...this.pods.values()];
    for (const p of all) p.proc.kill(signal);
    const killAfter = setTimeout(() => all.forEach((p) => p.exitedAt === undefined && p.proc.kill('SIGKILL')), this.o.gracePeriodMs);
    await Promise.all(all.map((p) => p.exited));
    clearTimeout(killAfter);
  }

  private closing = false;

  async close(): Promise<void> {
    this.closing = true;
    await this.stopAll('SIGKILL');
    await new Promise<void>((r) => (this.api ? this.api.close(() => r()) : r()));
  }

  /** file_sd: every pod that exists, with the labels the kubernetes-pods job gives (namespace, pod). */
  private writeSd(): void {
    const groups = [...this.pods.values()].map((p) => ({ targets: [`127.0.0.1:${p.port}`], labels: { namespace: this.o.namespace, pod: p.name, app_kubernetes_io_name: 'network-telemetry' } }));
    const tmp = `${this.o.sdFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(groups));
    renameSync(tmp, this.o.sdFile);
  }
}
