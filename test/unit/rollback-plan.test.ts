// decide() and decideOnFailure() through an update's life: started, verified by the health
// gate, passed, or failed and rolled back to the last good revision (or quarantined), and the
// status berth reports at each point. Plain journals in, the real planner under test.
//
// The story of most cases: version 1.0.0 runs as revision 1 and passed the gate (last good);
// version 2.0.0 moves web to digest c and was applied as revision 2, whose compose up
// finished at NOW; the stack asks for 10 s of health within 120 s. `at(s)` is s seconds later.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, HistoryEntry, Operation, StackStatus } from '../../src/api/types.js';
import { decide, decideOnFailure } from '../../src/plan/decide.js';
import { afterComposeUp, withStep } from '../../src/plan/progress.js';
import { buildStatus } from '../../src/plan/status.js';
import type { ContainerDetailsView, Desired, ObservedContainer, Plan, PlanInput, Progress, Recorded, RevisionRecord, Step, Target } from '../../src/plan/types.js';
import {
  STACK,
  at,
  entry,
  invalid,
  iso,
  observed,
  operation,
  pinned,
  progress,
  record,
  runningOf,
  target,
  valid,
  type ContainerOptions,
  type StackOptions,
} from './fixtures.js';

const V2_IMAGES = { web: pinned('web', 'c'), db: pinned('db', 'b') };
const v1 = target({ version: '1.0.0' });
const rev1 = record(v1, 1);
const v2 = target({ version: '2.0.0', images: V2_IMAGES });
const rev2 = record(v2, 2, rev1.services);
const v3 = target({ version: '3.0.0', images: { web: pinned('web', 'd'), db: pinned('db', 'b') } });

/** v2 with other options (mode, rollback, annotations): the same target key unless images or version change. */
function v2with(o: StackOptions): Target {
  return target({ version: '2.0.0', images: V2_IMAGES, ...o });
}

const HEALTHY: ContainerDetailsView = { startedAt: iso(-1), restartCount: 0 };

/** What runs of `rec`, healthy and inspected as while verifying; `tweak` changes one service. */
function inspected(rec: RevisionRecord, tweak: Record<string, (ContainerOptions & { detail?: Partial<ContainerDetailsView> }) | null> = {}): ObservedContainer[] {
  const all: Record<string, ContainerOptions | null> = {};
  for (const s of rec.services) {
    const t = tweak[s.name];
    if (t === null) {
      all[s.name] = null;
      continue;
    }
    const { detail, ...options } = t ?? {};
    all[s.name] = { health: 'healthy', details: { ...HEALTHY, ...detail }, ...options };
  }
  return runningOf(rec, all);
}

const rev1Healthy: HistoryEntry = entry(rev1, { started: iso(-3600), finished: iso(-3500), outcome: 'Healthy', reason: 'HealthGatePassed', message: 'revision 1 stayed healthy' });
const rev2Progressing: HistoryEntry = entry(rev2, { started: iso(-30) });

/** The journal while revision 2 (an update from last-good revision 1) is verified. */
function verifyingRev2(o: Partial<Operation> = {}): Progress {
  return progress({
    revision: 2,
    lastGoodRevision: 1,
    operation: operation(rev2, { fromRevision: 1, ...o }),
    history: [rev2Progressing, rev1Healthy],
  });
}

/** What is on disk while revision 2 is verified: it is applied and in flight, revision 1 is last good. */
const recordedVerifying: Recorded = { applied: rev2, latest: rev2, lastGood: rev1, operating: rev2 };

interface Input {
  desired?: Desired;
  recorded?: Recorded;
  containers?: ObservedContainer[];
  progress?: Progress;
  probes?: PlanInput['probes'];
  now?: Date;
}

function input(i: Input): PlanInput & { progress: Progress } {
  return {
    desired: i.desired ?? valid(v2),
    recorded: i.recorded ?? recordedVerifying,
    observed: observed(i.containers ?? inspected(rev2)),
    progress: i.progress ?? verifyingRev2(),
    ...(i.probes !== undefined ? { probes: i.probes } : {}),
    newOperationId: 'op-next',
    now: i.now ?? at(1),
  };
}

function run(i: Input): Plan {
  return decide(input(i));
}

function kinds(plan: Plan): Step['kind'][] {
  return plan.steps.map((s) => s.kind);
}

/** The plan runs `rec` as it is on disk: pulls its pinned images, runs compose up on it, writes nothing. */
function assertRunsRevision(plan: Plan, rec: RevisionRecord): void {
  assert.deepEqual(plan.steps, [
    { kind: 'pull', images: rec.services.flatMap((s) => (s.pinned !== undefined ? [s.pinned] : [])) },
    { kind: 'composeUp', revision: rec.revision, project: rec.project, projectDirectory: rec.projectDirectory },
  ]);
}

const exitedWeb = () => inspected(rev2, { web: { state: 'exited', detail: { exitCode: 1 } } });
const EXITED = 'container shop-web-1 (web) exited with code 1';

describe('an update begins', () => {
  test('a new target starts an update at its pull step, journalled as Progressing before any step runs; the plan pulls, writes the revision, runs compose up', () => {
    const before = progress({ revision: 1, lastGoodRevision: 1, history: [rev1Healthy] });
    const plan = run({ recorded: { applied: rev1, latest: rev1, lastGood: rev1 }, containers: runningOf(rev1), progress: before, now: at(0) });
    assert.equal(plan.action, 'apply');
    assert.equal(plan.reason, 'Applying');
    assert.deepEqual(kinds(plan), ['pull', 'writeRevision', 'composeUp']);
    assert.deepEqual(plan.steps[0], { kind: 'pull', images: [pinned('web', 'c'), pinned('db', 'b')] });
    const write = plan.steps[1] as Extract<Step, { kind: 'writeRevision' }>;
    assert.equal(write.record.revision, 2);
    assert.equal(write.record.targetKey, v2.key);
    assert.deepEqual(plan.steps[2], { kind: 'composeUp', revision: 2, project: STACK, projectDirectory: '/srv/stacks/shop' });
    assert.deepEqual(plan.progress, {
      revision: 1,
      lastGoodRevision: 1,
      operation: {
        id: 'op-next',
        kind: 'update',
        revision: 2,
        fromRevision: 1,
        targetKey: v2.key,
        desiredKey: v2.key,
        step: 'pull',
        started: iso(0),
        stepStarted: iso(0),
      },
      history: [{ revision: 2, version: '2.0.0', operation: 'update', started: iso(0), outcome: 'Progressing' }, rev1Healthy],
    });
  });
});

describe('an update is verified by the health gate', () => {
  test('while the gate is pending, berth takes no step and journals when the healthy stretch began', () => {
    const containers = inspected(rev2, { db: { detail: { restartCount: 4, startedAt: iso(-600) } } });
    const [web, db] = containers.map((c) => c.id) as [string, string];
    const plan = run({ containers, now: at(3) });
    assert.equal(plan.action, 'verify');
    assert.equal(plan.reason, 'Verifying');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.message, 'verifying revision 2: healthy for 0s of 10s');
    assert.deepEqual(plan.progress, {
      ...verifyingRev2(),
      operation: { ...operation(rev2, { fromRevision: 1 }), healthySince: iso(3), restartBaseline: { [web]: 0, [db]: 4 } },
    });
  });

  test('a stretch already begun keeps its start while health lasts', () => {
    const plan = run({ progress: verifyingRev2({ healthySince: iso(3) }), now: at(8) });
    assert.equal(plan.action, 'verify');
    assert.equal(plan.progress.operation?.healthySince, iso(3));
    assert.equal(plan.message, 'verifying revision 2: healthy for 5s of 10s');
  });

  test('a sample that is not healthy forgets the stretch, so the next healthy one starts it again', () => {
    const plan = run({ progress: verifyingRev2({ healthySince: iso(3) }), containers: inspected(rev2, { web: { health: 'starting' } }), now: at(8) });
    assert.equal(plan.action, 'verify');
    assert.equal(plan.progress.operation?.healthySince, undefined);
    assert.equal(plan.progress.operation?.step, 'verify');
  });

  test('when the gate passes, the operation ends: revision 2 is last good, its history entry Healthy, nothing else to do', () => {
    const plan = run({ progress: verifyingRev2({ healthySince: iso(3) }), now: at(13) });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'InSync');
    assert.deepEqual(plan.steps, []);
    assert.deepEqual(plan.progress, {
      revision: 2,
      lastGoodRevision: 2,
      history: [
        {
          ...rev2Progressing,
          outcome: 'Healthy',
          reason: 'HealthGatePassed',
          message: 'revision 2 stayed healthy for 10s (2 container(s))',
          finished: iso(13),
        },
        rev1Healthy,
      ],
    });
  });
});

describe('a failed update rolls back to the last good revision', () => {
  const failures: Array<{ name: string; containers: () => ObservedContainer[]; now: number; reason: string; message: string }> = [
    { name: 'a container exited with code 1', containers: exitedWeb, now: 1, reason: 'ContainerExited', message: EXITED },
    {
      name: 'a container is unhealthy',
      containers: () => inspected(rev2, { web: { health: 'unhealthy', detail: { lastHealthOutput: 'HTTP 500' } } }),
      now: 1,
      reason: 'Unhealthy',
      message: 'container shop-web-1 (web) is unhealthy: HTTP 500',
    },
    {
      name: 'a health check is still starting at the deadline',
      containers: () => inspected(rev2, { web: { health: 'starting' } }),
      now: 120,
      reason: 'ProgressDeadlineExceeded',
      message: `revision 2 was not healthy by ${iso(120)}: shop-web-1 is starting`,
    },
  ];
  for (const f of failures) {
    test(`when ${f.name}: action rollback to revision 1, the update quarantined (${f.reason}) and its history entry RolledBack`, () => {
      const plan = run({ containers: f.containers(), now: at(f.now) });
      assert.equal(plan.action, 'rollback');
      assert.equal(plan.reason, 'RollingBack');
      assertRunsRevision(plan, rev1);
      assert.equal(
        plan.message,
        `revision 2 (version 2.0.0) failed (${f.reason}: ${f.message}); rolling back to revision 1 (version 1.0.0)`,
      );
      assert.deepEqual(plan.progress, {
        revision: 2,
        lastGoodRevision: 1,
        operation: {
          id: 'op-next',
          kind: 'rollback',
          revision: 1,
          fromRevision: 2,
          targetKey: v1.key,
          desiredKey: v2.key,
          step: 'pull',
          started: iso(f.now),
          stepStarted: iso(f.now),
        },
        quarantine: { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, reason: f.reason, message: f.message, since: iso(f.now) },
        history: [
          { revision: 1, version: '1.0.0', operation: 'rollback', started: iso(f.now), outcome: 'Progressing' },
          {
            ...rev2Progressing,
            outcome: 'RolledBack',
            reason: f.reason,
            message: `${f.message}; rolled back to revision 1 (version 1.0.0)`,
            finished: iso(f.now),
          },
          rev1Healthy,
        ],
      });
    });
  }

  test('the quarantine keeps the berth.dev/retry annotation the failed spec carried, so a new value can ask for a retry', () => {
    const plan = run({ desired: valid(v2with({ annotations: { 'berth.dev/retry': 'attempt-1' } })), containers: exitedWeb() });
    assert.equal(plan.action, 'rollback');
    assert.equal(plan.progress.quarantine?.retryToken, 'attempt-1');
  });

  test('a rollback being verified reports RollingBack, not Verifying', () => {
    const rollingBack = progress({
      revision: 1,
      lastGoodRevision: 1,
      operation: operation(rev1, { kind: 'rollback', fromRevision: 2, desiredKey: v2.key }),
      quarantine: { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, reason: 'ContainerExited', message: EXITED, since: iso(-5) },
      history: [entry(rev1, { operation: 'rollback', started: iso(-5) }), entry(rev2, { outcome: 'RolledBack', reason: 'ContainerExited' }), rev1Healthy],
    });
    const plan = run({ progress: rollingBack, recorded: { applied: rev1, latest: rev2, lastGood: rev1, operating: rev1 }, containers: inspected(rev1), now: at(2) });
    assert.equal(plan.action, 'verify');
    assert.equal(plan.reason, 'RollingBack');
    assert.deepEqual(plan.steps, []);
  });
});

describe('a failed update that cannot be rolled back stops, and is never retried by itself', () => {
  const rows: Array<{ name: string; desired: Desired; recorded: Recorded; progress: Progress; version: string; revision: number }> = [
    {
      name: 'spec.rollback.auto is false',
      desired: valid(v2with({ rollback: { auto: false } })),
      recorded: recordedVerifying,
      progress: verifyingRev2(),
      version: '2.0.0',
      revision: 2,
    },
    {
      name: 'there is no last good revision (a first deploy)',
      desired: valid(v2),
      recorded: { applied: record(v2, 1), latest: record(v2, 1), operating: record(v2, 1) },
      progress: progress({ revision: 1, operation: operation(record(v2, 1)), history: [entry(record(v2, 1))] }),
      version: '2.0.0',
      revision: 1,
    },
  ];
  for (const row of rows) {
    test(`when ${row.name}: no operation, the target quarantined, action none with reason Failed`, () => {
      const failedRev = row.recorded.operating!;
      const containers = inspected(failedRev, { web: { state: 'exited', detail: { exitCode: 1 } } });
      const plan = run({ desired: row.desired, recorded: row.recorded, progress: row.progress, containers });
      assert.equal(plan.action, 'none');
      assert.equal(plan.reason, 'Failed');
      assert.deepEqual(plan.steps, []);
      assert.equal(plan.progress.operation, undefined);
      assert.deepEqual(plan.progress.quarantine, {
        targetKey: v2.key,
        intent: v2.intent,
        version: row.version,
        revision: row.revision,
        reason: 'ContainerExited',
        message: EXITED,
        since: iso(1),
      });
      assert.deepEqual(plan.progress.history[0], {
        ...row.progress.history[0],
        outcome: 'Failed',
        reason: 'ContainerExited',
        message: EXITED,
        finished: iso(1),
      });
      assert.match(plan.message, /^version 2\.0\.0 \(revision \d\) failed: ContainerExited: .*berth\.dev\/retry/);

      // The next pass sees the failed revision's container still exited: it is not repaired (no loop).
      const next = run({ desired: row.desired, recorded: { ...row.recorded, operating: undefined }, progress: plan.progress, containers, now: at(31) });
      assert.equal(next.action, 'none');
      assert.equal(next.reason, 'Failed');
      assert.deepEqual(next.steps, []);
      assert.deepEqual(next.progress, plan.progress);
    });
  }
});

describe('a failed rollback halts berth on the stack', () => {
  const quarantined = { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, reason: 'ContainerExited', message: EXITED, since: iso(-5) };
  const rollingBack = progress({
    revision: 1,
    lastGoodRevision: 1,
    operation: operation(rev1, { kind: 'rollback', fromRevision: 2, desiredKey: v2.key }),
    quarantine: quarantined,
    history: [entry(rev1, { operation: 'rollback', started: iso(-5) }), entry(rev2, { outcome: 'RolledBack', reason: 'ContainerExited' }), rev1Healthy],
  });
  const recordedRollingBack: Recorded = { applied: rev1, latest: rev2, lastGood: rev1, operating: rev1 };

  test('a rollback that fails the gate marks the quarantine rollbackFailed; berth takes no step (RollbackFailed)', () => {
    const plan = run({
      progress: rollingBack,
      recorded: recordedRollingBack,
      containers: inspected(rev1, { db: { health: 'unhealthy', detail: { lastHealthOutput: 'no space left on device' } } }),
      now: at(4),
    });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'RollbackFailed');
    assert.deepEqual(plan.steps, []);
    assert.deepEqual(plan.progress.quarantine, { ...quarantined, rollbackFailed: true });
    assert.equal(plan.progress.operation, undefined);
    assert.deepEqual(plan.progress.history[0], {
      ...rollingBack.history[0],
      outcome: 'Failed',
      reason: 'Unhealthy',
      message: 'container shop-db-1 (db) is unhealthy: no space left on device',
      finished: iso(4),
    });
    assert.equal(plan.progress.lastGoodRevision, 1);
  });

  const halted = progress({ revision: 1, lastGoodRevision: 1, quarantine: { ...quarantined, rollbackFailed: true }, history: rollingBack.history });
  const driftRows: Array<{ name: string; containers: ObservedContainer[] }> = [
    { name: 'its containers run', containers: runningOf(rev1) },
    { name: 'a container is gone', containers: runningOf(rev1, { db: null }) },
    { name: 'a container exited', containers: runningOf(rev1, { web: { state: 'exited' } }) },
  ];
  for (const row of driftRows) {
    test(`afterwards berth acts on nothing when ${row.name}: action none, reason RollbackFailed`, () => {
      const plan = run({ progress: halted, recorded: { applied: rev1, latest: rev2, lastGood: rev1 }, containers: row.containers, now: at(60) });
      assert.equal(plan.action, 'none');
      assert.equal(plan.reason, 'RollbackFailed');
      assert.deepEqual(plan.steps, []);
      assert.deepEqual(plan.progress, halted);
    });
  }

  test('decideOnFailure for a rollback whose compose up failed halts too', () => {
    const atComposeUp = { ...rollingBack, operation: operation(rev1, { kind: 'rollback', fromRevision: 2, desiredKey: v2.key, step: 'composeUp' }) };
    const plan = decideOnFailure(
      input({ progress: { ...atComposeUp, revision: 2 }, recorded: { applied: rev2, latest: rev2, lastGood: rev1, operating: rev1 }, containers: runningOf(rev2) }),
      { reason: 'ApplyFailed', message: 'compose up of revision 1 failed: exit status 1' },
    );
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'RollbackFailed');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.progress.operation, undefined);
    assert.deepEqual(plan.progress.quarantine, { ...quarantined, rollbackFailed: true });
    assert.equal(plan.progress.history[0]?.outcome, 'Failed');
    assert.equal(plan.progress.history[0]?.reason, 'ApplyFailed');
  });
});

describe('decideOnFailure: compose up of an update failed', () => {
  const atComposeUp = progress({
    revision: 1,
    lastGoodRevision: 1,
    operation: operation(rev2, { fromRevision: 1, step: 'composeUp' }),
    history: [rev2Progressing, rev1Healthy],
  });
  const recordedAtComposeUp: Recorded = { applied: rev1, latest: rev2, lastGood: rev1, operating: rev2 };
  const failure = { reason: 'ApplyFailed', message: 'compose up of revision 2 failed: exit status 1' };

  test('the update is quarantined and rolled back in the same pass', () => {
    const plan = decideOnFailure(input({ progress: atComposeUp, recorded: recordedAtComposeUp, containers: runningOf(rev1) }), failure);
    assert.equal(plan.action, 'rollback');
    assert.equal(plan.reason, 'RollingBack');
    assertRunsRevision(plan, rev1);
    assert.equal(plan.progress.operation?.kind, 'rollback');
    assert.equal(plan.progress.operation?.revision, 1);
    assert.equal(plan.progress.operation?.fromRevision, 2);
    assert.deepEqual(plan.progress.quarantine, { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, ...failure, since: iso(1) });
    assert.deepEqual(
      plan.progress.history.map((h) => [h.operation, h.revision, h.outcome]),
      [
        ['rollback', 1, 'Progressing'],
        ['update', 2, 'RolledBack'],
        ['update', 1, 'Healthy'],
      ],
    );
  });

  test('with spec.rollback.auto false the update is only quarantined', () => {
    const plan = decideOnFailure(
      input({ desired: valid(v2with({ rollback: { auto: false } })), progress: atComposeUp, recorded: recordedAtComposeUp, containers: runningOf(rev1) }),
      failure,
    );
    assert.equal(plan.progress.operation, undefined);
    assert.equal(plan.progress.quarantine?.reason, 'ApplyFailed');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.progress.history[0]?.outcome, 'Failed');
  });
});

describe('a quarantine', () => {
  const q = { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, reason: 'ContainerExited', message: EXITED, since: iso(-60) };
  const rolledBackHistory: HistoryEntry[] = [
    entry(rev1, { operation: 'rollback', started: iso(-60), finished: iso(-40), outcome: 'Healthy', reason: 'HealthGatePassed' }),
    entry(rev2, { outcome: 'RolledBack', reason: 'ContainerExited' }),
    rev1Healthy,
  ];
  /** After the rollback to revision 1 passed the gate. */
  const rolledBack = (retryToken?: string) =>
    progress({ revision: 1, lastGoodRevision: 1, quarantine: { ...q, ...(retryToken !== undefined ? { retryToken } : {}) }, history: rolledBackHistory });
  const recordedRolledBack: Recorded = { applied: rev1, latest: rev2, lastGood: rev1 };

  test('is kept when the same spec comes again: revision 1 keeps running (RolledBack), nothing is applied', () => {
    const plan = run({ progress: rolledBack(), recorded: recordedRolledBack, containers: runningOf(rev1), now: at(60) });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'RolledBack');
    assert.deepEqual(plan.progress, rolledBack());
    assert.equal(
      plan.message,
      `version 2.0.0 (revision 2) failed: ContainerExited: ${EXITED}; revision 1 (version 1.0.0) runs instead; ` +
        'name something else in the spec (version, approve, images, compose file or channel), or set metadata.annotations["berth.dev/retry"] to a new value to try it again',
    );
  });

  test('is kept when the retry annotation is the one the failed spec carried', () => {
    const plan = run({
      desired: valid(v2with({ annotations: { 'berth.dev/retry': 'attempt-1' } })),
      progress: rolledBack('attempt-1'),
      recorded: recordedRolledBack,
      containers: runningOf(rev1),
      now: at(60),
    });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'RolledBack');
    assert.deepEqual(plan.progress.quarantine, { ...q, retryToken: 'attempt-1' });
  });

  test('keeps the last good revision running: a container of it gone is repaired (action repair, reason RolledBack)', () => {
    const plan = run({ progress: rolledBack(), recorded: recordedRolledBack, containers: runningOf(rev1, { web: null }), now: at(60) });
    assert.equal(plan.action, 'repair');
    assert.equal(plan.reason, 'RolledBack');
    assertRunsRevision(plan, rev1);
    assert.deepEqual(plan.drift, [{ service: 'web', kind: 'missing', detail: 'no container' }]);
    assert.deepEqual(plan.progress.quarantine, q);
    assert.equal(plan.progress.operation?.kind, 'repair');
    assert.equal(plan.progress.operation?.revision, 1);
    assert.deepEqual(plan.progress.history, rolledBackHistory, 'a repair writes no history');
  });

  test('is released when the desired target changes: the new target is applied as the next revision', () => {
    const plan = run({ desired: valid(v3), progress: rolledBack(), recorded: recordedRolledBack, containers: runningOf(rev1), now: at(60) });
    assert.equal(plan.progress.quarantine, undefined);
    assert.equal(plan.action, 'apply');
    assert.deepEqual(kinds(plan), ['pull', 'writeRevision', 'composeUp']);
    assert.equal((plan.steps[1] as Extract<Step, { kind: 'writeRevision' }>).record.revision, 3);
    assert.equal(plan.progress.operation?.desiredKey, v3.key);
    assert.equal(plan.progress.operation?.fromRevision, 1);
  });

  const retryRows: Array<{ name: string; before?: string; after?: string }> = [
    { name: 'is set where the failed spec had none', after: 'again' },
    { name: 'changes value', before: 'attempt-1', after: 'attempt-2' },
  ];
  for (const row of retryRows) {
    test(`is released when the retry annotation ${row.name}: revision 2, on disk, is applied again as an update`, () => {
      const plan = run({
        desired: valid(v2with(row.after !== undefined ? { annotations: { 'berth.dev/retry': row.after } } : {})),
        progress: rolledBack(row.before),
        recorded: recordedRolledBack,
        containers: runningOf(rev1),
        now: at(60),
      });
      assert.equal(plan.progress.quarantine, undefined);
      assert.equal(plan.action, 'resume');
      assert.equal(plan.reason, 'Resuming');
      assertRunsRevision(plan, rev2);
      assert.deepEqual(plan.progress.operation, {
        id: 'op-next',
        kind: 'update',
        revision: 2,
        fromRevision: 1,
        targetKey: v2.key,
        desiredKey: v2.key,
        step: 'pull',
        started: iso(60),
        stepStarted: iso(60),
      });
      assert.deepEqual(plan.progress.history[0], { revision: 2, version: '2.0.0', operation: 'update', started: iso(60), outcome: 'Progressing' });
    });
  }

  test('is released by a retry when the failed revision itself is still applied (no rollback): it is applied and verified again', () => {
    // rollback.auto false: revision 2 failed and stayed applied; revision 1 is last good.
    const v2NoRollback = (o: StackOptions = {}) => valid(v2with({ rollback: { auto: false }, ...o }));
    const stayed = progress({ revision: 2, lastGoodRevision: 1, quarantine: q, history: [entry(rev2, { outcome: 'Failed', reason: 'ContainerExited' }), rev1Healthy] });
    const plan = run({
      desired: v2NoRollback({ annotations: { 'berth.dev/retry': 'again' } }),
      progress: stayed,
      recorded: { applied: rev2, latest: rev2, lastGood: rev1 },
      containers: runningOf(rev2),
      now: at(60),
    });
    assert.equal(plan.progress.quarantine, undefined);
    // "Try it again" means through the health gate: an update of revision 2, not a silent InSync.
    assert.equal(plan.progress.operation?.kind, 'update');
    assert.equal(plan.progress.operation?.revision, 2);
    assertRunsRevision(plan, rev2);
  });
});

describe('an operation in flight is superseded', () => {
  test('a new desired target during verification ends the update (Superseded, NewTarget) and is applied in the same plan', () => {
    const plan = run({ desired: valid(v3), now: at(5) });
    assert.equal(plan.action, 'apply');
    assert.deepEqual(kinds(plan), ['pull', 'writeRevision', 'composeUp']);
    const write = plan.steps[1] as Extract<Step, { kind: 'writeRevision' }>;
    assert.equal(write.record.revision, 3);
    assert.equal(write.record.version, '3.0.0');
    assert.deepEqual(plan.progress.operation, {
      id: 'op-next',
      kind: 'update',
      revision: 3,
      fromRevision: 2,
      targetKey: v3.key,
      desiredKey: v3.key,
      step: 'pull',
      started: iso(5),
      stepStarted: iso(5),
    });
    assert.deepEqual(plan.progress.history, [
      { revision: 3, version: '3.0.0', operation: 'update', started: iso(5), outcome: 'Progressing' },
      {
        ...rev2Progressing,
        outcome: 'Superseded',
        reason: 'NewTarget',
        message: 'superseded by version 3.0.0 before revision 2 was proven',
        finished: iso(5),
      },
      rev1Healthy,
    ]);
    assert.equal(plan.progress.lastGoodRevision, 1, 'a superseded revision was never proven good');
  });

  test('mode set to disabled during an operation ends it (Superseded, UpdatesDisabled) and berth takes no step', () => {
    const plan = run({ desired: valid(v2with({ mode: 'disabled' })), containers: exitedWeb(), now: at(5) });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'UpdatesDisabled');
    assert.deepEqual(plan.steps, []);
    assert.deepEqual(plan.progress, {
      revision: 2,
      lastGoodRevision: 1,
      history: [
        { ...rev2Progressing, outcome: 'Superseded', reason: 'UpdatesDisabled', message: 'mode was set to disabled; berth stopped acting', finished: iso(5) },
        rev1Healthy,
      ],
    });
  });
});

describe('an operation in flight when the manifest turns invalid', () => {
  test('an invalid manifest that still says disabled ends it too (Superseded, UpdatesDisabled), and berth takes no step', () => {
    const plan = run({ desired: invalid('auto', { manifestMode: 'disabled' }), containers: exitedWeb(), now: at(5) });
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.progress.operation, undefined);
    assert.equal(plan.progress.history[0]?.outcome, 'Superseded');
    assert.equal(plan.progress.history[0]?.reason, 'UpdatesDisabled');
    assert.match(plan.progress.history[0]?.message ?? '', /the manifest still says mode: disabled/);
  });

  test('an invalid manifest in auto mode does not stop the verification: a failing revision is still rolled back', () => {
    const plan = run({ desired: invalid('auto', { manifestMode: 'auto' }), containers: exitedWeb(), now: at(200) });
    assert.equal(plan.action, 'rollback');
  });
});

describe('an operation is resumed after a crash', () => {
  for (const step of ['pull', 'writeRevision'] as const) {
    test(`an update that crashed at its ${step} step, before its revision reached the disk, starts over under the same number with one history entry`, () => {
      const crashed = progress({
        revision: 1,
        lastGoodRevision: 1,
        operation: operation(rev2, { fromRevision: 1, step, id: 'op-crashed' }),
        history: [rev2Progressing, rev1Healthy],
      });
      const plan = run({ progress: crashed, recorded: { applied: rev1, latest: rev1, lastGood: rev1 }, containers: runningOf(rev1), now: at(5) });
      assert.equal(plan.action, 'apply');
      assert.deepEqual(kinds(plan), ['pull', 'writeRevision', 'composeUp']);
      assert.equal((plan.steps[1] as Extract<Step, { kind: 'writeRevision' }>).record.revision, 2);
      assert.equal(plan.progress.operation?.revision, 2);
      assert.equal(plan.progress.operation?.step, 'pull');
      assert.deepEqual(plan.progress.history, [
        { revision: 2, version: '2.0.0', operation: 'update', started: iso(5), outcome: 'Progressing' },
        rev1Healthy,
      ]);
    });
  }

  const notStarted: Array<{ name: string; desired: Desired; reason: string }> = [
    { name: 'the manifest is now invalid', desired: invalid('auto'), reason: 'InvalidSpec' },
    { name: 'the same target now waits for approval (mode notify)', desired: valid(v2with({ mode: 'notify' })), reason: 'AwaitingApproval' },
  ];
  for (const row of notStarted) {
    test(`an update that crashed before its revision reached the disk, not started over because ${row.name}, leaves no history entry Progressing`, () => {
      const crashed = progress({
        revision: 1,
        lastGoodRevision: 1,
        operation: operation(rev2, { fromRevision: 1, step: 'pull' }),
        history: [rev2Progressing, rev1Healthy],
      });
      const plan = run({ desired: row.desired, progress: crashed, recorded: { applied: rev1, latest: rev1, lastGood: rev1 }, containers: runningOf(rev1), now: at(5) });
      assert.equal(plan.action, 'none');
      assert.equal(plan.reason, row.reason);
      assert.equal(plan.progress.operation, undefined);
      assert.deepEqual(
        plan.progress.history.filter((h) => h.outcome === 'Progressing'),
        [],
        'a history entry stays Progressing only while its operation is in flight',
      );
    });
  }

  test('an update at its verify step whose revision is not on disk fails RevisionMissing and is quarantined under its version', () => {
    const plan = run({ recorded: { latest: rev1, lastGood: rev1 }, now: at(5) });
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.progress.operation, undefined);
    assert.equal(plan.progress.history[0]?.outcome, 'Failed');
    assert.equal(plan.progress.history[0]?.reason, 'RevisionMissing');
    assert.equal(plan.progress.history[0]?.message, 'revision 2 is not on disk although the journal says it was written');
    assert.deepEqual(plan.progress.quarantine, {
      targetKey: v2.key,
      intent: v2.intent,
      version: '2.0.0',
      revision: 2,
      reason: 'RevisionMissing',
      message: 'revision 2 is not on disk although the journal says it was written',
      since: iso(5),
    });
  });

  test('an interrupted update repeats its compose up before it is judged (action resume), whatever its containers show', () => {
    const why = 'the engine connection dropped while it ran';
    const journal = verifyingRev2({ interrupted: why });
    const plan = run({ progress: journal, containers: exitedWeb(), now: at(5) });
    assert.equal(plan.action, 'resume');
    assert.equal(plan.reason, 'Resuming');
    assertRunsRevision(plan, rev2);
    assert.equal(plan.message, `resuming revision 2 (version 2.0.0) from its verify step (${why})`);
    assert.deepEqual(plan.progress, journal, 'no quarantine: a container stopped with the engine is no verdict');
  });

  test('an interrupted rollback repeats the compose up of the last good revision (action rollback)', () => {
    const journal = progress({
      revision: 1,
      lastGoodRevision: 1,
      operation: operation(rev1, { kind: 'rollback', fromRevision: 2, desiredKey: v2.key, interrupted: 'the engine became unreachable' }),
      quarantine: { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, reason: 'ContainerExited', message: EXITED, since: iso(-5) },
      history: [entry(rev1, { operation: 'rollback' }), entry(rev2, { outcome: 'RolledBack' }), rev1Healthy],
    });
    const plan = run({ progress: journal, recorded: { applied: rev1, latest: rev2, lastGood: rev1, operating: rev1 }, containers: runningOf(rev1), now: at(5) });
    assert.equal(plan.action, 'rollback');
    assert.equal(plan.reason, 'RollingBack');
    assertRunsRevision(plan, rev1);
    assert.deepEqual(plan.progress, journal);
  });
});

describe('the history', () => {
  test('is bounded by spec.rollback.keep, dropping the oldest entries', () => {
    const keep3 = target({ version: '3.0.0', images: v3.images, rollback: { keep: 3 } });
    const old = [2, 1].map((n) => entry(record(v1, n), { outcome: 'Healthy', started: iso(-100 * n) }));
    const before = progress({ revision: 2, lastGoodRevision: 2, history: [entry(rev2, { outcome: 'Healthy' }), ...old] });
    const plan = run({ desired: valid(keep3), progress: before, recorded: { applied: rev2, latest: rev2, lastGood: rev2 }, containers: runningOf(rev2), now: at(5) });
    assert.equal(plan.action, 'apply');
    assert.deepEqual(
      plan.progress.history.map((h) => [h.revision, h.outcome]),
      [
        [3, 'Progressing'],
        [2, 'Healthy'],
        [2, 'Healthy'],
      ],
    );
  });

  test('with keep 1, a rollback keeps only its own entry', () => {
    const plan = run({ desired: valid(v2with({ rollback: { keep: 1 } })), containers: exitedWeb() });
    assert.equal(plan.action, 'rollback');
    assert.deepEqual(plan.progress.history, [{ revision: 1, version: '1.0.0', operation: 'rollback', started: iso(1), outcome: 'Progressing' }]);
  });
});

// ---------------------------------------------------------------------------------------
// The status berth reports at each point of an update's life.

function statusOf(i: Input): { plan: Plan; status: StackStatus } {
  const inp = input(i);
  const plan = decide(inp);
  const status = buildStatus({
    name: STACK,
    desired: inp.desired,
    recorded: inp.recorded,
    observed: inp.observed,
    plan,
    progress: plan.progress,
    now: inp.now,
  });
  return { plan, status };
}

function cond(s: StackStatus, type: string): Condition {
  const c = s.status.conditions.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition`);
  return c;
}

function brief(s: StackStatus, type: string): [string, string] {
  const c = cond(s, type);
  return [c.status, c.reason];
}

describe('status through an update', () => {
  test('while an update is verified: Progressing True (Verifying), Ready False (Verifying), Degraded False', () => {
    const { status } = statusOf({ now: at(3) });
    assert.deepEqual(brief(status, 'Progressing'), ['True', 'Verifying']);
    assert.equal(cond(status, 'Progressing').message, 'verifying revision 2: healthy for 0s of 10s');
    assert.deepEqual(brief(status, 'Ready'), ['False', 'Verifying']);
    assert.deepEqual(brief(status, 'Degraded'), ['False', 'AsExpected']);
    assert.equal(status.status.operation?.step, 'verify');
    assert.equal(status.status.revision, 2);
    assert.equal(status.status.lastGoodRevision, 1);
  });

  test('while a rollback runs: Progressing True (RollingBack), Ready False (RollingBack), Degraded True (RolledBack)', () => {
    const { plan, status } = statusOf({ containers: exitedWeb(), now: at(1) });
    assert.equal(plan.action, 'rollback');
    assert.deepEqual(brief(status, 'Progressing'), ['True', 'RollingBack']);
    assert.deepEqual(brief(status, 'Ready'), ['False', 'RollingBack']);
    assert.deepEqual(brief(status, 'Degraded'), ['True', 'RolledBack']);
    assert.equal(status.status.quarantine?.revision, 2);
  });

  test('after the rollback passed: Degraded True and Ready False (RolledBack), the current version the last good one', () => {
    const rollingBack = progress({
      revision: 1,
      lastGoodRevision: 1,
      operation: operation(rev1, { kind: 'rollback', fromRevision: 2, desiredKey: v2.key, healthySince: iso(0) }),
      quarantine: { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, reason: 'ContainerExited', message: EXITED, since: iso(-5) },
      history: [entry(rev1, { operation: 'rollback', started: iso(-5) }), entry(rev2, { outcome: 'RolledBack', reason: 'ContainerExited' }), rev1Healthy],
    });
    const { plan, status } = statusOf({
      progress: rollingBack,
      recorded: { applied: rev1, latest: rev2, lastGood: rev1, operating: rev1 },
      containers: inspected(rev1),
      now: at(10),
    });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'RolledBack');
    assert.deepEqual(brief(status, 'Degraded'), ['True', 'RolledBack']);
    assert.deepEqual(brief(status, 'Ready'), ['False', 'RolledBack']);
    assert.deepEqual(brief(status, 'Progressing'), ['False', 'Complete']);
    assert.equal(status.status.currentVersion, '1.0.0');
    assert.equal(status.status.targetVersion, '2.0.0');
    assert.equal(status.status.revision, 1);
    assert.equal(status.status.lastGoodRevision, 1);
    assert.equal(status.status.operation, undefined);
    assert.equal(status.status.history?.[0]?.outcome, 'Healthy');
    assert.equal(status.status.history?.[0]?.operation, 'rollback');
  });

  test('after the update passed: Progressing False (Complete), Degraded False, Ready True, the current version the new one', () => {
    const { status } = statusOf({ progress: verifyingRev2({ healthySince: iso(0) }), now: at(10) });
    assert.deepEqual(brief(status, 'Progressing'), ['False', 'Complete']);
    assert.equal(cond(status, 'Progressing').message, `revision 2 passed the health gate at ${iso(10)}`);
    assert.deepEqual(brief(status, 'Degraded'), ['False', 'AsExpected']);
    assert.deepEqual(brief(status, 'Ready'), ['True', 'Converged']);
    assert.equal(status.status.currentVersion, '2.0.0');
    assert.equal(status.status.lastGoodRevision, 2);
    assert.equal(status.status.operation, undefined);
  });

  test('after a failure with nothing to roll back to: Degraded True (Failed), Progressing False with the failure reason', () => {
    const { status } = statusOf({ desired: valid(v2with({ rollback: { auto: false } })), containers: exitedWeb() });
    assert.deepEqual(brief(status, 'Degraded'), ['True', 'Failed']);
    assert.deepEqual(brief(status, 'Progressing'), ['False', 'ContainerExited']);
    assert.deepEqual(brief(status, 'Ready'), ['False', 'Failed']);
  });

  test('after a failed rollback: Degraded True (RollbackFailed)', () => {
    const halted = progress({
      revision: 1,
      lastGoodRevision: 1,
      quarantine: { targetKey: v2.key, intent: v2.intent, version: '2.0.0', revision: 2, reason: 'ContainerExited', message: EXITED, since: iso(-5), rollbackFailed: true },
      history: [entry(rev1, { operation: 'rollback', outcome: 'Failed', reason: 'Unhealthy' }), entry(rev2, { outcome: 'RolledBack' }), rev1Healthy],
    });
    const { status } = statusOf({ progress: halted, recorded: { applied: rev1, latest: rev2, lastGood: rev1 }, containers: runningOf(rev1) });
    assert.deepEqual(brief(status, 'Degraded'), ['True', 'RollbackFailed']);
    assert.deepEqual(brief(status, 'Ready'), ['False', 'RollbackFailed']);
  });
});

// ---------------------------------------------------------------------------------------
// The whole story, pass by pass, with the journal transitions the controller makes between
// passes when a step runs (withStep before it, afterComposeUp when compose up finished).

describe('an update that fails its health gate, told pass by pass', () => {
  test('apply revision 2, verify it, see it fail, roll back to revision 1, verify that, and stay there', () => {
    const recordedAt = (p: Progress): Recorded => {
      const byNumber = new Map([rev1, rev2].map((r) => [r.revision, r]));
      const get = (n: number | undefined) => (n === undefined ? undefined : byNumber.get(n));
      const applied = get(p.revision);
      const lastGood = get(p.lastGoodRevision);
      const operating = get(p.operation?.revision);
      return { ...(applied ? { applied } : {}), latest: rev2, ...(lastGood ? { lastGood } : {}), ...(operating ? { operating } : {}) };
    };
    const composeUpDone = (p: Progress, now: Date) => afterComposeUp(withStep(withStep(p, 'pull', now), 'composeUp', now), now, 120);

    // Pass 1: revision 1 runs and is last good; version 2.0.0 is asked for.
    let journal = progress({ revision: 1, lastGoodRevision: 1, history: [rev1Healthy] });
    const apply = decide(input({ progress: journal, recorded: { applied: rev1, latest: rev1, lastGood: rev1 }, containers: runningOf(rev1), now: at(0) }));
    assert.equal(apply.action, 'apply');
    journal = composeUpDone(apply.progress, at(0));
    assert.equal(journal.operation?.step, 'verify');
    assert.equal(journal.revision, 2);

    // Pass 2: web of revision 2 comes up healthy.
    const verify = decide(input({ progress: journal, recorded: recordedAt(journal), containers: inspected(rev2), now: at(2) }));
    assert.equal(verify.action, 'verify');
    journal = verify.progress;

    // Pass 3: web exited with code 1: roll back.
    const rollback = decide(input({ progress: journal, recorded: recordedAt(journal), containers: exitedWeb(), now: at(4) }));
    assert.equal(rollback.action, 'rollback');
    assertRunsRevision(rollback, rev1);
    journal = composeUpDone(rollback.progress, at(5));
    assert.equal(journal.revision, 1);
    assert.equal(journal.operation?.kind, 'rollback');

    // Pass 4 and 5: revision 1 is healthy for 10 s: the rollback is complete.
    const waiting = decide(input({ progress: journal, recorded: recordedAt(journal), containers: inspected(rev1), now: at(6) }));
    assert.equal(waiting.action, 'verify');
    assert.equal(waiting.reason, 'RollingBack');
    const done = decide(input({ progress: waiting.progress, recorded: recordedAt(waiting.progress), containers: inspected(rev1), now: at(16) }));
    assert.equal(done.action, 'none');
    assert.equal(done.reason, 'RolledBack');
    assert.equal(done.progress.operation, undefined);
    assert.equal(done.progress.lastGoodRevision, 1);
    assert.equal(done.progress.quarantine?.targetKey, v2.key);
    assert.deepEqual(
      done.progress.history.map((h) => [h.operation, h.revision, h.outcome, h.reason]),
      [
        ['rollback', 1, 'Healthy', 'HealthGatePassed'],
        ['update', 2, 'RolledBack', 'ContainerExited'],
        ['update', 1, 'Healthy', 'HealthGatePassed'],
      ],
    );

    // Pass 6, much later: the same spec is not tried again.
    const later = decide(input({ progress: done.progress, recorded: recordedAt(done.progress), containers: runningOf(rev1), now: at(600) }));
    assert.equal(later.action, 'none');
    assert.equal(later.reason, 'RolledBack');
  });
});
