// An approval binds to the content it was given for (issue 9, item 7). `approve: "2.0.0"`
// covers the content berth first applies under 2.0.0; other digests or another compose file
// under the same version wait for a new approval (reason ApprovalStale), which the person
// gives by naming the content: `approve: "2.0.0@<key prefix>"`, as the message says.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Approval, StackStatus } from '../../src/api/types.js';
import { decide } from '../../src/plan/decide.js';
import { chooseRelease } from '../../src/plan/offer.js';
import { progressOf } from '../../src/plan/progress.js';
import { buildStatus } from '../../src/plan/status.js';
import { channelTarget, releaseTarget, type ChannelRelease } from '../../src/plan/target.js';
import type { Desired, Plan, Progress, RevisionRecord, Target } from '../../src/plan/types.js';
import {
  NOW,
  STACK,
  channelRelease,
  channelView,
  composeDoc,
  entry,
  feedImage,
  following,
  iso,
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
  type FollowOptions,
} from './fixtures.js';

const V2 = { web: pinned('web', 'c'), db: pinned('db', 'b') };
const V2_CHANGED = { web: pinned('web', 'e'), db: pinned('db', 'b') };
const v1 = target({ version: '1.0.0' });
const rev1 = record(v1, 1);

function notify(approve: string | undefined, images = V2, compose = composeDoc()): Target {
  return target({ version: '2.0.0', images, mode: 'notify', ...(approve !== undefined ? { approve } : {}) }, compose);
}

const approved = notify('2.0.0');
const rev2 = record(approved, 2, rev1.services);
/** 2.0.0 as approved and applied: revision 2 runs, and the approval covers its content. */
const approvalOf2: Approval = { version: '2.0.0', targetKey: approved.key, since: iso(-600) };
const running2 = progress({
  revision: 2,
  lastGoodRevision: 2,
  approval: approvalOf2,
  history: [entry(rev2, { outcome: 'Healthy' }), entry(rev1, { outcome: 'Healthy' })],
});

function plan(desired: Desired, p: Progress, applied: RevisionRecord, latest: RevisionRecord = applied): Plan {
  return decide({ desired, recorded: recorded(applied, latest), observed: observed(runningOf(applied)), progress: p, newOperationId: 'op-next', now: NOW });
}

describe('an approval is recorded with the content it covered', () => {
  test('applying an approved version records its content key in the journal (status.approval)', () => {
    const p = plan(valid(approved), progress({ revision: 1, lastGoodRevision: 1 }), rev1);
    assert.equal(p.action, 'apply');
    assert.deepEqual(p.progress.approval, { version: '2.0.0', targetKey: approved.key, since: NOW.toISOString() });
  });

  test('an approved version that already runs (berth upgraded) is bound to what runs', () => {
    const p = plan(valid(approved), progress({ revision: 2, lastGoodRevision: 2 }), rev2);
    assert.equal(p.reason, 'InSync');
    assert.deepEqual(p.progress.approval, { version: '2.0.0', targetKey: approved.key, since: NOW.toISOString() });
  });

  test('the status carries it, and a restarted berth reads it back', () => {
    const p = plan(valid(approved), running2, rev2);
    const s: StackStatus = buildStatus({ name: STACK, desired: valid(approved), recorded: recorded(rev2), observed: observed(runningOf(rev2)), plan: p, progress: p.progress, now: NOW });
    assert.deepEqual(s.status.approval, approvalOf2);
    assert.deepEqual(progressOf(s).approval, approvalOf2);
  });
});

describe('changed content under an approved version waits for a new approval', () => {
  const changedImages = notify('2.0.0', V2_CHANGED);
  const changedCompose = notify('2.0.0', V2, composeDoc({ admin: { image: 'registry.local/admin:latest', privileged: true } }));
  const rows: Array<{ name: string; t: Target }> = [
    { name: 'a digest changed', t: changedImages },
    { name: 'the compose file gained a privileged service', t: changedCompose },
  ];
  for (const row of rows) {
    test(`${row.name}: revision 2 keeps running, reason ApprovalStale, and the message says how to approve again`, () => {
      assert.notEqual(row.t.key, approved.key);
      const p = plan(valid(row.t), running2, rev2);
      assert.equal(p.action, 'none', row.name);
      assert.deepEqual(p.steps, [], row.name);
      assert.equal(p.reason, 'ApprovalStale', row.name);
      assert.equal(p.awaitingApproval, true, row.name);
      assert.match(p.message, /^the content of 2\.0\.0 changed since it was approved /, row.name);
      assert.ok(p.message.endsWith(`review it, then set spec.approve to "2.0.0@${row.t.key.slice(0, 12)}"`), p.message);
      assert.deepEqual(p.progress.approval, approvalOf2, 'the approval still covers only what it covered');
    });
  }

  test('approving the new content by its key prefix applies it and binds the approval to it', () => {
    const t = notify(`2.0.0@${changedImages.key.slice(0, 12)}`, V2_CHANGED);
    const p = plan(valid(t), running2, rev2);
    assert.equal(p.action, 'apply');
    assert.deepEqual(p.progress.approval, { version: '2.0.0', targetKey: t.key, since: NOW.toISOString() });
  });

  const prefixRows: Array<{ name: string; approve: string; message: RegExp }> = [
    { name: 'the key prefix of other content', approve: `2.0.0@${approved.key.slice(0, 12)}`, message: /spec\.approve names content [0-9a-f]{12} of version 2\.0\.0, but its content is / },
    { name: 'a key prefix too short to mean anything', approve: `2.0.0@${changedImages.key.slice(0, 4)}`, message: /at least 8 hex digits/ },
    { name: 'an empty key prefix', approve: '2.0.0@', message: /spec\.approve names content {2}of version 2\.0\.0 \(a content key needs at least 8 hex digits\)/ },
    { name: 'a key prefix that is no hex', approve: '2.0.0@not-a-content-key', message: /spec\.approve names content not-a-content-key of version 2\.0\.0, but its content is / },
  ];
  for (const row of prefixRows) {
    test(`approving ${row.name} applies nothing (ApprovalStale)`, () => {
      const p = plan(valid(notify(row.approve, V2_CHANGED)), running2, rev2);
      assert.deepEqual(p.steps, []);
      assert.equal(p.reason, 'ApprovalStale');
      assert.match(p.message, row.message);
    });
  }

  test('a content approval is an approval of the version: the pinned target is not held for approval', () => {
    const t = notify(`2.0.0@${approved.key.slice(0, 8)}`);
    assert.equal(t.hold, undefined);
    const p = plan(valid(t), progress({ revision: 1, lastGoodRevision: 1 }), rev1);
    assert.equal(p.action, 'apply');
  });

  test('a pinned stack in auto mode needs no approval: a leftover approve does not hold the edit', () => {
    const t = target({ version: '2.0.0', images: V2_CHANGED, mode: 'auto', approve: '2.0.0' });
    const p = plan(valid(t), running2, rev2);
    assert.equal(p.action, 'apply');
  });

  test('the same content approved again (spec.approve unchanged) stays in sync', () => {
    const p = plan(valid(approved), running2, rev2);
    assert.equal(p.reason, 'InSync');
    assert.deepEqual(p.steps, []);
  });
});

describe('a stack that follows a channel', () => {
  const r100 = channelRelease(release('1.0.0'));
  const r200 = channelRelease(release('2.0.0'));
  const r200changed = channelRelease(release('2.0.0', { images: { web: feedImage('web', '2.0.0-rebuilt') } }));
  const applied = (t: Target, revision: number): RevisionRecord => ({ ...record(t, revision), ...(t.release !== undefined ? { release: t.release } : {}) });

  function follow(o: FollowOptions, feed: ChannelRelease[], rev: RevisionRecord): Target {
    return channelTarget(source(following(o)), { releases: feed, view: channelView(), applied: rev, now: NOW });
  }

  test('an approved major whose release was re-published with other digests waits for a new approval', () => {
    const t200 = releaseTarget(source(following({ approve: '2.0.0' })), r200);
    const rev = applied(t200, 2);
    const p = progress({ revision: 2, lastGoodRevision: 2, approval: { version: '2.0.0', targetKey: t200.key, since: iso(-600) } });
    const t = follow({ approve: '2.0.0' }, [r100, r200changed], rev);
    assert.notEqual(t.key, rev.targetKey);
    const result = plan(valid(t), p, rev);
    assert.deepEqual(result.steps, []);
    assert.equal(result.reason, 'ApprovalStale');
    const s = buildStatus({ name: STACK, desired: valid(t), recorded: recorded(rev), observed: observed(runningOf(rev)), plan: result, progress: result.progress, now: NOW });
    const waiting = s.status.conditions.find((c) => c.type === 'AwaitingApproval');
    assert.equal(waiting?.status, 'True');
    assert.equal(waiting?.reason, 'ApprovalStale');
    assert.match(waiting?.message ?? '', /changed since it was approved/);
  });

  test('in notify mode without any approve, the version that runs re-published with other content is not applied', () => {
    const t100 = releaseTarget(source(following({ mode: 'notify' })), r100);
    const rev = applied(t100, 1);
    const r100changed = channelRelease(release('1.0.0', { images: { web: feedImage('web', '1.0.0-rebuilt') } }));
    const t = follow({ mode: 'notify' }, [r100changed], rev);
    const result = plan(valid(t), progress({ revision: 1, lastGoodRevision: 1 }), rev);
    assert.deepEqual(result.steps, []);
    assert.equal(result.reason, 'ApprovalStale');
    assert.match(result.message, /the content of 1\.0\.0 changed since revision 1 applied it/);
  });

  test('the offer reads a content approval as an approval of its version', () => {
    const offer = chooseRelease({ releases: [r100.release, r200.release], current: '1.0.0', spec: following({ approve: '2.0.0@0123abcd' }).spec, now: NOW });
    assert.equal(offer.target?.spec.version, '2.0.0');
  });
});
