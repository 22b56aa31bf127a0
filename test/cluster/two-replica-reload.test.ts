// npm test: in pairs (every (target, slot) probed once; the new set within two intervals)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { membersEverywhere, startClusterRig } from '../helpers/cluster-rig.js';
import { startDaemons, type Daemon } from '../helpers/daemon.js';
import { sleep, waitFor } from '../helpers/net.js';
import { SlotCoverage } from '../helpers/slot-coverage.js';

/**
 * In cluster mode each replica reloads its own copy of the
 * targets file (a Kubernetes ConfigMap reaches the pods seconds apart). Two
 * real daemons share a real Redis; each watches its own file. The first copy
 * changes, the second four seconds later. A recording server is every
 * target and logs every probe; probes are counted per (target, slot) where
 * they arrive.
 *
 * Asserted: every target of the new set is probed within two intervals of the
 * second change; in the steady state after it every (target, slot) of the
 * new set is probed exactly once and the removed targets not at all; the
 * targets both sets keep are never left out, not even while the copies
 * differ. The figures of every phase are printed.
 *
 * BATCH_SIZE=100 puts all targets in one group at offset 0 of the slot (and a
 * target added by the reload joins it), so a request's slot is simply the
 * slot its arrival falls in.
 *
 * Broken once to see it fail: a reloading replica that does not tell the
 * cluster its new list (no coordinator.setTargets in App.applyConfig) ->
 * the added targets are never probed ("new set probed within two intervals").
 */

const INTERVAL = 2000;
const OLD = Array.from({ length: 30 }, (_, i) => i);
const KEPT = OLD.slice(0, 20);
const REMOVED = OLD.slice(20);
const ADDED = Array.from({ length: 10 }, (_, i) => 30 + i);
const NEW = [...KEPT, ...ADDED];

test('two replicas, each with its own copy of the targets file, the copies changed 4 s apart: the new set probed within two intervals, once per slot in steady state, kept targets never left out', { timeout: 300_000 }, async (t) => {
  const rig = await startClusterRig({ targets: 40, intervalMs: INTERVAL, heartbeatMs: 500, ttlMs: 3000, name: 'two-replica-reload' });
  const url = (i: number) => rig.targets[i]!;
  const yaml = (ids: number[]) => `defaults: { interval: ${INTERVAL / 1000} }\ntargets:\n${ids.map((i) => `  - http: { url: "${url(i)}" }\n`).join('')}`;
  const cov = new SlotCoverage(rig.targets, INTERVAL, rig.web.url, 100);
  const dir = mkdtempSync(join(tmpdir(), 'nt-2reload-'));
  const files = [join(dir, 'a.yaml'), join(dir, 'b.yaml')];
  for (const f of files) writeFileSync(f, yaml(OLD));
  const { TARGET_FQDNS: _, ...clusterEnv } = rig.env;
  const daemons: Daemon[] = [];
  const sub = (ids: number[]) => ids.map(url);
  const count = async (from: number, to: number) => cov.count(await rig.web.requests(), from, to);
  /** Coverage of `ids` over the slots fully inside [from, to]. */
  const phase = async (ids: number[], from: number, to: number) => {
    const c = await count(from, to);
    const slots = cov.slotsBetween(from, to);
    const only = new SlotCoverage(sub(ids), INTERVAL, rig.web.url, 100);
    const d = only.duplicates(c, slots);
    return { slots: slots.length, missing: only.missing(c, slots), dups: d.dups, total: d.total, dupSlots: d.slots.map((x) => new Date(x).toISOString().slice(11, 19)) };
  };
  try {
    daemons.push(...(await startDaemons(files.map((f) => ({ ...clusterEnv, TARGETS_FILE: f, BATCH_SIZE: '100', SHUTDOWN_TIMEOUT: '5' })))));
    const [a, b] = daemons as [Daemon, Daemon];
    await membersEverywhere(daemons, 2, 20_000);
    const reloadedAt = (d: Daemon) => {
      const line = d.logs.find((l) => String(l.msg).startsWith('configuration reloaded') && l.trigger === 'TARGETS_FILE changed');
      return line ? Date.parse(String(line.time)) : undefined;
    };

    // Steady state on the old set first (the baseline the change starts from).
    await sleep(2 * INTERVAL);
    const t0 = Date.now();
    await sleep(4 * INTERVAL);
    const before = await phase(OLD, t0, Date.now());
    assert.deepEqual(before.missing, [], 'old set, before the change: every (target, slot) probed');
    assert.equal(before.dups, 0, `old set, before the change: ${before.dups} duplicates`);

    // The first copy changes; the second one 4 s later. Each replica's watcher picks up its own.
    writeFileSync(files[0]!, yaml(NEW));
    const tA = await waitFor(() => reloadedAt(a), 'replica A reloaded its copy', 15_000, 50);
    await sleep(4000);
    writeFileSync(files[1]!, yaml(NEW));
    const tB = await waitFor(() => reloadedAt(b), 'replica B reloaded its copy', 15_000, 50);
    assert.equal(reloadedAt(b)! > tA, true);

    // Two intervals after the second change, then a steady window.
    await sleep(2 * INTERVAL + 500);
    const tSteady = Date.now();
    await sleep(5 * INTERVAL);
    const end = Date.now();
    const requests = await rig.web.requests();

    // Every target of the new set probed within two intervals of the second change.
    const late: string[] = [];
    for (const i of NEW) {
      const first = requests.find((q) => `${rig.web.url}${q.url}` === url(i) && q.at >= tB);
      if (!first || first.at - tB > 2 * INTERVAL) late.push(`t/${i} ${first ? `${first.at - tB} ms` : 'never'}`);
    }
    assert.deepEqual(late, [], 'new set probed within two intervals of the second change');
    const firstAdded = Math.max(...ADDED.map((i) => requests.find((q) => `${rig.web.url}${q.url}` === url(i) && q.at >= tA)?.at ?? Infinity)) - tA;

    const steady = await phase(NEW, tSteady, end);
    assert.deepEqual(steady.missing, [], 'steady state after both reloads: every (target, slot) of the new set probed');
    assert.equal(steady.dups, 0, `steady state after both reloads: ${steady.dups} duplicates in slots ${steady.dupSlots.join(', ')}`);
    const removedProbes = requests.filter((q) => q.at > tB + INTERVAL && sub(REMOVED).includes(`${rig.web.url}${q.url}`)).length;
    assert.equal(removedProbes, 0, 'the removed targets are not probed once both replicas reloaded');

    // The kept targets through the whole change: never left out.
    const kept = await phase(KEPT, t0, end);
    assert.deepEqual(kept.missing, [], 'kept targets: every slot probed across both reloads');
    const divergent = await phase(NEW, tA, tB);
    const [ownA, ownB] = (await Promise.all(daemons.map((d) => d.json('/api/cluster')))) as { owned: number }[];
    for (const line of [
      `before: ${before.slots} slots x ${OLD.length} targets, ${before.total} probes, ${before.dups} duplicates`,
      `A reloaded ${tA - t0} ms into the run, B ${tB - tA} ms after A; added targets first probed ${firstAdded} ms after A's reload`,
      `while the copies differed (${tB - tA} ms): new set ${divergent.total} probes, ${divergent.dups} duplicates, ${divergent.missing.length} (target, slot) missed`,
      `kept targets over the whole run: ${kept.slots} slots, ${kept.total} probes, ${kept.dups} duplicates, none missed`,
      `steady after: ${steady.slots} slots x ${NEW.length} targets, ${steady.total} probes, ${steady.dups} duplicates; owned now A ${ownA!.owned}, B ${ownB!.owned}`,
    ])
      t.diagnostic(line);
    assert.equal(ownA!.owned + ownB!.owned, NEW.length, 'each target of the new set owned once');
  } finally {
    await Promise.all(daemons.map((d) => d.cleanup()));
    await rig.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
