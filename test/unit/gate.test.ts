// evaluateGate(): has a freshly applied revision proven itself? Passed, failed, or not yet.
//
// Timeline of every case: compose up of revision 2 finished at NOW (the verify step began),
// the deadline is NOW + 120 s, and the stack asks for 10 s of unbroken health. `at(s)` is a
// sample s seconds later. The containers started at NOW - 30 s unless a case says otherwise.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Operation } from '../../src/api/types.js';
import { evaluateGate, type GateInput, type GateVerdict } from '../../src/plan/gate.js';
import type { ContainerDetailsView, ObservedContainer, ProbeResult } from '../../src/plan/types.js';
import { at, container, iso, observed, operation, pinned, record, runningOf, target, type ContainerOptions } from './fixtures.js';

const v1 = target({ version: '1.0.0' });
const rev1 = record(v1, 1);
const v2 = target({ version: '2.0.0', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
const rev2 = record(v2, 2, rev1.services);

const WEB = 'web0000000000000000000000000000000000000000000000000000000000001';
const DB = 'db00000000000000000000000000000000000000000000000000000000000001';
const DEADLINE = iso(120);

/** The containers of revision 2, healthy, inspected; `tweak` changes one service, its details merged in. */
function sample(
  tweak: Partial<Record<'web' | 'db', ContainerOptions & { detail?: Partial<ContainerDetailsView> }>> = {},
): ObservedContainer[] {
  const base = (service: 'web' | 'db', id: string): ContainerOptions => {
    const t = tweak[service] ?? {};
    const { detail, ...options } = t;
    return { id, health: 'healthy', details: { startedAt: iso(-30), restartCount: 0, ...detail }, ...options };
  };
  return runningOf(rev2, { web: base('web', WEB), db: base('db', DB) });
}

interface Case {
  containers?: ObservedContainer[];
  probes?: ProbeResult[];
  op?: Partial<Operation>;
  stableForSeconds?: number;
  now: Date;
}

function gate(c: Case): GateVerdict {
  const input: GateInput = {
    record: rev2,
    observed: observed(c.containers ?? sample()),
    probes: c.probes ?? [],
    operation: operation(rev2, c.op),
    health: { stableForSeconds: c.stableForSeconds ?? 10 },
    now: c.now,
  };
  return evaluateGate(input);
}

function pending(v: GateVerdict): Extract<GateVerdict, { verdict: 'pending' }> {
  assert.equal(v.verdict, 'pending', `expected pending, got ${JSON.stringify(v)}`);
  return v as Extract<GateVerdict, { verdict: 'pending' }>;
}

function failed(v: GateVerdict): Extract<GateVerdict, { verdict: 'failed' }> {
  assert.equal(v.verdict, 'failed', `expected failed, got ${JSON.stringify(v)}`);
  return v as Extract<GateVerdict, { verdict: 'failed' }>;
}

describe('the health gate waits for stableForSeconds of unbroken health', () => {
  test('the first healthy sample starts the stretch: pending, healthySince is that sample, restart counts become the baseline', () => {
    const v = pending(gate({ now: at(2) }));
    assert.equal(v.healthySince, iso(2));
    assert.deepEqual(v.restartBaseline, { [WEB]: 0, [DB]: 0 });
    assert.equal(v.message, 'verifying revision 2: healthy for 0s of 10s');
  });

  const rows: Array<{ now: number; verdict: 'pending' | 'passed'; message: string }> = [
    { now: 5, verdict: 'pending', message: 'verifying revision 2: healthy for 3s of 10s' },
    { now: 11, verdict: 'pending', message: 'verifying revision 2: healthy for 9s of 10s' },
    { now: 12, verdict: 'passed', message: 'revision 2 stayed healthy for 10s (2 container(s))' },
    { now: 40, verdict: 'passed', message: 'revision 2 stayed healthy for 10s (2 container(s))' },
  ];
  for (const row of rows) {
    test(`healthy since +2s, sampled at +${row.now}s: ${row.verdict}`, () => {
      const v = gate({ op: { healthySince: iso(2) }, now: at(row.now) });
      assert.equal(v.verdict, row.verdict);
      assert.equal(v.message, row.message);
      if (v.verdict === 'pending') assert.equal(v.healthySince, iso(2), 'the stretch keeps its start');
    });
  }

  test('stableForSeconds 0 passes at the first healthy sample', () => {
    const v = gate({ stableForSeconds: 0, now: at(1) });
    assert.deepEqual(v, { verdict: 'passed', message: 'revision 2 stayed healthy for 0s (2 container(s))' });
  });

  test('a container restart between two samples restarts the stretch at its new start time, though no sample saw it down', () => {
    const restarted = sample({ web: { detail: { startedAt: iso(8), restartCount: 1 } } });
    const v = pending(gate({ containers: restarted, op: { healthySince: iso(2), restartBaseline: { [WEB]: 0, [DB]: 0 } }, now: at(15) }));
    assert.equal(v.healthySince, iso(8));
    assert.equal(v.message, 'verifying revision 2: healthy for 7s of 10s');
    // The same samples without the restart would have passed.
    assert.equal(gate({ op: { healthySince: iso(2) }, now: at(15) }).verdict, 'passed');
  });

  test('a start before the stretch began does not shorten it', () => {
    const v = gate({ containers: sample({ web: { detail: { startedAt: iso(1) } } }), op: { healthySince: iso(2) }, now: at(12) });
    assert.equal(v.verdict, 'passed');
  });

  test('health that never lasts stableForSeconds by the deadline fails ProgressDeadlineExceeded', () => {
    const v = failed(gate({ op: { healthySince: iso(115) }, now: at(120) }));
    assert.equal(v.reason, 'ProgressDeadlineExceeded');
    assert.equal(v.message, `revision 2 was healthy for only 5s of the 10s needed by ${DEADLINE}`);
  });
});

describe('the health gate fails at once when failure is certain', () => {
  test('a container that exited with code 1 fails the revision (ContainerExited) long before the deadline', () => {
    const v = failed(gate({ containers: sample({ web: { state: 'exited', detail: { exitCode: 1 } } }), now: at(1) }));
    assert.equal(v.reason, 'ContainerExited');
    assert.equal(v.message, 'container shop-web-1 (web) exited with code 1');
  });

  test('a dead container fails the revision at once', () => {
    const v = failed(gate({ containers: sample({ db: { state: 'dead' } }), now: at(1) }));
    assert.equal(v.reason, 'ContainerExited');
    assert.equal(v.message, 'container shop-db-1 (db) dead');
  });

  test('a container killed by the OOM killer (137 with oomKilled) fails the revision at once', () => {
    const v = failed(gate({ containers: sample({ web: { state: 'exited', detail: { exitCode: 137, oomKilled: true } } }), now: at(1) }));
    assert.equal(v.reason, 'ContainerExited');
    assert.equal(v.message, 'container shop-web-1 (web) exited with code 137');
  });

  for (const code of [0, 130, 137, 143]) {
    test(`a container stopped from outside (exit code ${code}, no OOM) is not proof: pending until the deadline, failed at it`, () => {
      const stopped = sample({ web: { state: 'exited', detail: { exitCode: code } } });
      const before = pending(gate({ containers: stopped, now: at(60) }));
      assert.equal(before.healthySince, undefined, 'a stopped container breaks the stretch');
      assert.match(before.message, /^verifying revision 2: .*shop-web-1 is exited/);
      const atDeadline = failed(gate({ containers: stopped, now: at(120) }));
      assert.equal(atDeadline.reason, 'ProgressDeadlineExceeded');
      assert.match(atDeadline.message, new RegExp(`^revision 2 was not healthy by ${DEADLINE.replace(/\./g, '\\.')}: .*shop-web-1 is exited`));
    });
  }

  test('a container the engine stopped keeps its last health, unhealthy: that is not proof either', () => {
    // Docker 20.10 reports a stopped container with a healthcheck as unhealthy.
    const stopped = sample({ web: { state: 'exited', health: 'unhealthy', detail: { exitCode: 0 } } });
    const v = pending(gate({ containers: stopped, now: at(60) }));
    assert.match(v.message, /shop-web-1 is exited/);
  });

  test('an unhealthy container fails the revision (Unhealthy) at once, with the last health check output', () => {
    const sick = sample({ db: { health: 'unhealthy', detail: { lastHealthOutput: 'pg_isready: no response' } } });
    const v = failed(gate({ containers: sick, now: at(1) }));
    assert.equal(v.reason, 'Unhealthy');
    assert.equal(v.message, 'container shop-db-1 (db) is unhealthy: pg_isready: no response');
  });

  test('two restarts since the baseline are a crash loop (CrashLooping); one is a hiccup', () => {
    const baseline = { [WEB]: 3, [DB]: 0 };
    const once = gate({ containers: sample({ web: { detail: { restartCount: 4 } } }), op: { restartBaseline: baseline }, now: at(5) });
    assert.equal(once.verdict, 'pending');
    const twice = failed(gate({ containers: sample({ web: { detail: { restartCount: 5 } } }), op: { restartBaseline: baseline }, now: at(5) }));
    assert.equal(twice.reason, 'CrashLooping');
    assert.equal(twice.message, 'container shop-web-1 (web) restarted 2 times during verification');
  });

  test('restarts from before verification are the baseline, not a crash loop', () => {
    const old = sample({ db: { detail: { restartCount: 7, startedAt: iso(-300) } } });
    const v = pending(gate({ containers: old, now: at(1) }));
    assert.deepEqual(v.restartBaseline, { [WEB]: 0, [DB]: 7 });
  });

  test('a container the operation created starts from baseline 0: its second restart is a crash loop', () => {
    const NEW = 'new0000000000000000000000000000000000000000000000000000000000001';
    const fresh = (restartCount: number) =>
      sample({ web: { id: NEW, created: at(20).getTime(), detail: { startedAt: iso(20), restartCount } } });
    const first = pending(gate({ containers: fresh(1), op: { restartBaseline: { [DB]: 0 } }, now: at(21) }));
    assert.deepEqual(first.restartBaseline, { [DB]: 0, [NEW]: 0 });
    const second = failed(gate({ containers: fresh(2), op: { restartBaseline: { [DB]: 0 } }, now: at(21) }));
    assert.equal(second.reason, 'CrashLooping');
    assert.equal(second.message, 'container shop-web-1 (web) restarted 2 times during verification');
  });
});

test('a container the operation left alone keeps the restarts it had before: one more is not a crash loop', () => {
  const OLD = 'old0000000000000000000000000000000000000000000000000000000000001';
  // Created long before the update, restarted five times in its life, once more just now.
  const old = sample({ db: { id: OLD, created: at(-3600).getTime(), detail: { startedAt: iso(20), restartCount: 6 } } });
  const v = gate({ containers: old, op: { restartBaseline: {} }, now: at(21) });
  assert.notEqual(v.verdict, 'failed', JSON.stringify(v));
});

describe('the health gate waits, and fails at the deadline, when health is not there yet', () => {
  test('a health check still starting is pending; at the deadline it fails ProgressDeadlineExceeded naming the container', () => {
    const starting = sample({ web: { health: 'starting' } });
    const before = pending(gate({ containers: starting, now: at(119) }));
    assert.equal(before.healthySince, undefined);
    assert.equal(before.message, 'verifying revision 2: shop-web-1 is starting');
    const after = failed(gate({ containers: starting, now: at(120) }));
    assert.equal(after.reason, 'ProgressDeadlineExceeded');
    assert.equal(after.message, `revision 2 was not healthy by ${DEADLINE}: shop-web-1 is starting`);
  });

  test('a restarting container is pending, not yet a failure', () => {
    const v = pending(gate({ containers: sample({ web: { state: 'restarting' } }), now: at(3) }));
    assert.equal(v.message, 'verifying revision 2: shop-web-1 is restarting');
  });

  test('a failed probe is pending; at the deadline the revision fails naming the probe url and its status', () => {
    const probe: ProbeResult = { service: 'web', container: 'shop-web-1', url: 'http://172.18.0.3:80/healthz', ok: false, status: 503 };
    const before = pending(gate({ probes: [probe], stableForSeconds: 0, now: at(30) }));
    assert.equal(before.healthySince, undefined);
    assert.equal(before.message, 'verifying revision 2: probe http://172.18.0.3:80/healthz of shop-web-1: status 503');
    const after = failed(gate({ probes: [probe], now: at(120) }));
    assert.equal(after.reason, 'ProgressDeadlineExceeded');
    assert.equal(after.message, `revision 2 was not healthy by ${DEADLINE}: probe http://172.18.0.3:80/healthz of shop-web-1: status 503`);
  });

  test('a probe that could not connect names its error instead of a status', () => {
    const probe: ProbeResult = { service: 'web', container: 'shop-web-1', url: 'http://172.18.0.3:80/', ok: false, error: 'ECONNREFUSED' };
    const v = pending(gate({ probes: [probe], now: at(3) }));
    assert.equal(v.message, 'verifying revision 2: probe http://172.18.0.3:80/ of shop-web-1: ECONNREFUSED');
  });

  test('probes that answer as expected count towards passing', () => {
    const probe: ProbeResult = { service: 'web', container: 'shop-web-1', url: 'http://172.18.0.3:80/', ok: true, status: 200 };
    assert.deepEqual(gate({ probes: [probe], op: { healthySince: iso(0) }, now: at(10) }), {
      verdict: 'passed',
      message: 'revision 2 stayed healthy for 10s (2 container(s), 1 probe(s))',
    });
  });

  const driftRows: Array<{ name: string; containers: () => ObservedContainer[]; says: RegExp }> = [
    { name: 'a container runs another image', containers: () => sample({ web: { digests: [pinned('web', 'e')] } }), says: /web: shop-web-1 not on sha256:cccc/ },
    { name: 'a service has no container', containers: () => sample().filter((c) => c.service !== 'db'), says: /db: no container/ },
    { name: 'a container carries another revision label', containers: () => sample({ web: { revision: 1 } }), says: /web: shop-web-1 has revision 1, expected 2/ },
  ];
  for (const row of driftRows) {
    test(`when ${row.name}, the revision is not running as rendered: pending even with stableForSeconds 0, failed at the deadline`, () => {
      const before = pending(gate({ containers: row.containers(), stableForSeconds: 0, op: { healthySince: iso(0) }, now: at(60) }));
      assert.equal(before.healthySince, undefined);
      assert.match(before.message, row.says);
      const after = failed(gate({ containers: row.containers(), now: at(120) }));
      assert.equal(after.reason, 'ProgressDeadlineExceeded');
      assert.match(after.message, row.says);
    });
  }

  test('a container of a service the revision does not define is not the revision failing: it still passes', () => {
    const extra = [...sample(), container('worker', { details: { startedAt: iso(-30), restartCount: 0 } })];
    assert.equal(gate({ containers: extra, op: { healthySince: iso(0) }, now: at(10) }).verdict, 'passed');
  });
});
