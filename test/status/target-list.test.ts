import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figuresOf } from '../../src/probes/registry.js';
import { listTargets, type TargetListQuery } from '../../src/status/target-list.js';
import type { ListedRow } from '../../src/status/target-rows.js';

const row = (name: string, status: ListedRow['status'], rtt: number | null): ListedRow => ({
  name,
  host: name,
  probes: ['icmp'],
  interval_s: 60,
  status,
  state_since: null,
  failing: [],
  crossed: [],
  thresholds: {},
  last: rtt === null ? { time: null } : { time: null, rtt_ms: rtt },
  owner: null,
  available: true,
});

const rows = [row('a', 'ok', 5), row('b', 'failing', null), row('c', 'degraded', 80), row('d', 'ok', null), row('e', 'unknown', 20), row('f', 'failing', 1)];
const order = (q: Partial<TargetListQuery>) => listTargets(rows, { offset: 0, limit: 100, sort: 'status', order: 'asc', ...q }, figuresOf()).page.map((r) => r.name);

test('the overview order: failing, then degraded first; a sort by a figure puts rows without a value last in either direction', () => {
  assert.deepEqual(order({}), ['b', 'f', 'c', 'e', 'a', 'd'], 'status: failing, degraded, unknown, ok; ties by name');
  assert.deepEqual(order({ sort: 'rtt', order: 'asc' }), ['f', 'a', 'e', 'c', 'b', 'd']);
  assert.deepEqual(order({ sort: 'rtt', order: 'desc' }), ['c', 'e', 'a', 'f', 'b', 'd'], 'the slowest first, not the rows without an RTT');
});
