// buildStatus(): the StackStatus berth writes after every pass.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, StackStatus } from '../../src/api/types.js';
import { decide } from '../../src/plan/decide.js';
import { abandonOperation } from '../../src/plan/progress.js';
import { buildStatus, type StatusInput } from '../../src/plan/status.js';
import type { Desired, Observed, Progress, Recorded } from '../../src/plan/types.js';
import { NOW, STACK, invalid, observed, pinned, record, recorded, runningOf, target, valid } from './fixtures.js';

const LATER = new Date(NOW.getTime() + 60_000);

interface Pass {
  desired: Desired;
  recorded: Recorded;
  observed: Observed;
  error?: { reason: string; message: string };
  previous?: StackStatus;
  /** berth's journal before the pass; by default, the applied revision and nothing in flight. */
  progress?: Progress;
  now?: Date;
}

/** One pass as the controller runs it: the real plan, then the status of what was observed. */
function statusOf(p: Pass): StackStatus {
  const now = p.now ?? NOW;
  const applied = p.recorded.applied;
  const progress = p.progress ?? { history: [], ...(applied !== undefined ? { revision: applied.revision } : {}) };
  const plan = decide({ desired: p.desired, recorded: p.recorded, observed: p.observed, progress, now });
  const input: StatusInput = {
    name: STACK,
    desired: p.desired,
    recorded: p.recorded,
    observed: p.observed,
    plan,
    // As the controller does after a failed pull: the update changed nothing and is forgotten.
    progress: p.error !== undefined ? abandonOperation(plan.progress) : plan.progress,
    now,
    ...(p.error !== undefined ? { error: p.error } : {}),
    ...(p.previous !== undefined ? { previous: p.previous } : {}),
  };
  return buildStatus(input);
}

function cond(s: StackStatus, type: string): Condition {
  const c = s.status.conditions.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition in ${JSON.stringify(s.status.conditions.map((x) => x.type))}`);
  return c;
}

function brief(s: StackStatus, type: string): [string, string] {
  const c = cond(s, type);
  return [c.status, c.reason];
}

const v1 = target({ version: '1.0.0' });
const rev1 = record(v1, 1);

describe('buildStatus', () => {
  test('a stack whose target runs and is healthy is Ready (Converged), Synced and Healthy', () => {
    const s = statusOf({ desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1, { web: { health: 'healthy' } })) });
    assert.deepEqual(brief(s, 'Ready'), ['True', 'Converged']);
    assert.deepEqual(brief(s, 'Synced'), ['True', 'InSync']);
    assert.deepEqual(brief(s, 'Healthy'), ['True', 'AllHealthy']);
    assert.deepEqual(brief(s, 'AwaitingApproval'), ['False', 'NothingToApprove']);
    assert.deepEqual(brief(s, 'SpecInvalid'), ['False', 'Valid']);
    assert.equal(s.status.currentVersion, '1.0.0');
    assert.equal(s.status.targetVersion, '1.0.0');
    assert.equal(s.status.revision, 1);
    assert.equal(s.status.observedGeneration, v1.generation);
    assert.equal(s.status.lastReconcileTime, NOW.toISOString());
    assert.equal(s.status.lastError, undefined);
    for (const c of s.status.conditions) assert.equal(c.observedGeneration, v1.generation, c.type);
  });

  test('an invalid manifest makes the stack not Ready with reason InvalidSpec, and SpecInvalid True', () => {
    const s = statusOf({ desired: invalid('auto'), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    assert.deepEqual(brief(s, 'Ready'), ['False', 'InvalidSpec']);
    assert.deepEqual(brief(s, 'SpecInvalid'), ['True', 'InvalidSpec']);
    assert.deepEqual(brief(s, 'Synced'), ['Unknown', 'InvalidSpec']);
    assert.match(cond(s, 'Ready').message, /spec\.version: is required but missing/);
    assert.equal(s.status.targetVersion, undefined);
    // What runs is still berth's applied revision, and the status says so.
    assert.equal(s.status.currentVersion, '1.0.0');
  });

  test('a new version waiting in notify mode sets AwaitingApproval True and keeps the applied version as current', () => {
    const n1 = target({ version: '1.0.0', mode: 'notify', approve: '1.0.0' });
    const nrev1 = record(n1, 1);
    const n2 = target({ version: '2.0.0', mode: 'notify', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
    const s = statusOf({ desired: valid(n2), recorded: recorded(nrev1), observed: observed(runningOf(nrev1)) });
    assert.deepEqual(brief(s, 'AwaitingApproval'), ['True', 'ApprovalRequired']);
    assert.match(cond(s, 'AwaitingApproval').message, /2\.0\.0/);
    assert.deepEqual(brief(s, 'Synced'), ['False', 'AwaitingApproval']);
    assert.deepEqual(brief(s, 'Ready'), ['False', 'AwaitingApproval']);
    assert.equal(s.status.currentVersion, '1.0.0');
    assert.equal(s.status.targetVersion, '2.0.0');
  });

  test('a version that waits for approval is reported as waiting, with what keeps running and how to approve, not as drift', () => {
    const n1 = target({ version: '1.0.0', mode: 'notify', approve: '1.0.0' });
    const nrev1 = record(n1, 1);
    const n2 = target({ version: '1.1.0', mode: 'notify', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
    const s = statusOf({ desired: valid(n2), recorded: recorded(nrev1), observed: observed(runningOf(nrev1)) });
    for (const type of ['Synced', 'Ready']) {
      const { message } = cond(s, type);
      assert.doesNotMatch(message, /differs|is not applied/, `${type}: ${message}`);
      assert.match(message, /version 1\.1\.0 waits for approval: set spec\.approve to "1\.1\.0"/, type);
      assert.match(message, new RegExp(`berth approve ${STACK} 1\\.1\\.0`), type);
      assert.match(message, /until then version 1\.0\.0 keeps running/, type);
    }
  });

  test(
    'a waiting version that pins no images is not reported as running before it is approved',
    () => {
      const n1 = target({ version: '1.0.0', mode: 'notify', approve: '1.0.0', images: {} });
      const nrev1 = record(n1, 1);
      const n2 = target({ version: '2.0.0', mode: 'notify', images: {} });
      const s = statusOf({ desired: valid(n2), recorded: recorded(nrev1), observed: observed(runningOf(nrev1)) });
      assert.deepEqual(brief(s, 'AwaitingApproval'), ['True', 'ApprovalRequired']);
      assert.equal(s.status.currentVersion, '1.0.0');
      assert.notEqual(cond(s, 'Synced').status, 'True');
      assert.notEqual(cond(s, 'Ready').status, 'True');
    },
  );

  test('a container whose health check is still starting makes Healthy Unknown (HealthPending) and the stack not yet Ready', () => {
    const s = statusOf({ desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1, { web: { health: 'starting' } })) });
    assert.deepEqual(brief(s, 'Healthy'), ['Unknown', 'HealthPending']);
    assert.deepEqual(brief(s, 'Synced'), ['True', 'InSync']);
    assert.deepEqual(brief(s, 'Ready'), ['False', 'HealthPending']);
  });

  test('an unhealthy container makes Healthy False (Unhealthy) and names the container', () => {
    const s = statusOf({
      desired: valid(v1),
      recorded: recorded(rev1),
      observed: observed(runningOf(rev1, { web: { health: 'unhealthy', name: 'shop-web-1' }, db: { health: 'starting' } })),
    });
    assert.deepEqual(brief(s, 'Healthy'), ['False', 'Unhealthy']);
    assert.match(cond(s, 'Healthy').message, /shop-web-1/);
    assert.deepEqual(brief(s, 'Ready'), ['False', 'Unhealthy']);
  });

  test('the current version is absent when neither the target nor the applied revision runs', () => {
    const v2 = target({ version: '2.0.0', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
    const rows: Array<{ name: string; recorded: Recorded; observed: Observed }> = [
      { name: 'nothing runs', recorded: recorded(rev1), observed: observed([]) },
      { name: 'a container exited', recorded: recorded(rev1), observed: observed(runningOf(rev1, { web: { state: 'exited' } })) },
      { name: 'nothing was ever applied', recorded: {}, observed: observed(runningOf(rev1, { db: null })) },
    ];
    for (const row of rows) {
      const s = statusOf({ desired: valid(v2), recorded: row.recorded, observed: row.observed });
      assert.equal(s.status.currentVersion, undefined, row.name);
      assert.equal(s.status.targetVersion, '2.0.0', row.name);
    }
  });

  test("a condition keeps its lastTransitionTime while its status stays, and moves it when the status changes", () => {
    const first = statusOf({ desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    assert.equal(cond(first, 'Ready').lastTransitionTime, NOW.toISOString());

    const same = statusOf({ desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1)), previous: first, now: LATER });
    for (const c of same.status.conditions) assert.equal(c.lastTransitionTime, NOW.toISOString(), c.type);
    assert.equal(same.status.lastReconcileTime, LATER.toISOString());

    const broken = statusOf({
      desired: valid(v1),
      recorded: recorded(rev1),
      observed: observed(runningOf(rev1, { web: { health: 'unhealthy' } })),
      previous: first,
      now: LATER,
    });
    assert.equal(cond(broken, 'Ready').status, 'False');
    assert.equal(cond(broken, 'Ready').lastTransitionTime, LATER.toISOString());
    assert.equal(cond(broken, 'Healthy').lastTransitionTime, LATER.toISOString());
    // Synced did not change: what runs is still what was asked.
    assert.equal(cond(broken, 'Synced').status, 'True');
    assert.equal(cond(broken, 'Synced').lastTransitionTime, NOW.toISOString());
  });

  test('an error of the pass shows in Synced, Ready and lastError', () => {
    const v2 = target({ version: '2.0.0', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
    const error = { reason: 'PullFailed', message: `pull ${pinned('web', 'c')}: manifest unknown` };
    const s = statusOf({ desired: valid(v2), recorded: recorded(rev1), observed: observed(runningOf(rev1)), error });
    assert.deepEqual(brief(s, 'Synced'), ['False', 'PullFailed']);
    assert.equal(cond(s, 'Synced').message, error.message);
    assert.deepEqual(brief(s, 'Ready'), ['False', 'PullFailed']);
    assert.equal(cond(s, 'Ready').message, error.message);
    assert.equal(s.status.lastError, error.message);
    // The previous revision still runs, and the status says which version that is.
    assert.equal(s.status.currentVersion, '1.0.0');
  });

  test('every condition has a reason in CamelCase, as the StackStatus schema requires', () => {
    const inputs: Pass[] = [
      { desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1)) },
      { desired: invalid(), recorded: {}, observed: observed([]) },
      { desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1, { web: { state: 'restarting' } })) },
    ];
    for (const p of inputs) {
      for (const c of statusOf(p).status.conditions) assert.match(c.reason, /^[A-Z][A-Za-z]*$/, `${c.type}: ${c.reason}`);
    }
  });
});
