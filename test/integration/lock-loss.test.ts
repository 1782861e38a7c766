// A berth that loses its state lock stops acting: another berth may be converging the same
// stacks now. `berth run` as a real process, with a short lease; its lock is taken from it
// the way a takeover after an expired lease would (the file now names another holder).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BerthProcess, killAllBerthProcesses } from '../support/berth-process.js';
import { requireEngine } from '../support/engine.js';

let dir: string | undefined;

before(async () => {
  await requireEngine();
  dir = await mkdtemp(join(tmpdir(), 'berth-lock-loss-'));
});

after(async () => {
  await killAllBerthProcesses();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('berth run whose lock now names another berth stops with a fatal line naming the state folder, and exits 1', async () => {
  assert.ok(dir);
  const manifests = join(dir, 'manifests');
  const state = join(dir, 'state');
  await mkdir(manifests, { recursive: true });
  const p = BerthProcess.start({ manifests, state, logFile: join(dir, 'berth.log'), env: { BERTH_LOCK_LEASE_MS: '600' } });
  await p.started();

  const other = { pid: 4242, host: 'elsewhere', pidNs: 'pid:[1]', leaseMs: 600, started: '2026-02-02T00:00:00.000Z', command: 'berth run' };
  await writeFile(join(state, '.lock'), `${JSON.stringify(other)}\n`);

  const exit = await Promise.race([
    p.exited,
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000).unref()),
  ]);
  assert.deepEqual(exit, { code: 1, signal: null }, `berth went on after losing its lock:\n${await p.log()}`);
  const log = await p.log();
  const fatal = log.split('\n').find((l) => l.includes('"level":60'));
  assert.ok(fatal !== undefined, `no fatal line in:\n${log}`);
  assert.match(fatal, new RegExp(`lost the lock on state folder ${state}`));
  assert.match(fatal, /berth pid 4242 on host elsewhere/);
  assert.match(fatal, /Run one berth per state folder/);
  assert.match(log, /"msg":"berth operator stopped"/);
});
