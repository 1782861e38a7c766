// A quarantine holds until a person acts (issue 9, items 2 and 18). The story: a stack
// follows its channel and runs 1.0.0 as revision 1 (last good); 1.1.0 was applied as
// revision 2, failed its health gate and was rolled back. Each pass below is what the
// controller does: resolve the target from the feed answer and the status (channelTarget),
// then decide(), then buildStatus(). Feed answers come and go; only the person's spec (what
// it names, or a new berth.dev/retry value) releases the quarantine.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, HistoryEntry, StackStatus } from '../../src/api/types.js';
import { decide } from '../../src/plan/decide.js';
import { afterComposeUp } from '../../src/plan/progress.js';
import { buildStatus } from '../../src/plan/status.js';
import { channelTarget, releaseTarget, type ChannelRelease } from '../../src/plan/target.js';
import type { Desired, ObservedContainer, Plan, Progress, Recorded, RevisionRecord, Target } from '../../src/plan/types.js';
import {
  STACK,
  at,
  channelRelease,
  channelView,
  entry,
  following,
  iso,
  observed,
  operation,
  pinned,
  progress,
  record,
  release,
  runningOf,
  source,
  target,
  valid,
  type FollowOptions,
  type StackOptions,
} from './fixtures.js';

const r090 = channelRelease(release('0.9.0'));
const r100 = channelRelease(release('1.0.0'));
const r110 = channelRelease(release('1.1.0'));
const r200 = channelRelease(release('2.0.0'));

function withProvenance(t: Target, revision: number, previous: RevisionRecord['services'] = []): RevisionRecord {
  return { ...record(t, revision, previous), ...(t.release !== undefined ? { release: t.release } : {}) };
}

const rev1 = withProvenance(releaseTarget(source(following()), r100), 1);
const rev2 = withProvenance(releaseTarget(source(following()), r110), 2, rev1.services);
const records = new Map([rev1, rev2].map((r) => [r.revision, r]));

/** What the controller reads from disk for a journal. */
function recordedOf(p: Progress, revs: Map<number, RevisionRecord> = records): Recorded {
  const get = (n: number | undefined) => (n !== undefined ? revs.get(n) : undefined);
  const applied = get(p.revision);
  const lastGood = get(p.lastGoodRevision);
  const operating = get(p.operation?.revision);
  const latest = [...revs.values()].sort((a, b) => b.revision - a.revision)[0];
  return { ...(applied ? { applied } : {}), ...(lastGood ? { lastGood } : {}), ...(operating ? { operating } : {}), ...(latest ? { latest } : {}) };
}

/** Every container of `rec` running and inspected, started at `startedAt`. */
function healthy(rec: RevisionRecord, startedAt = iso(2)): ObservedContainer[] {
  return runningOf(rec, Object.fromEntries(rec.services.map((s) => [s.name, { details: { startedAt, restartCount: 0 } }])));
}

interface Pass {
  feed: readonly ChannelRelease[];
  journal: Progress;
  containers: ObservedContainer[];
  now: Date;
  spec?: FollowOptions;
  /** The revisions on disk; by default revisions 1 and 2. */
  revs?: Map<number, RevisionRecord>;
}

function desiredOf(p: Pass): Desired {
  const rec = recordedOf(p.journal, p.revs);
  const t = channelTarget(source(following(p.spec)), {
    releases: p.feed,
    view: channelView(),
    ...(rec.applied !== undefined ? { applied: rec.applied } : {}),
    ...(p.journal.quarantine !== undefined ? { quarantine: p.journal.quarantine } : {}),
    now: p.now,
  });
  return valid(t);
}

/** One reconcile pass: its plan and the status it writes. */
function pass(p: Pass): { plan: Plan; status: StackStatus } {
  const desired = desiredOf(p);
  const rec = recordedOf(p.journal, p.revs);
  const obs = observed(p.containers);
  const plan = decide({ desired, recorded: rec, observed: obs, progress: p.journal, newOperationId: 'op-next', now: p.now });
  const status = buildStatus({ name: STACK, desired, recorded: recordedOf(plan.progress, p.revs), observed: obs, plan, progress: plan.progress, now: p.now });
  return { plan, status };
}

function cond(s: StackStatus, type: string): Condition {
  const c = s.status.conditions.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition`);
  return c;
}

const rev1Healthy: HistoryEntry = entry(rev1, { started: iso(-3600), finished: iso(-3500), outcome: 'Healthy', reason: 'HealthGatePassed' });
const FULL = [r100, r110];

// 1.1.0 fails its gate while verified: berth rolls back to revision 1 in the same pass.
const failing = pass({
  feed: FULL,
  journal: progress({ revision: 2, lastGoodRevision: 1, operation: operation(rev2, { fromRevision: 1 }), history: [entry(rev2), rev1Healthy] }),
  containers: runningOf(rev2, { web: { state: 'exited', details: { restartCount: 0, exitCode: 1 } } }),
  now: at(1),
});
// The rollback's compose up finished; it is verified, then passes its gate.
const rollingBack = pass({ feed: FULL, journal: afterComposeUp(failing.plan.progress, at(2), 120), containers: healthy(rev1), now: at(3) });
const rolledBack = pass({ feed: FULL, journal: rollingBack.plan.progress, containers: healthy(rev1), now: at(30) });
const afterRollback = rolledBack.plan.progress;

describe('the story so far', () => {
  test('1.1.0 failed, was rolled back, and the rollback passed its gate: revision 1 runs, 1.1.0 is quarantined', () => {
    assert.equal(failing.plan.action, 'rollback');
    assert.equal(rollingBack.plan.action, 'verify', 'the rollback is verified, not superseded by the quarantine it made');
    assert.equal(afterRollback.operation, undefined);
    assert.equal(afterRollback.revision, 1);
    assert.equal(afterRollback.history[0]?.operation, 'rollback');
    assert.equal(afterRollback.history[0]?.outcome, 'Healthy');
    assert.equal(afterRollback.quarantine?.version, '1.1.0');
    assert.equal(afterRollback.quarantine?.revision, 2);
  });
});

describe('a quarantined version is not applied again by any feed answer', () => {
  const answers: Array<{ name: string; feed: ChannelRelease[] }> = [
    { name: 'an empty index', feed: [] },
    { name: 'an index from which 1.1.0 was yanked', feed: [r100] },
    { name: 'a staged-rollout subset that leaves this host out of 1.1.0', feed: [r100, r200] },
    { name: 'a replayed older index whose newest equals what runs', feed: [r090, r100] },
  ];
  for (const a of answers) {
    test(`after ${a.name}, and when 1.1.0 reappears, revision 1 keeps running and 1.1.0 stays quarantined`, () => {
      const omitted = pass({ feed: a.feed, journal: afterRollback, containers: healthy(rev1), now: at(60) });
      assert.equal(omitted.plan.action, 'none', a.name);
      assert.deepEqual(omitted.plan.steps, [], a.name);
      assert.deepEqual(omitted.plan.progress.quarantine, afterRollback.quarantine, `${a.name}: the quarantine holds`);
      assert.equal(omitted.plan.reason, 'RolledBack', a.name);

      const back = pass({ feed: FULL, journal: omitted.plan.progress, containers: healthy(rev1), now: at(120) });
      assert.equal(back.plan.action, 'none', `${a.name}: 1.1.0 reappeared`);
      assert.deepEqual(back.plan.steps, [], a.name);
      assert.deepEqual(back.plan.progress.quarantine, afterRollback.quarantine, a.name);
      assert.deepEqual([cond(back.status, 'UpdateAvailable').status, cond(back.status, 'UpdateAvailable').reason], ['True', 'Quarantined'], a.name);
      assert.match(cond(back.status, 'UpdateAvailable').message, /^version 1\.1\.0 \(minor\) on channel stable is quarantined: it failed \(ContainerExited\)/, a.name);
      assert.match(back.status.status.available?.waitingFor ?? '', /berth\.dev\/retry/, a.name);
      assert.deepEqual([cond(back.status, 'Degraded').status, cond(back.status, 'Degraded').reason], ['True', 'RolledBack'], a.name);
      assert.deepEqual([cond(back.status, 'Ready').status, cond(back.status, 'Ready').reason], ['False', 'RolledBack'], a.name);
      assert.equal(back.status.status.currentVersion, '1.0.0', a.name);
    });
  }

  test('a newer release that did not fail is applied; the quarantine of 1.1.0 still holds', () => {
    const r120 = channelRelease(release('1.2.0'));
    const next = pass({ feed: [r100, r110, r120], journal: afterRollback, containers: healthy(rev1), now: at(60) });
    assert.equal(next.plan.action, 'apply');
    assert.equal(next.plan.progress.operation?.kind, 'update');
    assert.equal(next.plan.progress.quarantine?.version, '1.1.0');
  });

  test('a quarantine written before intents were recorded holds too, and learns the intent it holds for', () => {
    const { intent: _none, ...legacy } = afterRollback.quarantine!;
    const journal = { ...afterRollback, quarantine: legacy };
    const omitted = pass({ feed: [r100], journal, containers: healthy(rev1), now: at(60) });
    assert.deepEqual(omitted.plan.progress.quarantine, afterRollback.quarantine);
    const back = pass({ feed: FULL, journal: omitted.plan.progress, containers: healthy(rev1), now: at(120) });
    assert.deepEqual(back.plan.steps, []);
  });

  test('a second release that fails joins the quarantine: neither is applied again by itself', () => {
    const r120 = channelRelease(release('1.2.0'));
    const feed = [r100, r110, r120];
    const applying = pass({ feed, journal: afterRollback, containers: healthy(rev1), now: at(60) });
    const write = applying.plan.steps.find((s) => s.kind === 'writeRevision');
    assert.ok(write?.kind === 'writeRevision');
    const rev3 = write.record;
    const revs = new Map([rev1, rev2, rev3].map((r) => [r.revision, r]));
    const failed = pass({
      feed,
      revs,
      journal: afterComposeUp(applying.plan.progress, at(61), 120),
      containers: runningOf(rev3, { web: { state: 'exited', details: { restartCount: 0, exitCode: 1 } } }),
      now: at(62),
    });
    assert.equal(failed.plan.action, 'rollback');
    const verifying = pass({ feed, revs, journal: afterComposeUp(failed.plan.progress, at(63), 120), containers: healthy(rev1, iso(63)), now: at(64) });
    const settled = pass({ feed, revs, journal: verifying.plan.progress, containers: healthy(rev1, iso(63)), now: at(90) });
    assert.equal(settled.plan.progress.operation, undefined);
    assert.deepEqual(settled.plan.progress.quarantine?.versions, ['1.2.0', '1.1.0']);

    const later = pass({ feed, revs, journal: settled.plan.progress, containers: healthy(rev1, iso(63)), now: at(200) });
    assert.deepEqual(later.plan.steps, [], '1.1.0 is not handed back to the feed by the failure of 1.2.0');
    assert.equal(cond(later.status, 'UpdateAvailable').reason, 'Quarantined');
  });

  test('switching mode names no other version: the quarantine holds', () => {
    const p = pass({ feed: FULL, journal: afterRollback, containers: healthy(rev1), now: at(60), spec: { mode: 'notify' } });
    assert.deepEqual(p.plan.progress.quarantine, afterRollback.quarantine);
    assert.deepEqual(p.plan.steps, []);
  });
});

describe('a person releases the quarantine', () => {
  test('by setting a berth.dev/retry value: revision 2, on disk, is applied again as an update', () => {
    const p = pass({ feed: FULL, journal: afterRollback, containers: healthy(rev1), now: at(60), spec: { annotations: { 'berth.dev/retry': 'after the fix' } } });
    assert.equal(p.plan.progress.quarantine, undefined);
    assert.equal(p.plan.action, 'resume');
    assert.equal(p.plan.progress.operation?.revision, 2);
  });

  test('by approving another version: that version is applied', () => {
    const p = pass({ feed: [r100, r110, r200], journal: afterRollback, containers: healthy(rev1), now: at(60), spec: { approve: '2.0.0' } });
    assert.equal(p.plan.progress.quarantine, undefined);
    assert.equal(p.plan.action, 'apply');
    assert.equal(p.plan.progress.history[0]?.version, '2.0.0');
  });
});

describe('while the failed update rolls back', () => {
  test('UpdateAvailable says 1.1.0 was quarantined, not that it is being applied', () => {
    for (const [name, s] of [
      ['the rollback being verified', rollingBack.status],
      ['after the rollback passed', rolledBack.status],
    ] as const) {
      const c = cond(s, 'UpdateAvailable');
      assert.equal(c.reason, 'Quarantined', name);
      assert.doesNotMatch(c.message, /being applied/, name);
    }
  });
});

describe('the retry annotation of a pinned stack', () => {
  const V2 = { web: pinned('web', 'c'), db: pinned('db', 'b') };
  const v1 = target({ version: '1.0.0' });
  const p1 = record(v1, 1);
  const v2 = (o: StackOptions = {}) => target({ version: '2.0.0', images: V2, ...o });
  const p2 = record(v2(), 2, p1.services);
  const revs = new Map([p1, p2].map((r) => [r.revision, r]));
  const failed = decide({
    desired: valid(v2({ annotations: { 'berth.dev/retry': 'attempt-1' } })),
    recorded: recordedOf(progress({ revision: 2, lastGoodRevision: 1, operation: operation(p2, { fromRevision: 1 }) }), revs),
    observed: observed(runningOf(p2, { web: { state: 'exited', details: { restartCount: 0, exitCode: 1 } } })),
    progress: progress({ revision: 2, lastGoodRevision: 1, operation: operation(p2, { fromRevision: 1 }), history: [entry(p2), entry(p1, { outcome: 'Healthy' })] }),
    now: at(1),
  });
  const q = failed.progress.quarantine;
  // The rollback to revision 1 passed.
  const back = progress({ revision: 1, lastGoodRevision: 1, ...(q !== undefined ? { quarantine: q } : {}), history: failed.progress.history });

  const rows: Array<{ name: string; annotations?: Record<string, string>; released: boolean }> = [
    { name: 'removed after the failed retry', released: false },
    { name: 'set to an empty value', annotations: { 'berth.dev/retry': '' }, released: false },
    { name: 'the value the failed attempt carried', annotations: { 'berth.dev/retry': 'attempt-1' }, released: false },
    { name: 'set to a new value', annotations: { 'berth.dev/retry': 'attempt-2' }, released: true },
  ];
  for (const row of rows) {
    test(`${row.name}: the quarantine ${row.released ? 'is released and 2.0.0 applied again' : 'holds and revision 1 keeps running'}`, () => {
      assert.equal(q?.retryToken, 'attempt-1');
      const plan = decide({
        desired: valid(v2(row.annotations !== undefined ? { annotations: row.annotations } : {})),
        recorded: recordedOf(back, revs),
        observed: observed(runningOf(p1)),
        progress: back,
        newOperationId: 'op-next',
        now: at(60),
      });
      if (row.released) {
        assert.equal(plan.progress.quarantine, undefined);
        assert.equal(plan.action, 'resume');
        assert.equal(plan.progress.operation?.revision, 2);
      } else {
        assert.deepEqual(plan.progress.quarantine, q);
        assert.equal(plan.action, 'none');
        assert.equal(plan.reason, 'RolledBack');
      }
    });
  }

  test('changing spec.version names something else: released', () => {
    const v3 = target({ version: '3.0.0', images: { web: pinned('web', 'd'), db: pinned('db', 'b') } });
    const plan = decide({ desired: valid(v3), recorded: recordedOf(back, revs), observed: observed(runningOf(p1)), progress: back, now: at(60) });
    assert.equal(plan.progress.quarantine, undefined);
    assert.equal(plan.action, 'apply');
  });
});
