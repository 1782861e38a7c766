// decide(): from desired, recorded and observed state to the steps berth takes now.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../src/plan/decide.js';
import type { DriftKind, Plan, PlanInput, RevisionRecord, Step } from '../../src/plan/types.js';
import {
  NOW,
  STACK,
  composeDoc,
  container,
  invalid,
  observed,
  pinned,
  record,
  recorded,
  runningOf,
  target,
  valid,
  type ContainerOptions,
} from './fixtures.js';

function run(input: Omit<PlanInput, 'now'>): Plan {
  return decide({ ...input, now: NOW });
}

function kinds(plan: Plan): Step['kind'][] {
  return plan.steps.map((s) => s.kind);
}

function step<K extends Step['kind']>(plan: Plan, kind: K): Extract<Step, { kind: K }> {
  const found = plan.steps.find((s) => s.kind === kind);
  assert.ok(found, `expected a ${kind} step in ${JSON.stringify(kinds(plan))}`);
  return found as Extract<Step, { kind: K }>;
}

/** The plan keeps `rec` running: pulls its pinned images and runs compose up on it, writes nothing. */
function assertRepairsRevision(plan: Plan, rec: RevisionRecord): void {
  assert.deepEqual(kinds(plan), ['pull', 'composeUp']);
  assert.deepEqual(
    [...step(plan, 'pull').images].sort(),
    rec.services.flatMap((s) => (s.pinned !== undefined ? [s.pinned] : [])).sort(),
  );
  assert.deepEqual(step(plan, 'composeUp'), {
    kind: 'composeUp',
    revision: rec.revision,
    project: rec.project,
    projectDirectory: rec.projectDirectory,
  });
}

// Version 1.0.0 with web on digest a and db on digest b; version 2.0.0 moves web to digest c.
const v1 = target({ version: '1.0.0' });
const v2 = target({ version: '2.0.0', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
const rev1 = record(v1, 1);

describe('decide in auto mode', () => {
  test('a first deploy pulls the pinned images, then writes revision 1, then runs compose up', () => {
    const plan = run({ desired: valid(v1), recorded: {}, observed: observed([]) });
    assert.equal(plan.action, 'apply');
    assert.equal(plan.reason, 'Applying');
    assert.equal(plan.awaitingApproval, false);
    assert.deepEqual(kinds(plan), ['pull', 'writeRevision', 'composeUp']);
    assert.deepEqual([...step(plan, 'pull').images].sort(), [pinned('db', 'b'), pinned('web', 'a')]);
    const write = step(plan, 'writeRevision');
    assert.equal(write.record.revision, 1);
    assert.equal(write.record.version, '1.0.0');
    assert.equal(write.record.targetKey, v1.key);
    assert.equal(write.record.created, NOW.toISOString());
    assert.match(write.composeText, new RegExp(pinned('web', 'a')));
    assert.deepEqual(step(plan, 'composeUp'), {
      kind: 'composeUp',
      revision: 1,
      project: STACK,
      projectDirectory: '/srv/stacks/shop',
    });
  });

  test('the pull step lists exactly the pinned images, not the images a compose file names by tag', () => {
    const onlyWeb = target({ images: { web: pinned('web', 'a') } });
    const plan = run({ desired: valid(onlyWeb), recorded: {}, observed: observed([]) });
    assert.deepEqual(step(plan, 'pull').images, [pinned('web', 'a')]);
  });

  test('a stack that pins no image is still applied, with an empty pull', () => {
    const unpinned = target({ images: {} });
    const plan = run({ desired: valid(unpinned), recorded: {}, observed: observed([]) });
    assert.equal(plan.action, 'apply');
    assert.deepEqual(step(plan, 'pull').images, []);
  });

  test('a target equal to the applied revision, with its containers running on the right digests and labels, needs nothing', () => {
    const plan = run({ desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'InSync');
    assert.deepEqual(plan.steps, []);
    assert.deepEqual(plan.drift, []);
    assert.deepEqual(plan.patch, []);
    assert.equal(plan.awaitingApproval, false);
  });

  test('a new version is applied as the revision after the newest one on record', () => {
    const rows: Array<{ name: string; applied: number; latest: number; expect: number }> = [
      { name: 'applied is the newest', applied: 4, latest: 4, expect: 5 },
      { name: 'a newer revision exists on disk for another target', applied: 3, latest: 7, expect: 8 },
    ];
    for (const row of rows) {
      const applied = record(v1, row.applied);
      const latest = row.latest === row.applied ? applied : { ...record(target({ version: '1.5.0' }), row.latest) };
      const plan = run({ desired: valid(v2), recorded: recorded(applied, latest), observed: observed(runningOf(applied)) });
      assert.equal(plan.action, 'apply', row.name);
      assert.deepEqual(kinds(plan), ['pull', 'writeRevision', 'composeUp'], row.name);
      assert.equal(step(plan, 'writeRevision').record.revision, row.expect, row.name);
      assert.equal(step(plan, 'composeUp').revision, row.expect, row.name);
      assert.match(plan.message, new RegExp(`from version 1\\.0\\.0, revision ${row.applied}`), row.name);
    }
  });

  test('a new digest under the same version is a new target and is applied', () => {
    const sameVersion = target({ version: '1.0.0', images: { web: pinned('web', 'd'), db: pinned('db', 'b') } });
    assert.notEqual(sameVersion.key, v1.key);
    const plan = run({ desired: valid(sameVersion), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    assert.equal(plan.action, 'apply');
    assert.equal(step(plan, 'writeRevision').record.revision, 2);
    assert.deepEqual([...step(plan, 'pull').images].sort(), [pinned('db', 'b'), pinned('web', 'd')]);
  });

  test('an update keeps the revision label of services it does not change, so their containers are not drift afterwards', () => {
    const plan = run({ desired: valid(v2), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    const rev2 = step(plan, 'writeRevision').record;
    assert.deepEqual(
      rev2.services.map((s) => [s.name, s.revision]),
      [
        ['web', 2],
        ['db', 1],
      ],
    );
    // compose recreates web only; db keeps running with its old label.
    const after = [
      container('web', { digests: [pinned('web', 'c')], revision: 2 }),
      container('db', { digests: [pinned('db', 'b')], revision: 1 }),
    ];
    const next = run({ desired: valid(v2), recorded: recorded(rev2), observed: observed(after) });
    assert.equal(next.action, 'none');
    assert.equal(next.reason, 'InSync');
  });

  const driftRows: Array<{ name: string; tweak: Record<string, ContainerOptions | null>; extra?: ContainerOptions & { service: string }; kind: DriftKind; service: string }> = [
    { name: 'a container is missing', tweak: { db: null }, kind: 'missing', service: 'db' },
    { name: 'a container exited', tweak: { web: { state: 'exited' } }, kind: 'notRunning', service: 'web' },
    { name: 'a container is dead', tweak: { web: { state: 'dead' } }, kind: 'notRunning', service: 'web' },
    { name: 'a container was created but never started', tweak: { db: { state: 'created' } }, kind: 'notRunning', service: 'db' },
    { name: 'a container runs another digest', tweak: { web: { digests: [pinned('web', 'e')] } }, kind: 'wrongImage', service: 'web' },
    { name: 'a container carries a stale revision label', tweak: { web: { revision: 0 } }, kind: 'staleRevision', service: 'web' },
    { name: 'a container has no revision label (started by hand)', tweak: { web: { revision: undefined } }, kind: 'staleRevision', service: 'web' },
    { name: 'an orphan container runs a service the compose file lacks', tweak: {}, extra: { service: 'worker' }, kind: 'orphan', service: 'worker' },
  ];
  for (const row of driftRows) {
    test(`when ${row.name}, berth repairs the applied revision`, () => {
      const containers = runningOf(rev1, row.tweak);
      if (row.extra) containers.push(container(row.extra.service, row.extra));
      const plan = run({ desired: valid(v1), recorded: recorded(rev1), observed: observed(containers) });
      assert.equal(plan.action, 'repair');
      assert.equal(plan.reason, 'Repairing');
      assert.equal(plan.awaitingApproval, false);
      assertRepairsRevision(plan, rev1);
      assert.deepEqual(
        plan.drift.map((d) => [d.service, d.kind]),
        [[row.service, row.kind]],
      );
      assert.match(plan.message, /repairing revision 1/);
    });
  }

  for (const state of ['restarting', 'paused']) {
    test(`a ${state} container is a health matter, not drift: nothing is repaired`, () => {
      const plan = run({ desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1, { web: { state } })) });
      assert.equal(plan.action, 'none');
      assert.equal(plan.reason, 'InSync');
      assert.deepEqual(plan.drift, []);
      assert.deepEqual(plan.steps, []);
    });
  }

  test('a container whose image has several repo digests matches when any of them is the pinned one', () => {
    const plan = run({
      desired: valid(v1),
      recorded: recorded(rev1),
      observed: observed(runningOf(rev1, { web: { digests: [`mirror.local/web@sha256:${'9'.repeat(64)}`, pinned('web', 'a')] } })),
    });
    assert.equal(plan.action, 'none');
  });
});

describe('decide in notify mode', () => {
  const n1 = target({ version: '1.0.0', mode: 'notify', approve: '1.0.0' });
  const nrev1 = record(n1, 1);

  test('a new target without approval waits: no steps, awaitingApproval, reason AwaitingApproval', () => {
    const n2 = target({ version: '2.0.0', mode: 'notify', images: v2.images });
    const plan = run({ desired: valid(n2), recorded: recorded(nrev1), observed: observed(runningOf(nrev1)) });
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.awaitingApproval, true);
    assert.equal(plan.reason, 'AwaitingApproval');
    assert.match(plan.message, /set spec\.approve to "2\.0\.0"/);
  });

  test('an approval of another version does not approve the target, and the message names the approved version', () => {
    const n2 = target({ version: '2.0.0', mode: 'notify', approve: '1.5.0', images: v2.images });
    const plan = run({ desired: valid(n2), recorded: recorded(nrev1), observed: observed(runningOf(nrev1)) });
    assert.equal(plan.action, 'none');
    assert.equal(plan.awaitingApproval, true);
    assert.equal(plan.reason, 'AwaitingApproval');
    assert.match(plan.message, /spec\.approve is "1\.5\.0"/);
  });

  test('an approval of exactly the target version applies it', () => {
    const n2 = target({ version: '2.0.0', mode: 'notify', approve: '2.0.0', images: v2.images });
    const plan = run({ desired: valid(n2), recorded: recorded(nrev1), observed: observed(runningOf(nrev1)) });
    assert.equal(plan.action, 'apply');
    assert.equal(plan.awaitingApproval, false);
    assert.deepEqual(kinds(plan), ['pull', 'writeRevision', 'composeUp']);
    assert.equal(step(plan, 'writeRevision').record.version, '2.0.0');
  });

  test('while a target waits, drift of the applied revision is repaired with the applied revision, not the new target', () => {
    const n2 = target({ version: '2.0.0', mode: 'notify', images: v2.images });
    const plan = run({ desired: valid(n2), recorded: recorded(nrev1), observed: observed(runningOf(nrev1, { web: { state: 'exited' } })) });
    assert.equal(plan.action, 'repair');
    assert.equal(plan.awaitingApproval, true);
    assert.equal(plan.reason, 'AwaitingApproval');
    assertRepairsRevision(plan, nrev1);
    assert.ok(!step(plan, 'pull').images.includes(pinned('web', 'c')), 'the unapproved image is not pulled');
  });

  test('a first deploy without approval does nothing and waits', () => {
    const n = target({ version: '1.0.0', mode: 'notify' });
    const plan = run({ desired: valid(n), recorded: {}, observed: observed([]) });
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.awaitingApproval, true);
    assert.equal(plan.reason, 'AwaitingApproval');
  });

  test('the applied target needs no approval again: in sync means nothing to do', () => {
    const plan = run({ desired: valid(n1), recorded: recorded(nrev1), observed: observed(runningOf(nrev1)) });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'InSync');
    assert.equal(plan.awaitingApproval, false);
  });
});

describe('decide in disabled mode', () => {
  const d1 = target({ version: '1.0.0', mode: 'disabled' });
  const drev1 = record(d1, 1);
  const d2 = target({ version: '2.0.0', mode: 'disabled', images: v2.images });
  const rows: Array<{ name: string; input: Omit<PlanInput, 'now'> }> = [
    { name: 'everything runs as applied', input: { desired: valid(d1), recorded: recorded(drev1), observed: observed(runningOf(drev1)) } },
    { name: 'a container is missing', input: { desired: valid(d1), recorded: recorded(drev1), observed: observed(runningOf(drev1, { db: null })) } },
    { name: 'a container exited', input: { desired: valid(d1), recorded: recorded(drev1), observed: observed(runningOf(drev1, { web: { state: 'exited' } })) } },
    { name: 'a container runs another digest', input: { desired: valid(d1), recorded: recorded(drev1), observed: observed(runningOf(drev1, { web: { digests: [pinned('web', 'e')] } })) } },
    { name: 'a new target is set', input: { desired: valid(d2), recorded: recorded(drev1), observed: observed(runningOf(drev1)) } },
    { name: 'nothing was ever applied and nothing runs', input: { desired: valid(d1), recorded: {}, observed: observed([]) } },
  ];
  for (const row of rows) {
    test(`berth takes no step when ${row.name}`, () => {
      const plan = run(row.input);
      assert.equal(plan.action, 'none');
      assert.deepEqual(plan.steps, []);
      assert.equal(plan.reason, 'UpdatesDisabled');
      assert.equal(plan.awaitingApproval, false);
    });
  }

  test('disabled mode still reports the drift it will not repair', () => {
    const plan = run({ desired: valid(d1), recorded: recorded(drev1), observed: observed(runningOf(drev1, { db: null })) });
    assert.deepEqual(
      plan.drift.map((d) => [d.service, d.kind]),
      [['db', 'missing']],
    );
    assert.match(plan.message, /disabled/);
  });
});

describe('decide with an invalid manifest', () => {
  const broken = runningOf(rev1, { web: { state: 'exited' } });
  const rows: Array<{ name: string; input: Omit<PlanInput, 'now'>; action: Plan['action'] }> = [
    { name: 'last valid mode auto, applied revision drifted', input: { desired: invalid('auto'), recorded: recorded(rev1), observed: observed(broken) }, action: 'repair' },
    { name: 'last valid mode notify, applied revision drifted', input: { desired: invalid('notify'), recorded: recorded(rev1), observed: observed(broken) }, action: 'repair' },
    { name: 'last valid mode auto, applied revision runs', input: { desired: invalid('auto'), recorded: recorded(rev1), observed: observed(runningOf(rev1)) }, action: 'none' },
    { name: 'last valid mode disabled, applied revision drifted', input: { desired: invalid('disabled'), recorded: recorded(rev1), observed: observed(broken) }, action: 'none' },
    { name: 'nothing was ever applied', input: { desired: invalid('auto'), recorded: {}, observed: observed([]) }, action: 'none' },
    {
      // After a restart with a manifest whose mode cannot be read and no status.mode: the
      // applied revision's own mode (auto) does not say what the person wants now.
      name: 'no mode can be read anywhere, the applied revision was made in auto mode, and it drifted',
      input: { desired: invalid(), recorded: recorded(rev1), observed: observed(broken) },
      action: 'none',
    },
    {
      name: 'after a restart, status.mode auto, drifted',
      input: { desired: invalid(undefined, { statusMode: 'auto' }), recorded: recorded(rev1), observed: observed(broken) },
      action: 'repair',
    },
    {
      name: 'after a restart, status.mode disabled, drifted',
      input: { desired: invalid(undefined, { statusMode: 'disabled' }), recorded: recorded(rev1), observed: observed(broken) },
      action: 'none',
    },
    {
      name: 'the manifest says disabled (its compose file is missing), last valid mode auto, drifted',
      input: { desired: invalid('auto', { manifestMode: 'disabled', statusMode: 'auto' }), recorded: recorded(rev1), observed: observed(broken) },
      action: 'none',
    },
    {
      name: 'the broken manifest asks for auto, berth last acted under disabled, drifted',
      input: { desired: invalid(undefined, { manifestMode: 'auto', statusMode: 'disabled' }), recorded: recorded(rev1), observed: observed(broken) },
      action: 'none',
    },
    {
      name: 'only the broken manifest says a mode (notify), drifted',
      input: { desired: invalid(undefined, { manifestMode: 'notify' }), recorded: recorded(rev1), observed: observed(broken) },
      action: 'repair',
    },
  ];
  for (const row of rows) {
    test(`berth keeps the applied revision, never a new one: ${row.name} -> ${row.action}`, () => {
      const plan = run(row.input);
      assert.equal(plan.action, row.action);
      assert.equal(plan.reason, 'InvalidSpec');
      assert.equal(plan.awaitingApproval, false);
      if (row.action === 'repair') assertRepairsRevision(plan, rev1);
      else assert.deepEqual(plan.steps, []);
      assert.ok(!kinds(plan).includes('writeRevision'));
    });
  }

  test('hands off: the plan message says why berth does nothing', () => {
    const plan = run({ desired: invalid('auto', { manifestMode: 'disabled' }), recorded: recorded(rev1), observed: observed(broken) });
    assert.match(plan.message, /spec\.version: is required but missing; the manifest still says mode: disabled/);
  });

  test('the plan message carries the validation error', () => {
    const plan = run({ desired: invalid('auto'), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    assert.match(plan.message, /spec\.version: is required but missing/);
  });
});

describe('decide after a crash mid-apply', () => {
  test('a newer revision on disk for the same target is resumed: compose up of that revision, no new revision written', () => {
    const rev2 = record(v2, 2, rev1.services);
    const plan = run({ desired: valid(v2), recorded: recorded(rev1, rev2), observed: observed(runningOf(rev1)) });
    assert.equal(plan.action, 'resume');
    assert.equal(plan.reason, 'Resuming');
    assertRepairsRevision(plan, rev2);
    assert.ok(!kinds(plan).includes('writeRevision'));
  });

  test('a revision written for a first deploy that never ran is resumed too', () => {
    const plan = run({ desired: valid(v1), recorded: { latest: rev1 }, observed: observed([]) });
    assert.equal(plan.action, 'resume');
    assertRepairsRevision(plan, rev1);
  });

  test('a newer revision on disk for another target is not resumed: a new revision is written', () => {
    const stale = record(target({ version: '1.5.0', images: { web: pinned('web', '7'), db: pinned('db', 'b') } }), 2, rev1.services);
    const plan = run({ desired: valid(v2), recorded: recorded(rev1, stale), observed: observed(runningOf(rev1)) });
    assert.equal(plan.action, 'apply');
    assert.equal(step(plan, 'writeRevision').record.revision, 3);
  });
});

describe('the plan explains itself with a JSON Patch', () => {
  test('the patch is empty when what runs is what was asked', () => {
    const plan = run({ desired: valid(v1), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    assert.deepEqual(plan.patch, []);
  });

  test('the patch replaces the image of a service that runs another digest', () => {
    const plan = run({ desired: valid(v2), recorded: recorded(rev1), observed: observed(runningOf(rev1)) });
    assert.notDeepEqual(plan.patch, []);
    assert.deepEqual(plan.patch, [{ op: 'replace', path: '/services/web/image', value: pinned('web', 'c') }]);
  });

  test('the patch adds a missing service and removes an orphan one', () => {
    const containers = runningOf(rev1, { db: null });
    containers.push(container('worker'));
    const plan = run({ desired: valid(v1), recorded: recorded(rev1), observed: observed(containers) });
    const ops = plan.patch.map((o) => `${o.op} ${o.path}`).sort();
    assert.deepEqual(ops, ['add /services/db', 'remove /services/worker']);
  });

  test('the patch of a first deploy adds every service', () => {
    const plan = run({ desired: valid(v1), recorded: {}, observed: observed([]) });
    assert.deepEqual(plan.patch.map((o) => `${o.op} ${o.path}`).sort(), ['add /services/db', 'add /services/web']);
  });

  test(
    'the patch is empty for a service scaled to two replicas that both run what was asked',
    () => {
      const web = composeDoc({ web: { image: 'registry.local/web:latest', deploy: { replicas: 2 } } });
      const t = target({ version: '1.0.0' }, web);
      const rec = record(t, 1);
      const containers = [
        ...runningOf(rec),
        container('web', { name: `${STACK}-web-2`, digests: [pinned('web', 'a')], revision: 1 }),
      ];
      const plan = run({ desired: valid(t), recorded: recorded(rec), observed: observed(containers) });
      assert.equal(plan.action, 'none');
      assert.deepEqual(plan.patch, []);
    },
  );
});
