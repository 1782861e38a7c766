// Reading a stack's status on every pass: an idle berth re-reads an unchanged status.yaml
// every resync, and parsing it as YAML was most of an idle pass's CPU (50 services: about
// 50 ms in a process that rarely runs the code). An unchanged file is parsed once; a changed
// one is read anew; callers may change what they get without changing the next read.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StackStatus } from '../../src/api/types.js';
import { StateStore } from '../../src/store/state.js';

function status(version: string): StackStatus {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'StackStatus',
    metadata: { name: 'shop' },
    status: {
      mode: 'auto',
      currentVersion: version,
      services: [],
      conditions: [{ type: 'Ready', status: 'True', reason: 'Converged', message: 'runs', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  } as StackStatus;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-status-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('an unchanged status file is parsed once, however often it is read', async () => {
  const state = new StateStore(dir);
  await new StateStore(dir).writeStatus({ stack: 'shop' }, status('1.0.0'));
  for (let i = 0; i < 5; i++) assert.equal((await state.readStatus({ stack: 'shop' }))?.status.currentVersion, '1.0.0');
  assert.equal(state.statusParses, 1);
});

test('a status this berth wrote is read back without parsing it, as a parse would give it', async () => {
  const state = new StateStore(dir);
  const written = { ...status('1.0.0'), status: { ...status('1.0.0').status, lastError: undefined } };
  await state.writeStatus({ stack: 'shop' }, written);
  const read = await state.readStatus({ stack: 'shop' });
  assert.equal(state.statusParses, 0);
  assert.deepEqual(read, await new StateStore(dir).readStatus({ stack: 'shop' }), 'the same as a fresh parse of the file');
  assert.ok(!('lastError' in read!.status), 'an undefined field is absent, as in the file');
});

test('a status file changed on disk, by berth or anyone, is read anew', async () => {
  const state = new StateStore(dir);
  await state.writeStatus({ stack: 'shop' }, status('1.0.0'));
  await state.readStatus({ stack: 'shop' });
  await state.writeStatus({ stack: 'shop' }, status('1.1.0'));
  assert.equal((await state.readStatus({ stack: 'shop' }))?.status.currentVersion, '1.1.0');
  await writeFile(state.statusPath({ stack: 'shop' }), (await import('yaml')).stringify(status('1.2.0')));
  assert.equal((await state.readStatus({ stack: 'shop' }))?.status.currentVersion, '1.2.0');
});

test('changing a status that was read does not change what the next read returns', async () => {
  const state = new StateStore(dir);
  await state.writeStatus({ stack: 'shop' }, status('1.0.0'));
  const first = await state.readStatus({ stack: 'shop' });
  first!.status.currentVersion = 'edited in memory';
  first!.status.conditions.push({ type: 'Degraded', status: 'True', reason: 'X', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z' });
  const again = await state.readStatus({ stack: 'shop' });
  assert.equal(again?.status.currentVersion, '1.0.0');
  assert.equal(again?.status.conditions.length, 1);
});

test('a removed status file reads as none', async () => {
  const state = new StateStore(dir);
  await state.writeStatus({ stack: 'shop' }, status('1.0.0'));
  await state.readStatus({ stack: 'shop' });
  await state.removeStatus({ stack: 'shop' });
  assert.equal(await state.readStatus({ stack: 'shop' }), undefined);
});
