import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { capacityNeed, type CapacityLimits } from '../../src/scheduler/capacity.js';

/** N loopback targets, as the scale benchmark writes them (icmp + http, a trace every 10 intervals). */
function targets(n: number, o: { trace: boolean; env?: Record<string, string> }) {
  const dir = mkdtempSync(join(tmpdir(), 'nt-capacity-'));
  try {
    const lines = ['defaults: { interval: 60, timeout: 10 }', 'targets:'];
    for (let i = 0; i < n; i++) {
      const probes = o.trace ? 'icmp, http, trace' : 'icmp, http';
      lines.push(`  - { name: t${i}, host: "127.5.${i >> 8}.${(i & 255) + 1}", probes: [${probes}], http: { url: "http://127.0.0.1:1/t/${i}" }${o.trace ? ', trace: { interval: 600 }' : ''} }`);
    }
    writeFileSync(join(dir, 't.yaml'), lines.join('\n'));
    return loadConfig({ TARGETS_FILE: join(dir, 't.yaml'), TRACE_PACKET_INTERVAL: '0.2', TRACE_GRACE: '0.3', ...o.env }).targets;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const DEFAULTS: CapacityLimits = { maxConcurrentTargets: 50, maxConcurrentOperations: 100, batchSize: 10, workerPoolSize: 20 };
const SCALE: CapacityLimits = { maxConcurrentTargets: 2000, maxConcurrentOperations: 2000, batchSize: 100, workerPoolSize: 20 };

test('10,000 targets at 60 s do not fit the default bounds: one line names each variable to raise and to what', () => {
  const ts = targets(10_000, { trace: true });
  const { warning, bounds } = capacityNeed(ts, DEFAULTS);
  // 20 echo requests 0.05 s apart hold a target (and an operation) 0.95 s: 10,000 x 0.95 / 60 = 158.3 at once.
  // The 0.9 s trace one slot in 10 ends within the echo run: it adds no target slot.
  assert.equal(Math.round(bounds.MAX_CONCURRENT_TARGETS.need * 10) / 10, 158.3);
  assert.ok(warning, 'a warning');
  assert.equal(warning!.split('\n').length, 1, 'one line');
  assert.match(warning!, /MAX_CONCURRENT_TARGETS to 317 \(now 50, needs at least 159\)/);
  assert.match(warning!, /MAX_CONCURRENT_OPERATIONS to \d+ \(now 100/);
  assert.doesNotMatch(warning!, /WORKER_POOL_SIZE/, '16 mtr runs at once fit in 20');
  assert.match(warning!, /docs\/sizing\.md/);
});

test('the values the warning asks for make it go away', () => {
  const ts = targets(10_000, { trace: true });
  const { warning } = capacityNeed(ts, DEFAULTS);
  const asked = (name: string) => Number(new RegExp(`${name} to (\\d+)`).exec(warning!)?.[1]);
  const raised = { ...DEFAULTS, maxConcurrentTargets: asked('MAX_CONCURRENT_TARGETS'), maxConcurrentOperations: asked('MAX_CONCURRENT_OPERATIONS') };
  assert.equal(capacityNeed(ts, raised).warning, undefined);
});

test('the scale benchmark settings fit 25,000 targets with icmp + http, and name WORKER_POOL_SIZE once traces need more mtr runs than it allows', () => {
  assert.equal(capacityNeed(targets(25_000, { trace: false }), SCALE).warning, undefined);
  // 25,000 traces of 0.9 s every 600 s = 37.5 mtr processes at once.
  const w = capacityNeed(targets(25_000, { trace: true }), SCALE).warning;
  assert.match(w ?? '', /WORKER_POOL_SIZE to 76 \(now 20, needs at least 38\)/);
  assert.doesNotMatch(w ?? '', /MAX_CONCURRENT_TARGETS/);
});

test('HTTP-only targets have no floor from the settings: nothing to warn about', () => {
  const ts = loadConfig({ TARGET_FQDNS: Array.from({ length: 500 }, (_, i) => `http://127.0.0.1:1/${i}`).join(','), COLLECTION_INTERVAL: '10' }).targets;
  assert.equal(capacityNeed(ts, DEFAULTS).warning, undefined);
});
