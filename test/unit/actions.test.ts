// The person-facing actions every front end calls (src/controller/actions.ts): what waits for
// approval is read from berth's own status, and approving it writes exactly the value berth
// asked for into spec.approve, keeping every other byte of the person's manifest; it is
// refused, changing nothing, when nothing waits or another version waits.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StackStatus } from '../../src/api/types.js';
import { ActionError, approveWaiting, listWaiting, waitingApproval } from '../../src/controller/actions.js';
import { decide } from '../../src/plan/decide.js';
import { buildStatus } from '../../src/plan/status.js';
import { channelTarget, releaseTarget } from '../../src/plan/target.js';
import type { Desired, RevisionRecord, Target } from '../../src/plan/types.js';
import { setStackApprove } from '../../src/store/edit.js';
import { StateStore } from '../../src/store/state.js';
import {
  NOW,
  STACK,
  channelRelease,
  channelView,
  entry,
  following,
  observed,
  pinned,
  progress,
  record,
  recorded,
  release,
  runningOf,
  source,
  target,
  valid,
} from './fixtures.js';

const V2 = { web: pinned('web', 'c'), db: pinned('db', 'b') };
const v1 = target({ version: '1.0.0' });
const rev1 = record(v1, 1);
const running1 = progress({ revision: 1, lastGoodRevision: 1, history: [entry(rev1, { outcome: 'Healthy' })] });

/** The status berth writes after a pass over `t` while revision `applied` runs. */
function statusAfterPass(t: Target, applied: RevisionRecord, p = running1): StackStatus {
  const desired: Desired = valid(t);
  const plan = decide({ desired, recorded: recorded(applied), observed: observed(runningOf(applied)), progress: p, newOperationId: 'op', now: NOW });
  return buildStatus({ name: STACK, desired, recorded: recorded(applied), observed: observed(runningOf(applied)), plan, progress: plan.progress, now: NOW });
}

describe('waitingApproval reads what waits from the status berth wrote', () => {
  test('a pinned version in notify mode waits as itself', () => {
    const w = waitingApproval(statusAfterPass(target({ version: '2.0.0', images: V2, mode: 'notify' }), rev1));
    assert.equal(w?.version, '2.0.0');
    assert.equal(w?.approve, '2.0.0');
    assert.equal(w?.reason, 'ApprovalRequired');
    assert.equal(w?.from, 'manifest');
  });

  test('when an approval went stale, the approval names the new content by its key prefix, as berth asks', () => {
    const approved = target({ version: '2.0.0', images: V2, mode: 'notify', approve: '2.0.0' });
    const rev2 = record(approved, 2, rev1.services);
    const running2 = progress({ revision: 2, lastGoodRevision: 2, approval: { version: '2.0.0', targetKey: approved.key, since: NOW.toISOString() } });
    const changed = target({ version: '2.0.0', images: { ...V2, web: pinned('web', 'e') }, mode: 'notify', approve: '2.0.0' });
    const w = waitingApproval(statusAfterPass(changed, rev2, running2));
    assert.equal(w?.reason, 'ApprovalStale');
    assert.equal(w?.version, '2.0.0');
    assert.equal(w?.approve, `2.0.0@${changed.key.slice(0, 12)}`);
  });

  test('a major release on the channel waits with its channel, change and notes', () => {
    const r100 = channelRelease(release('1.0.0'));
    const r200 = channelRelease(release('2.0.0', { notes: 'New checkout.' }));
    const t100 = releaseTarget(source(following()), r100);
    const applied: RevisionRecord = { ...record(t100, 1), ...(t100.release !== undefined ? { release: t100.release } : {}) };
    const t = channelTarget(source(following()), { releases: [r100, r200], view: channelView(), applied, now: NOW });
    const w = waitingApproval(statusAfterPass(t, applied, progress({ revision: 1, lastGoodRevision: 1 })));
    assert.equal(w?.version, '2.0.0');
    assert.equal(w?.approve, '2.0.0');
    assert.equal(w?.from, 'channel');
    assert.equal(w?.channel, 'stable');
    assert.equal(w?.change, 'major');
    assert.equal(w?.notes, 'New checkout.');
  });

  test('nothing waits when the stack runs its target', () => {
    assert.equal(waitingApproval(statusAfterPass(v1, rev1)), undefined);
  });
});

const MANIFEST_TEXT = `# Shop: owned by the ops team
apiVersion: berth.dev/v1alpha1
kind: Stack
metadata:
  name: ${STACK}
spec:
  compose:
    file: shop/compose.yaml   # next to this file
  version: "2.0.0"    # CI bumps this
  images:
    web: ${V2.web}
    db: ${V2.db}
  mode: notify   # an admin approves every version
# end
`;

describe('approveWaiting', () => {
  let dir: string;
  let state: StateStore;
  let manifest: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-actions-'));
    state = new StateStore(join(dir, 'state'));
    manifest = join(dir, 'shop.yaml');
    await writeFile(manifest, MANIFEST_TEXT);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const writeStatus = async (s: StackStatus) => state.writeStatus({ stack: STACK }, { ...s, status: { ...s.status, manifest } });

  test('writes spec.approve after spec.mode and changes no other byte of the manifest', async () => {
    await writeStatus(statusAfterPass(target({ version: '2.0.0', images: V2, mode: 'notify' }), rev1));
    assert.deepEqual((await listWaiting({ state })).map((w) => [w.stack, w.version]), [[STACK, '2.0.0']]);
    const result = await approveWaiting({ state, name: STACK, version: '2.0.0' });
    assert.equal(result.changed, true);
    assert.equal(result.approve, '2.0.0');
    assert.equal(
      await readFile(manifest, 'utf8'),
      MANIFEST_TEXT.replace('  mode: notify   # an admin approves every version\n', '  mode: notify   # an admin approves every version\n  approve: "2.0.0"\n'),
    );
    // Again: the manifest already says so; nothing is written.
    assert.equal((await approveWaiting({ state, name: STACK })).changed, false);
  });

  test('refuses, writing nothing, when nothing waits', async () => {
    await writeStatus(statusAfterPass(v1, rev1));
    await assert.rejects(approveWaiting({ state, name: STACK }), (err: unknown) => {
      assert.ok(err instanceof ActionError);
      assert.equal(err.code, 'NothingWaits');
      assert.match(err.message, /nothing of stack "shop" waits for approval \(it runs 1\.0\.0\)/);
      return true;
    });
    assert.equal(await readFile(manifest, 'utf8'), MANIFEST_TEXT);
  });

  test('refuses, writing nothing, when another version waits than the one named', async () => {
    await writeStatus(statusAfterPass(target({ version: '2.0.0', images: V2, mode: 'notify' }), rev1));
    await assert.rejects(approveWaiting({ state, name: STACK, version: '3.0.0' }), (err: unknown) => {
      assert.ok(err instanceof ActionError);
      assert.equal(err.code, 'NotWaiting');
      assert.match(err.message, /version 3\.0\.0 of stack "shop" does not wait for approval; 2\.0\.0 does/);
      return true;
    });
    assert.equal(await readFile(manifest, 'utf8'), MANIFEST_TEXT);
  });

  test('in a git checkout it approves all the same and names the checkout; a stack without status is refused', async () => {
    await writeStatus(statusAfterPass(target({ version: '2.0.0', images: V2, mode: 'notify' }), rev1));
    await mkdir(join(dir, '.git'));
    const r = await approveWaiting({ state, name: STACK });
    assert.equal(r.changed, true);
    assert.equal(r.gitCheckout, await realpath(dir));
    await assert.rejects(approveWaiting({ state, name: 'nope' }), (err: unknown) => err instanceof ActionError && err.code === 'NoStatus');
  });
});

describe('setStackApprove', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-approve-edit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('replaces an existing approval in its own quoting, keeping the comment beside it', async () => {
    const file = join(dir, 's.yaml');
    const text = MANIFEST_TEXT.replace('  mode: notify', "  approve: '1.0.0'   # approved by Ana\n  mode: notify");
    await writeFile(file, text);
    const r = await setStackApprove(file, '2.0.0@0123456789ab');
    assert.deepEqual(r, { file, changed: true, before: '1.0.0' });
    assert.equal(await readFile(file, 'utf8'), text.replace("approve: '1.0.0'", "approve: '2.0.0@0123456789ab'"));
  });

  test('a stack without spec.mode gets the line before its first field', async () => {
    const file = join(dir, 's.yaml');
    const text = MANIFEST_TEXT.replace('  mode: notify   # an admin approves every version\n', '');
    await writeFile(file, text);
    await setStackApprove(file, '2.0.0');
    assert.equal(await readFile(file, 'utf8'), text.replace('spec:\n', 'spec:\n  approve: "2.0.0"\n'));
  });
});

