// The berth image's HEALTHCHECK program: it probes /healthz where `berth run` binds, from
// inside the container, and tells the engine healthy (0) or not (1, with why).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { healthzUrl } from '../../src/cli/healthcheck.js';
import { startWebServer } from '../../src/web/server.js';

const execFileAsync = promisify(execFile);
const program = fileURLToPath(new URL('../../src/cli/healthcheck.js', import.meta.url));

/** Runs the compiled program as the engine would, with BERTH_HTTP set. */
async function runHealthcheck(berthHttp: string): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await execFileAsync(process.execPath, [program], { env: { ...process.env, BERTH_HTTP: berthHttp } });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('a wildcard bind is probed on loopback, a specific one where it is', () => {
  assert.equal(healthzUrl('0.0.0.0:8420'), 'http://127.0.0.1:8420/healthz');
  assert.equal(healthzUrl('[::]:8420'), 'http://[::1]:8420/healthz');
  assert.equal(healthzUrl('127.0.0.1:9000'), 'http://127.0.0.1:9000/healthz');
  assert.equal(healthzUrl('[::1]:9000'), 'http://[::1]:9000/healthz');
});

test('healthy (exit 0) while berth serves /healthz at BERTH_HTTP, also when it binds every address', async () => {
  const server = await startWebServer({ addr: '127.0.0.1:0', log: pino({ level: 'silent' }), ready: () => false, routes: [] });
  try {
    const port = new URL(server.url).port;
    assert.deepEqual(await runHealthcheck(`127.0.0.1:${port}`), { code: 0, stderr: '' });
    assert.deepEqual(await runHealthcheck(`0.0.0.0:${port}`), { code: 0, stderr: '' });
  } finally {
    await server.close();
  }
});

test('unhealthy (exit 1) with the URL and the reason when nothing answers, or the console is off', async () => {
  const port = await closedPort();
  const down = await runHealthcheck(`0.0.0.0:${port}`);
  assert.equal(down.code, 1);
  assert.match(down.stderr, new RegExp(`GET http://127\\.0\\.0\\.1:${port}/healthz failed: .*ECONNREFUSED`));

  const off = await runHealthcheck('off');
  assert.equal(off.code, 1);
  assert.match(off.stderr, /the console is off/);
});
