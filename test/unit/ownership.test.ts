// managedElsewhere() and decide(): a compose project stamped by another berth instance is left
// to it; unstamped containers are adopted as before; berth.dev/adopt takes over deliberately.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../src/plan/decide.js';
import { managedElsewhere } from '../../src/plan/ownership.js';
import { buildStatus } from '../../src/plan/status.js';
import type { ObservedContainer } from '../../src/plan/types.js';
import { NOW, observed, operation, progress, record, recorded, runningOf, target, valid } from './fixtures.js';

const SELF = 'instance-self';
const OTHER = 'instance-other';
const v1 = target();
const rev1 = record(v1, 1);
const stampedBy = (instance: string | undefined, tweak: Parameters<typeof runningOf>[1] = {}): ObservedContainer[] =>
  runningOf(rev1, tweak).map((c) => (instance !== undefined ? { ...c, instance } : c));

describe('managedElsewhere', () => {
  const rows: Array<{ name: string; containers: ObservedContainer[]; instance?: string; adopt?: string; elsewhere: string[] | undefined }> = [
    { name: 'containers stamped by this berth', containers: stampedBy(SELF), instance: SELF, elsewhere: undefined },
    { name: 'containers with no stamp (a person\'s own, or made before stamping)', containers: stampedBy(undefined), instance: SELF, elsewhere: undefined },
    { name: 'no containers', containers: [], instance: SELF, elsewhere: undefined },
    { name: 'containers stamped by another berth', containers: stampedBy(OTHER), instance: SELF, elsewhere: [OTHER] },
    {
      name: 'one container stamped by another berth beside unstamped ones',
      containers: [...stampedBy(undefined, { db: null }), ...stampedBy(OTHER, { web: null })],
      instance: SELF,
      elsewhere: [OTHER],
    },
    { name: 'stamped by another berth, adopt names it', containers: stampedBy(OTHER), instance: SELF, adopt: OTHER, elsewhere: undefined },
    { name: 'stamped by another berth, adopt names a third one', containers: stampedBy(OTHER), instance: SELF, adopt: 'instance-third', elsewhere: [OTHER] },
    { name: 'this berth does not know its own id', containers: stampedBy(OTHER), elsewhere: undefined },
  ];
  for (const row of rows) {
    test(`${row.name} -> ${row.elsewhere === undefined ? 'berth manages it' : 'ManagedElsewhere'}`, () => {
      const got = managedElsewhere({
        observed: observed(row.containers),
        ...(row.instance !== undefined ? { instance: row.instance } : {}),
        ...(row.adopt !== undefined ? { adopt: row.adopt } : {}),
      });
      assert.deepEqual(got?.instances, row.elsewhere);
    });
  }

  test('the message names the other instance and the annotation that hands the project over', () => {
    const got = managedElsewhere({ observed: observed(stampedBy(OTHER)), instance: SELF });
    assert.match(got!.message, /managed by another berth instance, instance-other/);
    assert.match(got!.message, /metadata\.annotations\["berth\.dev\/adopt"\]: "instance-other"/);
  });
});

describe('decide on a project another berth manages', () => {
  const v2 = target({ version: '2.0.0' });

  test('a new target is not applied, a drifted revision is not repaired: no steps, reason ManagedElsewhere', () => {
    for (const input of [
      { desired: valid(v2), recorded: recorded(rev1), observed: observed(stampedBy(OTHER)) },
      { desired: valid(v1), recorded: recorded(rev1), observed: observed(stampedBy(OTHER, { web: { state: 'exited' } })) },
      { desired: valid(v1), recorded: {}, observed: observed(stampedBy(OTHER)) },
    ]) {
      const plan = decide({ ...input, instance: SELF, now: NOW });
      assert.equal(plan.action, 'none');
      assert.deepEqual(plan.steps, []);
      assert.equal(plan.reason, 'ManagedElsewhere');
    }
  });

  test('an operation in flight here ends (Superseded, ManagedElsewhere)', () => {
    const p = progress({ revision: 1, operation: operation(rev1), history: [{ revision: 1, version: '1.0.0', operation: 'update', started: NOW.toISOString(), outcome: 'Progressing' }] });
    const plan = decide({ desired: valid(v1), recorded: { ...recorded(rev1), operating: rev1 }, observed: observed(stampedBy(OTHER)), progress: p, instance: SELF, now: NOW });
    assert.equal(plan.progress.operation, undefined);
    assert.equal(plan.progress.history[0]?.outcome, 'Superseded');
    assert.equal(plan.progress.history[0]?.reason, 'ManagedElsewhere');
  });

  test('with berth.dev/adopt naming the other berth, the target is applied and the new revision is stamped with this one', () => {
    const adopting = target({ version: '2.0.0', annotations: { 'berth.dev/adopt': OTHER } });
    const plan = decide({ desired: valid(adopting), recorded: {}, observed: observed(stampedBy(OTHER)), instance: SELF, now: NOW });
    assert.equal(plan.action, 'apply');
    const write = plan.steps.find((s) => s.kind === 'writeRevision');
    assert.ok(write !== undefined && write.kind === 'writeRevision');
    assert.match(write.composeText, /dev\.berth\.instance: instance-self/);
  });

  test('unstamped containers are adopted as before: a drifted revision is repaired', () => {
    const plan = decide({ desired: valid(v1), recorded: recorded(rev1), observed: observed(stampedBy(undefined, { web: { state: 'exited' } })), instance: SELF, now: NOW });
    assert.equal(plan.action, 'repair');
  });
});

describe('the status of a project another berth manages', () => {
  test('Ready=False, reason ManagedElsewhere, with the message that says how to hand over', () => {
    const input = { desired: valid(v1), recorded: {}, observed: observed(stampedBy(OTHER)), instance: SELF, now: NOW };
    const plan = decide(input);
    const status = buildStatus({ name: 'shop', desired: input.desired, recorded: {}, observed: input.observed, plan, progress: plan.progress, now: NOW });
    const ready = status.status.conditions.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'ManagedElsewhere');
    assert.match(ready!.message, /instance-other.*berth\.dev\/adopt/s);
  });
});
