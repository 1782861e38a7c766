// `berth run` whose --http address another program holds: a new user with something on
// 8420 already. berth says the address is taken and how to choose another, exits 1 at once,
// and does not warn that the engine's event stream failed when it was only stopping. It used to end with exit 70 on an internal error
// (logging the aborted event stream threw), and once that was fixed, it hung: a pass still
// running at the stop handed its compose file to the closed file watcher.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { requireEngine } from '../support/engine.js';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
/** Not a wall-clock assertion: only how long the test waits before it calls berth hung. */
const HANG_MS = 60_000;

let dir: string;
before(async () => {
  await requireEngine();
  dir = await mkdtemp(join(tmpdir(), 'berth-http-busy-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('berth run on a taken --http address says so, exits 1, and warns of nothing about its own stop', async (t) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const addr = `127.0.0.1:${(holder.address() as AddressInfo).port}`;

  // A stack, so a pass runs while berth stops. Its image is never pulled: berth stops first,
  // or the pull of a digest the registry lacks fails; no container is made either way.
  const name = `busy-${process.pid}`;
  const manifests = join(dir, 'manifests');
  await mkdir(join(manifests, name), { recursive: true });
  await writeFile(join(manifests, name, 'compose.yaml'), 'services:\n  web:\n    image: 127.0.0.1:5000/berth-http-busy/none\n');
  await writeFile(
    join(manifests, `${name}.yaml`),
    `apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: ${name}\nspec:\n  compose:\n    file: ${name}/compose.yaml\n  version: "1.0.0"\n  images:\n    web: 127.0.0.1:5000/berth-http-busy/none@sha256:${'0'.repeat(64)}\n`,
  );

  const child = spawn(process.execPath, [CLI, 'run', '--manifests', manifests, '--state', join(dir, 'state'), '--http', addr], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const hung = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(hung);

  assert.equal(signal, null, `berth did not exit by itself; its stderr:\n${stderr}`);
  assert.equal(code, 1, stderr);
  assert.match(stderr, new RegExp(`^berth: could not listen on ${addr} for the web console \\(EADDRINUSE: another program listens there\\); choose another address with --http HOST:PORT, or --http off$`, 'm'));
  const alarming = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    // The stack's own pass may say what it found (its pull fails); the stop itself is no failure.
    .filter((l) => l.level >= 60 || /event stream/.test(l.msg));
  assert.deepEqual(alarming.map((l) => l.msg), [], 'berth warned about its own stop');
});
