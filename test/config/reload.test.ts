import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterRounds, startDaemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';

test('reload without restart: TARGETS_FILE edits, SIGHUP and POST /-/reload add, remove and change targets; a broken file is rejected; same process', async () => {
  const web = await startHttpServer((req, res) => res.end(req.url));
  const yaml = (names: string[], extra = '') =>
    `defaults: { interval: 2 }\ntargets:\n${names.map((n) => `  - name: ${n}\n    http: { url: "${web.url}/${n}" }\n`).join('')}${extra}`;
  const dir = mkdtempSync(join(tmpdir(), 'nt-reload-'));
  const file = join(dir, 'targets.yaml');
  writeFileSync(file, yaml(['a', 'b']));
  const daemon = await startDaemon({ TARGETS_FILE: file, COLLECTION_INTERVAL: '2', COLLECT_TOKEN: 'reload-token-123' });
  const pid = daemon.proc.pid;
  const hits = (name: string) => web.requests.filter((r) => r.url === `/${name}`).length;
  const metrics = async () => (await daemon.get('/metrics')).text();
  const reloads = () => daemon.logs.filter((l) => String(l.msg).startsWith('configuration reloaded'));
  try {
    await waitFor(async () => /^telemetry_probe_success\{target="b",probe="http"\} 1$/m.test(await metrics()), "b's per-target series", 15_000, 100);

    // 1. Edit the file: c added, b removed. The watcher applies it, once.
    writeFileSync(file, yaml(['a', 'c']));
    await waitFor(() => hits('c') > 0, 'c probed after the file changed', 15_000, 100);
    await waitFor(() => reloads().length === 1, 'one reload logged', 5000, 100);
    assert.equal(reloads()[0]!.trigger, 'TARGETS_FILE changed');
    const bBefore = hits('b');
    await afterRounds(daemon, 2, 2, 'two rounds after the reload');
    assert.ok(hits('b') <= bBefore + 1, `b stopped (${bBefore} -> ${hits('b')})`);
    const text = await metrics();
    assert.doesNotMatch(text, /target="b"/, "b's per-target series are gone");
    assert.match(text, /^telemetry_config_reloads_total\{result="success"\} 1$/m);

    // 2. SIGHUP: d added, c's url changed (a change of settings).
    writeFileSync(file, yaml(['a', 'd']).replace(`${web.url}/a`, `${web.url}/a2`).replace('name: a\n', 'name: a\n'));
    daemon.proc.kill('SIGHUP');
    await waitFor(() => reloads().some((l) => l.trigger === 'SIGHUP'), 'a SIGHUP reload', 10_000, 100);
    const hup = reloads().find((l) => l.trigger === 'SIGHUP')!;
    assert.equal(hup.added, 1);
    assert.equal(hup.removed, 1);
    assert.equal(hup.changed, 1);
    await waitFor(() => hits('d') > 0 && hits('a2') > 0, 'd probed and a at its new url', 15_000, 100);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(reloads().length, 2, 'the watcher did not reload the file SIGHUP already applied');

    // 3. POST /-/reload needs the token, and reports the change.
    writeFileSync(file, yaml(['a', 'd', 'e']).replace(`${web.url}/a`, `${web.url}/a2`));
    assert.equal((await daemon.get('/-/reload', { method: 'POST' })).status, 401);
    const r = await daemon.get('/-/reload', { method: 'POST', headers: { authorization: 'Bearer reload-token-123' } });
    const body = (await r.json()) as { ok: boolean; added: string[]; targets: number };
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.deepEqual(body.added, ['e']);
    assert.equal(body.targets, 3);
    await waitFor(() => hits('e') > 0, 'e probed', 15_000, 100);

    // 4. A broken file is rejected with its errors; the running targets keep being probed.
    writeFileSync(file, `${yaml(['a', 'd'])}  - name: broken\n    probes: [tcp]\n    host: x.example\n`);
    const bad = await daemon.get('/-/reload', { method: 'POST', headers: { authorization: 'Bearer reload-token-123' } });
    const badBody = (await bad.json()) as { error: string; problems: string[] };
    assert.equal(bad.status, 400);
    assert.match(badBody.problems.join('\n'), /targets\[2\]: tcp: needs a port/);
    const eBefore = hits('e');
    await waitFor(() => hits('e') > eBefore + 1, 'e (from the last good file) still probed', 10_000, 100);
    const health = (await daemon.json<{ components: { config: { status: string; problem?: string } } }>('/health')).components.config;
    assert.equal(health.status, 'degraded');
    assert.match(health.problem ?? '', /rejected/);
    assert.match(await metrics(), /^telemetry_config_reloads_total\{result="failure"\} 1$/m);

    // 5. A file that would remove most targets (2 of 3, more than RELOAD_MAX_REMOVAL's half) is refused unless forced.
    writeFileSync(file, yaml(['a']));
    const mass = await daemon.get('/-/reload', { method: 'POST', headers: { authorization: 'Bearer reload-token-123' } });
    const massBody = (await mass.json()) as { problems: string[] };
    assert.equal(mass.status, 400, JSON.stringify(massBody));
    assert.match(massBody.problems.join('\n'), /would remove 2 of the 3 running targets \(67 %\), more than RELOAD_MAX_REMOVAL \(50 %\): if that is meant, send POST \/-\/reload\?force=1/);
    const forced = await daemon.get('/-/reload?force=1', { method: 'POST', headers: { authorization: 'Bearer reload-token-123' } });
    const forcedBody = (await forced.json()) as { removed: string[]; targets: number };
    assert.equal(forced.status, 200, JSON.stringify(forcedBody));
    assert.deepEqual([forcedBody.removed.sort(), forcedBody.targets], [['d', 'e'], 1]);

    assert.equal(daemon.proc.pid, pid);
    assert.ok(daemon.logs.every((l) => l.pid === undefined || l.pid === pid), 'one process all along');
    assert.equal(daemon.proc.exitCode, null);
  } finally {
    await daemon.cleanup();
    await web.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
