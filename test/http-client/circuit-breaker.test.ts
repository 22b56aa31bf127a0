import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, CircuitOpenError, type BreakerPermit, type BreakerState } from '../../src/http-client/circuit-breaker.js';
import { BreakerRegistry } from '../../src/http-client/breaker-registry.js';

function setup(over: Partial<ConstructorParameters<typeof CircuitBreaker>[1]> = {}) {
  let now = 1_000_000;
  const transitions: string[] = [];
  const b = new CircuitBreaker('https://h:443', { failureThreshold: 5, successThreshold: 3, recoveryTimeoutMs: 60_000, halfOpenMaxCalls: 1, ...over }, () => now, (_h, from, to) =>
    transitions.push(`${from}->${to}`),
  );
  const call = (ok: boolean) => {
    const p = b.acquire();
    if (p instanceof CircuitOpenError) return 'rejected';
    if (ok) b.recordSuccess(p);
    else b.recordFailure(p);
    return 'ran';
  };
  return { b, call, transitions, advance: (ms: number) => (now += ms) };
}

test('opens after 5 consecutive failures; a success in between resets the count', () => {
  const { b, call } = setup();
  for (let i = 0; i < 4; i++) call(false);
  call(true);
  for (let i = 0; i < 4; i++) call(false);
  assert.equal(b.state, 'closed');
  call(false);
  assert.equal(b.state, 'open');
});

test('open fails fast with CIRCUIT_OPEN and says when the next trial may run', () => {
  const { b, call, advance } = setup();
  for (let i = 0; i < 5; i++) call(false);
  advance(10_000);
  const p = b.acquire();
  assert.ok(p instanceof CircuitOpenError);
  assert.equal(p.code, 'CIRCUIT_OPEN');
  assert.equal(p.retryInMs, 50_000);
});

test('after the recovery timeout: half-open, one trial at a time; a failure re-opens and restarts the timer', () => {
  const { b, call, advance, transitions } = setup();
  for (let i = 0; i < 5; i++) call(false);
  advance(59_999);
  assert.equal(b.state, 'open');
  advance(1);
  assert.equal(b.state, 'half_open');
  const trial = b.acquire() as BreakerPermit;
  assert.equal(trial.trial, true);
  assert.ok(b.acquire() instanceof CircuitOpenError, 'a second concurrent trial is refused');
  b.recordFailure(trial);
  assert.equal(b.state, 'open');
  advance(59_999);
  assert.equal(b.state, 'open', 'the recovery timer restarted at the failed trial');
  advance(1);
  assert.equal(b.state, 'half_open');
  assert.deepEqual(transitions, ['closed->open', 'open->half_open', 'half_open->open', 'open->half_open']);
});

test('half-open closes after 3 consecutive successes', () => {
  const { b, call, advance } = setup();
  for (let i = 0; i < 5; i++) call(false);
  advance(60_000);
  call(true);
  call(true);
  assert.equal(b.state, 'half_open');
  call(true);
  assert.equal(b.state, 'closed');
});

test('results from before a transition are ignored', () => {
  const { b, call } = setup();
  const slow = b.acquire() as BreakerPermit; // started while closed
  for (let i = 0; i < 5; i++) call(false);
  assert.equal(b.state, 'open');
  b.recordSuccess(slow);
  assert.equal(b.state, 'open', 'a late success does not close an open circuit');
  assert.equal(b.active, 0);
});

test('neutral results release a half-open trial without counting', () => {
  const { b, call, advance } = setup();
  for (let i = 0; i < 5; i++) call(false);
  advance(60_000);
  const t = b.acquire() as BreakerPermit;
  b.recordNeutral(t);
  assert.equal(b.state, 'half_open');
  assert.ok(!(b.acquire() instanceof CircuitOpenError), 'the trial slot is free again');
});

test('halfOpenMaxCalls bounds concurrent trials', () => {
  const { b, call, advance } = setup({ halfOpenMaxCalls: 2 });
  for (let i = 0; i < 5; i++) call(false);
  advance(60_000);
  assert.ok(!(b.acquire() instanceof CircuitOpenError));
  assert.ok(!(b.acquire() instanceof CircuitOpenError));
  assert.ok(b.acquire() instanceof CircuitOpenError);
});

test('reset closes a stuck circuit', () => {
  const { b, call } = setup();
  for (let i = 0; i < 5; i++) call(false);
  b.reset();
  assert.equal(b.state, 'closed');
  assert.equal(call(true), 'ran');
});

test('registry: idle breakers are evicted lazily, busy ones kept, size bounded; no timer per breaker', () => {
  let now = 0;
  const evicted: string[] = [];
  const states: BreakerState[] = [];
  const reg = new BreakerRegistry(
    { failureThreshold: 1, successThreshold: 1, recoveryTimeoutMs: 1000, halfOpenMaxCalls: 1, idleEvictMs: 10_000, maxBreakers: 3 },
    () => now,
    { evicted: (h) => evicted.push(h), transition: (_h, _f, to) => states.push(to) },
  );
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const busy = reg.get('a').acquire() as BreakerPermit;
  reg.get('b');
  now = 5000;
  reg.get('c');
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timersBefore);
  now = 12_000;
  reg.evict();
  assert.deepEqual(evicted, ['b'], 'a has a call in flight, c is recent');
  reg.get('a').recordSuccess(busy);
  reg.get('d');
  reg.get('e');
  reg.get('f');
  assert.ok(reg.size <= 3);
});
