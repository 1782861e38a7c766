// Services as compose runs them, on a real engine: a one-shot init job that exits 0 is done
// (not repaired on every pass), a service of a profile nobody enabled and one with
// `deploy.replicas: 0` are expected to have no container, and a job that exits non-zero
// fails the update's health gate, which is rolled back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { ComposeCli, type UpOptions } from '../../src/docker/compose.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Harness, condition, isReady, type StackFields } from '../support/harness.js';

let v1: TestImage;
let v2: TestImage;

before(async () => {
  await requireEngine();
  const name = uniqueName('svc');
  v1 = await buildTestImage({ name, variant: 'v1' });
  v2 = await buildTestImage({ name, variant: 'v2' });
});

after(async () => {
  await removeTestImages([v1, v2].filter(Boolean));
});

async function containersOf(project: string) {
  return docker().listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
}

/** `compose up` calls berth made, per project: a repair or an apply each. */
const ups = new Map<string, number>();

function upsOf(project: string): number {
  return ups.get(project) ?? 0;
}

const service = (s: StackStatus, name: string) => s.status.services?.find((x) => x.name === name);

describe('one-shot jobs, profiles and replicas 0 on a real engine', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    const cli = await ComposeCli.detect();
    const up = cli.up.bind(cli);
    cli.up = (opts: UpOptions) => {
      ups.set(opts.project, upsOf(opts.project) + 1);
      return up(opts);
    };
    h.compose = cli;
    await h.start();
  });
  after(async () => h.close());

  test('a stack with an awaited init job, an inactive profile, replicas 0 and an included service converges and stays converged without repairs', async () => {
    const name = uniqueName('init');
    const f: StackFields = { name, version: '1.0.0', images: { web: v1.pinned, init: v1.pinned } };
    // A service from another file through `include:`: known to berth (not a stray), repaired by nothing.
    await mkdir(join(h.manifests, name), { recursive: true });
    await writeFile(join(h.manifests, name, 'extra.yaml'), stringify({ services: { extra: { image: v1.ref, init: false } } }));
    const compose = stringify({
      include: ['extra.yaml'],
      services: {
        init: { image: 'placeholder', init: false, restart: 'no', command: ['sh', '-c', 'exit 0'] },
        web: { image: 'placeholder', init: false, depends_on: { init: { condition: 'service_completed_successfully' } } },
        debug: { image: v1.ref, init: false, profiles: ['debug'] },
        spare: { image: v1.ref, init: false, deploy: { replicas: 0 } },
      },
    });
    await h.writeStack(f, compose);
    const s = await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    assert.equal(s.status.revision, 1);
    assert.equal(condition(s, 'Healthy')?.status, 'True');
    assert.equal(service(s, 'init')?.reason, 'JobCompleted');
    // Parsed by berth, the service is listed as ProfileInactive; in a model compose resolves, it is left out.
    const debug = service(s, 'debug');
    assert.ok(debug === undefined || (debug.reason === 'ProfileInactive' && debug.containers.length === 0), JSON.stringify(debug));
    assert.equal(service(s, 'spare')?.reason, 'ScaledToZero');
    const running = (await containersOf(name)).map((c) => `${c.Labels['com.docker.compose.service']}:${c.State}`).sort();
    assert.deepEqual(running, ['extra:running', 'init:exited', 'web:running']);

    // Converged means converged: berth looks again and again, and runs compose for nothing,
    // over forced passes and over a minute of the operator's own resyncs (every 30 s).
    const before = upsOf(name);
    await h.morePasses(f, 8);
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    const later = await h.status({ stack: name });
    assert.equal(upsOf(name), before, `berth ran compose up ${upsOf(name) - before} more time(s) on a converged stack`);
    assert.ok(later !== undefined && isReady('1.0.0')(later), `not Ready any more: ${JSON.stringify(later?.status.conditions)}`);
    assert.equal(later.status.revision, 1);
  });

  test('an update whose job exits non-zero fails its health gate (JobFailed) and is rolled back', async () => {
    const name = uniqueName('job');
    const stack = (version: string, web: TestImage, exit: number): [StackFields, string] => [
      { name, version, images: { web: web.pinned }, health: { stableForSeconds: 1, progressDeadlineSeconds: 60 } },
      stringify({
        services: {
          web: { image: 'placeholder', init: false },
          // Nothing awaits it, so compose up succeeds and the gate is what judges its exit.
          migrate: { image: v1.ref, init: false, restart: 'no', command: ['sh', '-c', `exit ${exit}`] },
        },
      }),
    ];
    await h.writeStack(...stack('1.0.0', v1, 0));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));

    await h.writeStack(...stack('2.0.0', v2, 3));
    const s = await h.waitFor(
      { stack: name },
      'rolled back to 1.0.0',
      (x) => condition(x, 'Degraded')?.reason === 'RolledBack' && x.status.operation === undefined && x.status.currentVersion === '1.0.0',
    );
    assert.equal(s.status.quarantine?.reason, 'JobFailed');
    assert.match(s.status.quarantine?.message ?? '', /^job migrate \(container .*migrate.*\) exited with code 3$/);
    assert.equal(s.status.revision, 1);
    const [rollback] = s.status.history ?? [];
    assert.deepEqual([rollback?.operation, rollback?.revision, rollback?.outcome], ['rollback', 1, 'Healthy']);
    // The rollback ran revision 1's own job again, which exits 0: done, not broken.
    assert.equal(service(s, 'migrate')?.reason, 'JobCompleted');
  });

  test('replicas: 2 means exactly two: a replica removed by hand is brought back by a repair', async () => {
    const name = uniqueName('replicas');
    const f: StackFields = { name, version: '1.0.0', images: { web: v1.pinned } };
    await h.writeStack(f, stringify({ services: { web: { image: 'placeholder', init: false, deploy: { replicas: 2 } } } }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const webs = async () => (await containersOf(name)).filter((c) => c.Labels['com.docker.compose.service'] === 'web' && c.State === 'running');
    const two = await webs();
    assert.equal(two.length, 2);

    const before = upsOf(name);
    await docker().getContainer(two[1]!.Id).remove({ force: true });
    const gone = two[1]!.Id.slice(0, 12);
    const s = await h.waitFor({ stack: name }, 'two web replicas running again', (x) => {
      const running = service(x, 'web')?.containers.filter((c) => c.state === 'running') ?? [];
      return isReady('1.0.0')(x) && running.length === 2 && running.every((c) => c.id !== gone);
    });
    assert.ok(upsOf(name) > before, 'berth repaired with compose up');
    assert.equal(service(s, 'web')?.desiredReplicas, 2);
    const after = await webs();
    assert.equal(after.length, 2);
    assert.ok(after.some((c) => c.Id === two[0]!.Id), 'the replica that kept running was left as it was');
  });

  test('a container a person starts by hand for an inactive profile is left alone: not a stray, not removed', async () => {
    const name = uniqueName('profile');
    const f: StackFields = { name, version: '1.0.0', images: { web: v1.pinned } };
    await h.writeStack(f, stringify({ services: { web: { image: 'placeholder', init: false }, debug: { image: v1.ref, init: false, profiles: ['debug'] } } }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    // What the vendor's docs say to run for a debugging session, in the install's folder.
    await promisify(execFile)('docker', ['compose', '--profile', 'debug', 'up', '-d', 'debug'], { cwd: join(h.manifests, name), timeout: 120_000 });
    const debug = (await containersOf(name)).filter((c) => c.Labels['com.docker.compose.service'] === 'debug');
    assert.equal(debug.length, 1, 'the person started debug in the stack\'s project');

    const before = upsOf(name);
    await h.morePasses(f, 4);
    assert.equal(upsOf(name), before, 'berth ran compose up over a container a person started for an inactive profile');
    const after = (await containersOf(name)).filter((c) => c.Labels['com.docker.compose.service'] === 'debug');
    assert.deepEqual(after.map((c) => [c.Id, c.State]), [[debug[0]!.Id, 'running']]);
    const s = (await h.status({ stack: name }))!;
    assert.ok(isReady('1.0.0')(s), JSON.stringify(s.status.conditions));
    assert.equal(service(s, 'debug')?.reason, 'ProfileInactive');
  });
});
