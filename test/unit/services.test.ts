// Services as compose runs them: only services of enabled profiles are expected, a one-shot
// job that exited 0 is done (a non-zero exit fails the revision), and `replicas: 0` expects
// no container. Tables for the derivation, drift, the health gate, decide and the status.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findDrift } from '../../src/plan/compare.js';
import { decide } from '../../src/plan/decide.js';
import { evaluateGate } from '../../src/plan/gate.js';
import { resumeAfterRestart } from '../../src/plan/resume.js';
import { revisionRuns, targetRuns } from '../../src/plan/runs.js';
import { serviceExpectations, type ServiceExpectation } from '../../src/plan/services.js';
import { buildStatus } from '../../src/plan/status.js';
import { resolveTarget } from '../../src/plan/target.js';
import { exitCodeFromStatus } from '../../src/docker/observe.js';
import type { ComposeDocument, DriftKind, ObservedContainer, Plan, Target } from '../../src/plan/types.js';
import {
  COMPOSE_FILE,
  MANIFEST,
  NOW,
  at,
  container,
  entry,
  iso,
  observed,
  operation,
  pinned,
  progress,
  record,
  recorded,
  runningOf,
  stack,
  valid,
  type ContainerOptions,
} from './fixtures.js';

const JOB = { image: 'registry.local/migrate:1', restart: 'no', command: ['migrate'] };
const APP = { image: 'registry.local/app:1', depends_on: { migrate: { condition: 'service_completed_successfully' } } };

describe('serviceExpectations: what compose runs of each service', () => {
  const rows: Array<{ name: string; services: Record<string, Record<string, unknown>>; profiles?: string[]; service: string; want: ServiceExpectation }> = [
    { name: 'a plain service: one container, long-running', services: { web: { image: 'w' } }, service: 'web', want: { replicas: 1, isJob: false, profiles: [], active: true } },
    { name: 'restart "no" says it is a job', services: { migrate: JOB }, service: 'migrate', want: { replicas: 1, isJob: true, profiles: [], active: true } },
    {
      name: 'awaited with service_completed_successfully and no restart policy: a job',
      services: { migrate: { image: 'm' }, app: APP },
      service: 'migrate',
      want: { replicas: 1, isJob: true, profiles: [], active: true },
    },
    {
      name: 'awaited but restart: always (compose restarts it): not a job',
      services: { migrate: { image: 'm', restart: 'always' }, app: APP },
      service: 'migrate',
      want: { replicas: 1, isJob: false, profiles: [], active: true },
    },
    {
      name: 'awaited with restart: on-failure (stays exited after 0): a job',
      services: { migrate: { image: 'm', restart: 'on-failure:3' }, app: APP },
      service: 'migrate',
      want: { replicas: 1, isJob: true, profiles: [], active: true },
    },
    {
      name: 'deploy.restart_policy.condition none says it is a job',
      services: { once: { image: 'o', deploy: { restart_policy: { condition: 'none' } } } },
      service: 'once',
      want: { replicas: 1, isJob: true, profiles: [], active: true },
    },
    {
      name: 'no restart policy and nothing awaits it: long-running, as before',
      services: { web: { image: 'w' }, app: { image: 'a', depends_on: { web: { condition: 'service_started' } } } },
      service: 'web',
      want: { replicas: 1, isJob: false, profiles: [], active: true },
    },
    { name: 'deploy.replicas 0 expects none', services: { off: { image: 'o', deploy: { replicas: 0 } } }, service: 'off', want: { replicas: 0, isJob: false, profiles: [], active: true } },
    { name: 'scale 0 expects none', services: { off: { image: 'o', scale: 0 } }, service: 'off', want: { replicas: 0, isJob: false, profiles: [], active: true } },
    { name: 'deploy.replicas 3 (a string in a hand-written file)', services: { w: { image: 'w', deploy: { replicas: '3' } } }, service: 'w', want: { replicas: 3, isJob: false, profiles: [], active: true } },
    { name: 'a profile nobody enabled: not active', services: { dbg: { image: 'd', profiles: ['debug'] } }, service: 'dbg', want: { replicas: 1, isJob: false, profiles: ['debug'], active: false } },
    {
      name: 'one of its profiles is enabled: active',
      services: { dbg: { image: 'd', profiles: ['debug', 'ops'] } },
      profiles: ['ops'],
      service: 'dbg',
      want: { replicas: 1, isJob: false, profiles: ['debug', 'ops'], active: true },
    },
    { name: '"*" enables every profile', services: { dbg: { image: 'd', profiles: ['debug'] } }, profiles: ['*'], service: 'dbg', want: { replicas: 1, isJob: false, profiles: ['debug'], active: true } },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(serviceExpectations(row.services, row.profiles)[row.service], row.want);
    });
  }
});

describe('exit codes come from the list API, not an inspect per container', () => {
  const rows: Array<[state: string, status: string, code: number | undefined]> = [
    ['exited', 'Exited (0) 3 seconds ago', 0],
    ['exited', 'Exited (3) About a minute ago', 3],
    ['exited', 'Exited (137) 2 hours ago', 137],
    ['running', 'Up 5 minutes', undefined],
    ['created', 'Created', undefined],
  ];
  for (const [state, status, code] of rows) {
    test(`${state} "${status}" -> ${code ?? 'no code'}`, () => assert.equal(exitCodeFromStatus(state, status), code));
  }
});

// The stack of every case below: web (pinned), an init job it awaits, a service of the
// `debug` profile, and one scaled to zero.
function doc(overrides: Record<string, Record<string, unknown>> = {}): ComposeDocument {
  return {
    services: {
      web: { image: 'registry.local/web:latest', depends_on: { migrate: { condition: 'service_completed_successfully' } } },
      migrate: { image: 'registry.local/web:latest', command: ['sh', '-c', 'exit 0'] },
      debug: { image: 'registry.local/web:latest', profiles: ['debug'] },
      spare: { image: 'registry.local/web:latest', deploy: { replicas: 0 } },
      ...overrides,
    },
  };
}

function targetOf(version: string, compose: ComposeDocument, activeProfiles?: string[]): Target {
  const s = stack({ version, images: { web: pinned('web', version === '1.0.0' ? 'a' : 'c'), migrate: pinned('web', version === '1.0.0' ? 'a' : 'c') } });
  return resolveTarget({ stack: s, manifest: MANIFEST, composeFile: COMPOSE_FILE, compose, ...(activeProfiles ? { activeProfiles } : {}) });
}

const v1 = targetOf('1.0.0', doc());
const rev1 = record(v1, 1);

/** What compose leaves after `up` of rev1: web running, the job exited 0, nothing of debug or spare. */
function converged(tweak: Record<string, ContainerOptions | null> = {}): ObservedContainer[] {
  return runningOf(rev1, { migrate: { state: 'exited', exitCode: 0 }, debug: null, spare: null, ...tweak });
}

describe('compare: drift of jobs, profiles and replicas 0', () => {
  const rows: Array<{ name: string; containers: ObservedContainer[]; want: Array<[string, DriftKind]> }> = [
    { name: 'job exited 0, profile service and replicas-0 service absent: no drift', containers: converged(), want: [] },
    { name: 'the job is still running: no drift', containers: converged({ migrate: { state: 'running' } }), want: [] },
    { name: 'the job exited 3: jobFailed', containers: converged({ migrate: { state: 'exited', exitCode: 3 } }), want: [['migrate', 'jobFailed']] },
    { name: 'the job never ran: missing', containers: converged({ migrate: null }), want: [['migrate', 'missing']] },
    { name: 'the job was killed (137): notRunning, compose up runs it again', containers: converged({ migrate: { state: 'exited', exitCode: 137 } }), want: [['migrate', 'notRunning']] },
    { name: 'web exited 0 (web is no job): notRunning', containers: converged({ web: { state: 'exited', exitCode: 0 } }), want: [['web', 'notRunning']] },
    {
      name: "a person's container of the debug profile: not a stray",
      containers: [...converged(), container('debug', { revision: 1 })],
      want: [],
    },
    { name: 'a container of the replicas-0 service: unexpected', containers: [...converged(), container('spare', { revision: 1 })], want: [['spare', 'unexpected']] },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const drift = findDrift(revisionRuns(rev1), observed(row.containers));
      assert.deepEqual(drift.map((d) => [d.service, d.kind]), row.want, JSON.stringify(drift));
    });
  }

  test('the failed job is named with its exit code', () => {
    const [d] = findDrift(revisionRuns(rev1), observed(converged({ migrate: { name: 'shop-migrate-1', state: 'exited', exitCode: 3 } })));
    assert.equal(d?.detail, 'job migrate failed: shop-migrate-1 exited with code 3');
  });

  test('a target with the debug profile enabled expects it', () => {
    const t = targetOf('1.0.0', doc(), ['debug']);
    const drift = findDrift(targetRuns(t), observed(converged()));
    assert.deepEqual(drift.map((d) => [d.service, d.kind]), [['debug', 'missing']]);
    assert.notEqual(t.key, v1.key, 'enabling a profile is a new target');
  });

  test('the revision record says what compose runs of each service', () => {
    const shape = Object.fromEntries(rev1.services.map((s) => [s.name, { job: s.job, replicas: s.replicas, inactive: s.inactive }]));
    assert.deepEqual(shape, {
      web: { job: undefined, replicas: undefined, inactive: undefined },
      migrate: { job: true, replicas: undefined, inactive: undefined },
      debug: { job: undefined, replicas: undefined, inactive: true },
      spare: { job: undefined, replicas: 0, inactive: undefined },
    });
  });
});

describe('gate: a job that exited 0 is done, a non-zero exit fails the revision', () => {
  const v2 = targetOf('2.0.0', doc());
  const rev2 = record(v2, 2, rev1.services);
  const details = { startedAt: iso(-30), restartCount: 0 };
  const sample = (migrate: ContainerOptions): ObservedContainer[] =>
    runningOf(rev2, { web: { details }, migrate: { details, ...migrate }, debug: null, spare: null });
  const gate = (containers: ObservedContainer[], now = at(40)) =>
    evaluateGate({ record: rev2, observed: observed(containers), probes: [], operation: operation(rev2, { healthySince: iso(2) }), health: { stableForSeconds: 10 }, now });

  const rows: Array<{ name: string; migrate: ContainerOptions; extra?: ObservedContainer[]; verdict: string; reason?: string; message?: RegExp }> = [
    { name: 'job exited 0 (inspected): passed', migrate: { state: 'exited', details: { ...details, exitCode: 0 } }, verdict: 'passed' },
    { name: 'job exited 0 (list API only): passed', migrate: { state: 'exited', exitCode: 0 }, verdict: 'passed' },
    {
      name: 'job exited 3: failed, JobFailed, naming the service and the code',
      migrate: { name: 'shop-migrate-1', state: 'exited', details: { ...details, exitCode: 3 } },
      verdict: 'failed',
      reason: 'JobFailed',
      message: /^job migrate \(container shop-migrate-1\) exited with code 3$/,
    },
    { name: 'job still running: pending until it ends', migrate: { state: 'running' }, verdict: 'pending', message: /job migrate .* is still running/ },
    {
      name: "a person's debug container that exited 1 is not the revision's to judge",
      migrate: { state: 'exited', exitCode: 0 },
      extra: [container('debug', { state: 'exited', exitCode: 1, details: { ...details, exitCode: 1 } })],
      verdict: 'passed',
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const v = gate([...sample(row.migrate), ...(row.extra ?? [])]);
      assert.equal(v.verdict, row.verdict, JSON.stringify(v));
      if (row.reason !== undefined) assert.equal((v as { reason: string }).reason, row.reason);
      if (row.message !== undefined) assert.match(v.message, row.message);
    });
  }
});

describe('decide: converged means converged, with jobs done and nothing of inactive profiles', () => {
  const steady = (containers: ObservedContainer[]): Plan =>
    decide({ desired: valid(v1), recorded: recorded(rev1), observed: observed(containers), progress: progress({ revision: 1, lastGoodRevision: 1, history: [entry(rev1, { outcome: 'Healthy' })] }), now: NOW });

  const rows: Array<{ name: string; containers: ObservedContainer[]; action: Plan['action']; reason: string }> = [
    { name: 'job done, profile and replicas-0 services absent: nothing to do', containers: converged(), action: 'none', reason: 'InSync' },
    { name: "a person's container of an inactive profile: nothing to do", containers: [...converged(), container('debug', { revision: 1 })], action: 'none', reason: 'InSync' },
    { name: 'a container of the replicas-0 service: repair (compose up removes it)', containers: [...converged(), container('spare', { revision: 1 })], action: 'repair', reason: 'Repairing' },
    { name: 'the job failed after the revision passed: reported, not re-run on every pass', containers: converged({ migrate: { state: 'exited', exitCode: 2 } }), action: 'none', reason: 'InSync' },
    { name: 'the job was never run: repair runs it', containers: converged({ migrate: null }), action: 'repair', reason: 'Repairing' },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const plan = steady(row.containers);
      assert.equal(plan.action, row.action, plan.message);
      assert.equal(plan.reason, row.reason);
    });
  }

  test('the patch shows nothing to change for a done job and services that expect nothing', () => {
    assert.deepEqual(steady([...converged(), container('debug', { revision: 1 })]).patch, []);
  });

  test('an update whose job exits non-zero fails its gate and rolls back to the last good revision', () => {
    const v2 = targetOf('2.0.0', doc({ migrate: { image: 'registry.local/web:latest', command: ['sh', '-c', 'exit 3'] } }));
    const rev2 = record(v2, 2, rev1.services);
    const details = { startedAt: iso(-30), restartCount: 0 };
    const containers = runningOf(rev2, { web: { details }, migrate: { state: 'exited', details: { ...details, exitCode: 3 } }, debug: null, spare: null });
    const plan = decide({
      desired: valid(v2),
      recorded: { applied: rev2, latest: rev2, lastGood: rev1, operating: rev2 },
      observed: observed(containers),
      progress: progress({ revision: 2, lastGoodRevision: 1, operation: operation(rev2, { fromRevision: 1 }), history: [entry(rev2, { outcome: 'Progressing' }), entry(rev1, { outcome: 'Healthy' })] }),
      now: at(5),
    });
    assert.equal(plan.action, 'rollback');
    assert.match(plan.message, /JobFailed: job migrate \(container .*\) exited with code 3/);
  });
});

describe('resume after a restart: a finished job was not stopped from outside', () => {
  test('a job that exited 0 under verification does not make compose up run again', () => {
    const containers = converged({ migrate: { state: 'exited', exitCode: 0, details: { restartCount: 0, exitCode: 0 } } });
    const r = resumeAfterRestart(operation(rev1), rev1, observed(containers));
    assert.equal(r.reapply, false, r.why);
  });
});

describe('status: a done job is healthy, an inactive profile is said to be', () => {
  const status = (containers: ObservedContainer[]) => {
    const obs = observed(containers);
    const p = progress({ revision: 1, lastGoodRevision: 1, history: [entry(rev1, { outcome: 'Healthy' })] });
    const plan = decide({ desired: valid(v1), recorded: recorded(rev1), observed: obs, progress: p, now: NOW });
    return buildStatus({ name: 'shop', desired: valid(v1), recorded: recorded(rev1), observed: obs, plan, progress: plan.progress, now: NOW }).status;
  };

  test('Ready and Healthy with the job exited 0', () => {
    const s = status(converged());
    const cond = (t: string) => s.conditions.find((c) => c.type === t);
    assert.equal(cond('Ready')?.status, 'True', JSON.stringify(s.conditions));
    assert.equal(cond('Healthy')?.status, 'True');
  });

  test('each service says what is expected of it and why', () => {
    const s = status(converged());
    const svc = Object.fromEntries((s.services ?? []).map((x) => [x.name, { desiredReplicas: x.desiredReplicas, job: x.job, reason: x.reason }]));
    assert.deepEqual(svc, {
      debug: { desiredReplicas: 0, job: undefined, reason: 'ProfileInactive' },
      migrate: { desiredReplicas: undefined, job: true, reason: 'JobCompleted' },
      spare: { desiredReplicas: 0, job: undefined, reason: 'ScaledToZero' },
      web: { desiredReplicas: undefined, job: undefined, reason: undefined },
    });
  });

  test('a failed job makes Healthy False with reason JobFailed and the exit code', () => {
    const s = status(converged({ migrate: { name: 'shop-migrate-1', state: 'exited', exitCode: 4 } }));
    const healthy = s.conditions.find((c) => c.type === 'Healthy');
    assert.equal(healthy?.reason, 'JobFailed');
    assert.match(healthy?.message ?? '', /job migrate \(shop-migrate-1\) exited with code 4/);
  });
});

describe('known and pinnable: every service of the model, wherever its definition came from', () => {
  test("a service from an `include:`d file, as compose's resolved model lists it, is expected and takes a pin", () => {
    // `docker compose config` merges included services into `services`: the planner needs no more.
    const model: ComposeDocument = { services: { web: { image: 'registry.local/web:latest' }, cache: { image: 'registry.local/cache:7' } } };
    const s = stack({ images: { web: pinned('web', 'a'), cache: pinned('cache', 'd') } });
    const t = resolveTarget({ stack: s, manifest: MANIFEST, composeFile: COMPOSE_FILE, compose: model });
    assert.deepEqual(targetRuns(t).find((r) => r.name === 'cache'), { name: 'cache', pinned: pinned('cache', 'd'), replicas: 1 });
  });

  test('a pin of a service of an inactive profile is accepted, but its image is not pulled for compose up', () => {
    const s = stack({ images: { web: pinned('web', 'a'), debug: pinned('debug', 'e') } });
    const t = resolveTarget({ stack: s, manifest: MANIFEST, composeFile: COMPOSE_FILE, compose: doc() });
    const plan = decide({ desired: valid(t), recorded: {}, observed: observed([]), now: NOW });
    const pull = plan.steps.find((x) => x.kind === 'pull');
    assert.ok(pull !== undefined && pull.kind === 'pull');
    assert.deepEqual(pull.images, [pinned('web', 'a')]);
  });
});

describe("a model compose resolved itself holds only enabled services: ['*']", () => {
  test('every service of the model is expected, profiles or not, and the key is the one without profiles', () => {
    // What `docker compose --profile debug config` prints: debug kept, with its profiles.
    const model = doc();
    const all = targetOf('1.0.0', model, ['*']);
    assert.equal(targetRuns(all).find((r) => r.name === 'debug')?.inactive, undefined);
    assert.equal(all.key, targetOf('1.0.0', model).key);
  });
});

describe('exact replica counts: the model says how many, not "at least one"', () => {
  // web runs 2 replicas; a revision rendered from compose's model (resolved) records that.
  const scaled = targetOf('1.0.0', doc({ web: { image: 'registry.local/web:latest', deploy: { replicas: 2 }, depends_on: { migrate: { condition: 'service_completed_successfully' } } } }));
  const rev = { ...record(scaled, 1), resolved: true };
  const web = (n: number, o: ContainerOptions = {}) => Array.from({ length: n }, (_, i) => container('web', { name: `shop-web-${i + 1}`, digests: [pinned('web', 'a')], revision: 1, ...o }));
  const rest = converged().filter((c) => c.service !== 'web');
  const rows: Array<{ name: string; containers: ObservedContainer[]; want: Array<[string, DriftKind]> }> = [
    { name: 'both replicas run: no drift', containers: [...web(2), ...rest], want: [] },
    { name: 'one of two replicas was removed: missing', containers: [...web(1), ...rest], want: [['web', 'missing']] },
    { name: 'three of two replicas (scaled by hand): unexpected, compose up removes one', containers: [...web(3), ...rest], want: [['web', 'unexpected']] },
    { name: 'no replica at all: missing', containers: rest, want: [['web', 'missing']] },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(findDrift(revisionRuns(rev), observed(row.containers)).map((d) => [d.service, d.kind]), row.want);
    });
  }

  test('a repair brings a removed replica back, and says how many of how many run', () => {
    const plan = decide({
      desired: valid(scaled),
      recorded: recorded(rev),
      observed: observed([...web(1), ...rest]),
      progress: progress({ revision: 1, lastGoodRevision: 1, history: [entry(rev, { outcome: 'Healthy' })] }),
      now: NOW,
    });
    assert.equal(plan.action, 'repair');
    assert.match(plan.message, /web: 1 of 2 replicas/);
  });

  test('a service with one replica in a revision of compose\'s model expects exactly one', () => {
    const one = { ...record(v1, 1), resolved: true };
    const drift = findDrift(revisionRuns(one), observed([...converged(), container('web', { name: 'shop-web-2', digests: [pinned('web', 'a')], revision: 1 })]));
    assert.deepEqual(drift.map((d) => [d.service, d.kind]), [['web', 'unexpected']]);
  });

  test('a revision an older berth wrote (no replicas on record) still expects at least one', () => {
    const drift = findDrift(revisionRuns(rev1), observed([...converged(), container('web', { name: 'shop-web-2', digests: [pinned('web', 'a')], revision: 1 })]));
    assert.deepEqual(drift, []);
  });

  test('the gate waits for every replica', () => {
    const details = { startedAt: iso(-30), restartCount: 0 };
    const v = evaluateGate({
      record: rev,
      observed: observed([...web(1, { details }), ...converged({ migrate: { state: 'exited', exitCode: 0, details: { ...details, exitCode: 0 } } }).filter((c) => c.service !== 'web')]),
      probes: [],
      operation: operation(rev, { healthySince: iso(2) }),
      health: { stableForSeconds: 10 },
      now: at(40),
    });
    assert.equal(v.verdict, 'pending', v.message);
    assert.match(v.message, /1 of 2 replicas/);
  });
});
