// What a berth that just started does with an operation it finds under verification: go on
// verifying against the journalled deadline, or run compose up again first because what runs
// is no longer the revision (or was stopped under it). One row per case.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operation } from '../../src/api/types.js';
import { resumeAfterRestart } from '../../src/plan/resume.js';
import { afterComposeUp, engineWentAway, interrupted, withStep } from '../../src/plan/progress.js';
import type { ObservedContainer, RevisionRecord } from '../../src/plan/types.js';
import { at, iso, observed, operation, pinned, progress, record, runningOf, target } from './fixtures.js';

const two = record(target({ version: '2.0.0', images: { web: pinned('web', 'b'), db: pinned('db', 'c') } }), 2);
const one = record(target({ version: '1.0.0', images: { web: pinned('web', 'a'), db: pinned('db', 'c') } }), 1);

interface Row {
  name: string;
  op: Operation | undefined;
  record?: RevisionRecord;
  containers: ObservedContainer[];
  reapply: boolean;
  why: RegExp;
}

const rows: Row[] = [
  { name: 'nothing in flight', op: undefined, record: two, containers: runningOf(two), reapply: false, why: /nothing in flight/ },
  {
    name: "the revision's containers run (healthy or not yet): verification goes on",
    op: operation(two),
    record: two,
    containers: runningOf(two, { web: { health: 'starting' } }),
    reapply: false,
    why: /revision 2 runs; verification resumes with its deadline/,
  },
  {
    name: 'a container restarting under its own policy is for the gate to judge',
    op: operation(two),
    record: two,
    containers: runningOf(two, { web: { state: 'restarting' } }),
    reapply: false,
    why: /resumes/,
  },
  {
    name: 'a container that exited with a code of its own is for the gate to judge (it fails it)',
    op: operation(two),
    record: two,
    containers: runningOf(two, { web: { state: 'exited', details: { exitCode: 1, restartCount: 0 } } }),
    reapply: false,
    why: /resumes/,
  },
  {
    name: 'a container stopped from outside (as an engine restart stops it): compose up again',
    op: operation(two),
    record: two,
    containers: runningOf(two, { web: { state: 'exited', details: { exitCode: 143, restartCount: 0 } } }),
    reapply: true,
    why: /stopped from outside.*web/,
  },
  {
    name: 'killed by the OOM killer is the revision failing, not a stop from outside',
    op: operation(two),
    record: two,
    containers: runningOf(two, { web: { state: 'exited', details: { exitCode: 137, oomKilled: true, restartCount: 0 } } }),
    reapply: false,
    why: /resumes/,
  },
  {
    name: 'a container never started (created) or dead: compose up again',
    op: operation(two),
    record: two,
    containers: runningOf(two, { db: { state: 'created' } }),
    reapply: true,
    why: /db/,
  },
  {
    name: "a service's container is gone: compose up again",
    op: operation(two),
    record: two,
    containers: runningOf(two, { db: null }),
    reapply: true,
    why: /not revision 2's.*db: no container/,
  },
  {
    name: 'the containers are the previous revision\'s (another image, another label): compose up again',
    op: operation(two),
    record: two,
    containers: runningOf(one),
    reapply: true,
    why: /not revision 2's/,
  },
  {
    name: 'a container that is not in the revision does not matter here',
    op: operation(two),
    record: two,
    containers: [...runningOf(two), ...runningOf(one).map((c) => ({ ...c, service: 'extra' }))],
    reapply: false,
    why: /resumes/,
  },
  {
    name: 'compose up was under way: the step itself repeats (no mark needed)',
    op: operation(two, { step: 'composeUp' }),
    record: two,
    containers: runningOf(one),
    reapply: false,
    why: /composeUp step repeats/,
  },
  {
    name: 'already marked interrupted (the engine went away): left as it is',
    op: operation(two, { interrupted: 'the engine became unreachable' }),
    record: two,
    containers: runningOf(two),
    reapply: false,
    why: /already/,
  },
  {
    name: 'a repair holds no deadline: it is recomputed from what runs',
    op: operation(two, { kind: 'repair' }),
    record: two,
    containers: [],
    reapply: false,
    why: /repair/,
  },
  {
    name: 'the revision is not on disk: the planner reports that',
    op: operation(two),
    containers: runningOf(two),
    reapply: false,
    why: /not on disk/,
  },
];

describe('resumeAfterRestart', () => {
  for (const row of rows) {
    test(row.name, () => {
      const r = resumeAfterRestart(row.op, row.record, observed(row.containers));
      assert.equal(r.reapply, row.reapply, r.why);
      assert.match(r.why, row.why);
    });
  }
});

describe('the verification deadline across restarts', () => {
  const verifying = progress({ revision: 2, operation: operation(two) });
  const deadline = verifying.operation!.verifyDeadline;

  test('compose up run again after a berth restart keeps the journalled deadline', () => {
    const again = withStep(interrupted(verifying, 'stopped from outside'), 'composeUp', at(50));
    const after = afterComposeUp(again, at(60), 120);
    assert.equal(after.operation?.verifyDeadline, deadline);
    assert.equal(after.operation?.stepStarted, iso(60));
    assert.equal(after.operation?.interrupted, undefined);
  });

  test('a berth restarting every few seconds never moves it', () => {
    let p = verifying;
    for (let i = 1; i <= 5; i++) p = afterComposeUp(withStep(interrupted(p, 'restart'), 'composeUp', at(i * 10)), at(i * 10 + 1), 120);
    assert.equal(p.operation?.verifyDeadline, deadline);
  });

  test('when the engine itself went away, the revision is applied afresh and gets a full deadline', () => {
    const gone = engineWentAway(verifying, 'the engine connection dropped');
    assert.equal(gone.operation?.verifyDeadline, undefined);
    assert.match(gone.operation?.interrupted ?? '', /dropped/);
    const after = afterComposeUp(withStep(gone, 'composeUp', at(50)), at(60), 120);
    assert.equal(after.operation?.verifyDeadline, iso(180));
  });

  test('a first compose up sets the deadline from when it finished', () => {
    const fresh = progress({ operation: operation(two, { step: 'composeUp' }) });
    assert.equal(afterComposeUp(fresh, at(5), 120).operation?.verifyDeadline, iso(125));
  });
});
