// What `berth status NAME` says of an operation in flight (src/controller/rollout.ts). berth
// applies a person's `berth rollback` as an update to a new revision, but the person asked for
// a rollback: the line says so, from the pending request while the images are pulled and from
// the revision's own record once it is written; an ordinary update stays an update.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StackStatus } from '../../src/api/types.js';
import { rolloutOf } from '../../src/controller/rollout.js';
import { decide } from '../../src/plan/decide.js';
import { buildStatus } from '../../src/plan/status.js';
import type { RevisionRecord } from '../../src/plan/types.js';
import { writeRevisionWithCause, writeRollbackRequest } from '../../src/store/rollback-request.js';
import { StateStore } from '../../src/store/state.js';
import { NOW, STACK, entry, observed, operation, pinned, progress, record, recorded, runningOf, target, valid } from './fixtures.js';

const rev1 = record(target({ version: '1.0.0' }), 1);
const rev2 = record(target({ version: '2.0.0', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } }), 2, rev1.services);
/** Revision 3 runs 1.0.0's content again. */
const rev3: RevisionRecord = { ...record(target({ version: '1.0.0' }), 3, rev2.services) };

let dir: string;
let state: StateStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-rollout-'));
  state = new StateStore(join(dir, 'state'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** A status written while the journal holds `op` (revision 2 ran before it). */
async function inFlight(op: ReturnType<typeof operation>): Promise<void> {
  const p = progress({ revision: 2, lastGoodRevision: 2, history: [entry(rev2, { outcome: 'Healthy' })] });
  const desired = valid(target({ version: '1.0.0' }));
  const plan = decide({ desired, recorded: recorded(rev2), observed: observed(runningOf(rev2)), progress: p, newOperationId: 'op', now: NOW });
  const s: StackStatus = buildStatus({ name: STACK, desired, recorded: recorded(rev2), observed: observed(runningOf(rev2)), plan, progress: plan.progress, now: NOW });
  await state.writeStatus({ stack: STACK }, { ...s, status: { ...s.status, operation: op } });
}

const request = { version: rev1.version, images: rev1.images, fromRevision: 2, toRevision: 1, requested: NOW.toISOString() };

test('while a rollback a person asked for pulls its images, the line names the revision they asked for', async () => {
  await writeRollbackRequest(state, STACK, request);
  await inFlight(operation(rev3, { step: 'pull' }));
  const r = await rolloutOf(state, STACK);
  assert.equal(r?.message, 'rollback to revision 1 (as revision 3): pull');
});

test('a request left over from a rollback the person then edited away does not make an update a rollback', async () => {
  await writeRollbackRequest(state, STACK, { ...request, version: '0.9.0' });
  await inFlight(operation(rev3, { step: 'pull' }));
  assert.equal((await rolloutOf(state, STACK))?.message, 'update to revision 3: pull');
});

test("once the revision is written, its record's cause says it is a rollback", async () => {
  await writeRollbackRequest(state, STACK, request);
  await writeRevisionWithCause(state, rev3, 'services: {}\n');
  await inFlight(operation(rev3, { step: 'composeUp' }));
  const r = await rolloutOf(state, STACK);
  assert.equal(r?.phase, 'Progressing');
  assert.equal(r?.message, 'rollback to revision 1 (as revision 3): composeUp');
});

test('an ordinary update stays an update, and berth rolling back by itself is a rollback', async () => {
  await state.writeRevision(rev3, 'services: {}\n');
  await inFlight(operation(rev3, { step: 'composeUp' }));
  assert.equal((await rolloutOf(state, STACK))?.message, 'update to revision 3: composeUp');
  await inFlight(operation(rev1, { step: 'composeUp', kind: 'rollback' }));
  assert.equal((await rolloutOf(state, STACK))?.message, 'rollback to revision 1: composeUp');
});
