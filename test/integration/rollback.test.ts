// The health gate and rollback on a real engine: an update that does not come up healthy is
// undone without a person, reported as a failure, and never applied again by itself.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { after, before, describe, test } from 'node:test';
import type { StackStatus } from '../../src/api/types.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Harness, composeFile, condition, isReady, type StackFields } from '../support/harness.js';
import { testKeys } from '../support/releases.js';
import { StateStore } from '../../src/store/state.js';

let good: TestImage;
let good2: TestImage;
let sick: TestImage;
let plain: TestImage;

before(async () => {
  await requireEngine();
  const name = uniqueName('rb');
  good = await buildTestImage({ name, variant: 'good', health: 'healthy' });
  good2 = await buildTestImage({ name, variant: 'good2', health: 'healthy' });
  sick = await buildTestImage({ name, variant: 'sick', health: 'unhealthy' });
  plain = await buildTestImage({ name, variant: 'plain' });
});

after(async () => {
  await removeTestImages([good, good2, sick, plain].filter(Boolean));
});

async function webImage(project: string): Promise<{ digests: string[]; state: string; health: string }> {
  const [c] = await docker().listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, 'com.docker.compose.service=web'] },
  });
  assert.ok(c, `no web container in ${project}`);
  const info = await docker().getContainer(c.Id).inspect();
  const img = await docker().getImage(c.ImageID).inspect();
  return { digests: img.RepoDigests.map((d) => d.slice(d.indexOf('@') + 1)), state: info.State.Status, health: info.State.Health?.Status ?? 'none' };
}

const rolledBack = (version: string) => (s: StackStatus) =>
  condition(s, 'Degraded')?.reason === 'RolledBack' && s.status.operation === undefined && s.status.currentVersion === version;

describe('the health gate and rollback to last-good', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('an unhealthy update is rolled back, quarantined, and retried only when asked or when the spec changes', async () => {
    const name = uniqueName('sick');
    const v1: StackFields = { name, version: '1.0.0', images: { web: good.pinned } };
    await h.writeStack(v1, composeFile({ web: 'placeholder' }));
    const first = await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    assert.equal(first.status.lastGoodRevision, 1);
    assert.equal(condition(first, 'Progressing')?.reason, 'Complete');

    const v2: StackFields = { name, version: '2.0.0', images: { web: sick.pinned }, health: { stableForSeconds: 1, progressDeadlineSeconds: 60 } };
    await h.writeStack(v2);
    const s = await h.waitFor({ stack: name }, 'rolled back to 1.0.0', rolledBack('1.0.0'));

    // One place says what was tried, why it failed and what runs now.
    assert.equal(s.status.targetVersion, '2.0.0');
    assert.equal(s.status.revision, 1);
    assert.equal(s.status.lastGoodRevision, 1);
    assert.equal(condition(s, 'Ready')?.status, 'False');
    assert.equal(condition(s, 'Ready')?.reason, 'RolledBack');
    assert.equal(condition(s, 'Degraded')?.status, 'True');
    assert.match(condition(s, 'Degraded')!.message, /version 2\.0\.0 \(revision 2\) failed: Unhealthy/);
    assert.equal(condition(s, 'Progressing')?.status, 'False');
    assert.equal(condition(s, 'Progressing')?.reason, 'Complete');
    assert.equal(s.status.quarantine?.version, '2.0.0');
    assert.equal(s.status.quarantine?.reason, 'Unhealthy');
    const [rollback, update, initial] = s.status.history ?? [];
    assert.deepEqual([rollback?.operation, rollback?.revision, rollback?.outcome], ['rollback', 1, 'Healthy']);
    assert.deepEqual([update?.operation, update?.revision, update?.outcome, update?.reason], ['update', 2, 'RolledBack', 'Unhealthy']);
    assert.deepEqual([initial?.revision, initial?.outcome], [1, 'Healthy']);
    const web = await webImage(name);
    assert.ok(web.digests.includes(good.digest), 'the last-good image runs again');
    assert.equal(web.health, 'healthy');

    // Not re-applied over the next passes: no compose call, no new revision.
    const calls = h.compose!.invocations;
    await h.morePasses(v2, 3);
    assert.equal(h.compose!.invocations, calls, 'compose ran again for a quarantined version');
    assert.deepEqual(await h.state.revisionNumbers(name), [1, 2]);
    assert.equal(condition((await h.status({ stack: name }))!, 'Degraded')?.reason, 'RolledBack');

    // A person asks for a retry: the same revision (immutable, on disk) is applied once more, and undone again.
    await h.writeStack({ ...v2, annotations: { 'berth.dev/retry': 'first' } });
    const attemptsOf2 = (st: StackStatus) => st.status.history?.filter((e) => e.revision === 2 && e.outcome === 'RolledBack').length ?? 0;
    const retried = await h.waitFor({ stack: name }, 'revision 2 tried again and rolled back', (st) => rolledBack('1.0.0')(st) && attemptsOf2(st) === 2);
    assert.equal(retried.status.quarantine?.retryToken, 'first');

    // The spec moves away (to what runs) and back: the version is tried again.
    await h.writeStack(v1);
    await h.waitFor({ stack: name }, 'Ready at 1.0.0 again', (st) => isReady('1.0.0')(st) && st.status.quarantine === undefined);
    await h.writeStack(v2);
    await h.waitFor({ stack: name }, 'revision 2 tried a third time and rolled back', (st) => rolledBack('1.0.0')(st) && attemptsOf2(st) === 3);
    assert.deepEqual(await h.state.revisionNumbers(name), [1, 2], 'a retry reuses the revision instead of writing a duplicate');
  });

  test('a revision that never answers its probe fails at the progress deadline and is rolled back', async () => {
    const name = uniqueName('probe');
    const probe = { service: 'web', port: 8080, path: '/index.html' };
    await h.writeStack(
      { name, version: '1.0.0', images: { web: plain.pinned }, health: { stableForSeconds: 1, probes: [probe] } },
      composeFile({ web: 'placeholder' }),
    );
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    // The same image, probed at a path it does not serve: running, but never healthy.
    await h.writeStack({
      name,
      version: '1.1.0',
      images: { web: good2.pinned },
      health: { stableForSeconds: 1, progressDeadlineSeconds: 5, probes: [{ ...probe, path: '/missing' }] },
    });
    const s = await h.waitFor({ stack: name }, 'rolled back to 1.0.0', rolledBack('1.0.0'));
    assert.equal(s.status.quarantine?.reason, 'ProgressDeadlineExceeded');
    assert.match(s.status.quarantine?.message ?? '', /probe http:\/\/[0-9.]+:8080\/missing of .*status 404/);
    assert.ok((await webImage(name)).digests.includes(plain.digest));
  });

  test('an update whose compose up fails (its port is taken) is rolled back in the same pass, reason ApplyFailed', async () => {
    const name = uniqueName('applyfail');
    // Something else on this host holds the port the new version wants to publish.
    const squatter = createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const port = (squatter.address() as AddressInfo).port;
    try {
      await h.writeStack({ name, version: '1.0.0', images: { web: good.pinned } }, composeFile({ web: 'placeholder' }));
      await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
      await writeFile(
        join(h.manifests, name, 'compose.yaml'),
        stringify({ services: { web: { image: 'placeholder', init: false, ports: [`127.0.0.1:${port}:8080`] } } }),
      );
      // Every compose up berth runs, by the revision file it names.
      const ups: string[] = [];
      const compose = h.compose!;
      const realUp = compose.up.bind(compose);
      compose.up = (opts) => {
        if (opts.project === name) ups.push(opts.file);
        return realUp(opts);
      };
      try {
        await h.writeStack({ name, version: '1.1.0', images: { web: good2.pinned } });
        await h.waitFor({ stack: name }, 'rolled back to 1.0.0', rolledBack('1.0.0'));
      } finally {
        compose.up = realUp;
      }
      // The first failure is the failure: recorded, and undone at once, never tried a second time.
      assert.deepEqual(ups, [h.state.revisionComposePath(name, 2), h.state.revisionComposePath(name, 1)]);
      const s = (await h.status({ stack: name }))!;
      assert.equal(s.status.quarantine?.reason, 'ApplyFailed');
      assert.match(s.status.quarantine?.message ?? '', /compose up of revision 2 failed/);
      assert.equal(s.status.history?.find((e) => e.revision === 2)?.outcome, 'RolledBack');
      assert.ok((await webImage(name)).digests.includes(good.digest), 'revision 1 runs again');
    } finally {
      squatter.close();
    }
  });

  test('with rollback.auto off a failed revision is left as it is, reported Failed, and not retried', async () => {
    const name = uniqueName('noauto');
    await h.writeStack({ name, version: '1.0.0', images: { web: good.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const v2: StackFields = { name, version: '2.0.0', images: { web: sick.pinned }, rollback: { auto: false } };
    await h.writeStack(v2);
    const s = await h.waitFor({ stack: name }, 'Failed', (st) => condition(st, 'Degraded')?.reason === 'Failed' && st.status.operation === undefined);
    assert.equal(s.status.revision, 2);
    assert.equal(s.status.lastGoodRevision, 1);
    assert.equal(s.status.history?.[0]?.outcome, 'Failed');
    const calls = h.compose!.invocations;
    await h.morePasses(v2, 3);
    assert.equal(h.compose!.invocations, calls);
    assert.ok((await webImage(name)).digests.includes(sick.digest), 'berth left the failed revision for a person to look at');
  });

  test('a new target during verification cancels the wait and is applied at once', async () => {
    const name = uniqueName('super');
    await h.writeStack({ name, version: '1.0.0', images: { web: good.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    await h.writeStack({ name, version: '2.0.0', images: { web: plain.pinned }, health: { stableForSeconds: 600, progressDeadlineSeconds: 900 } });
    await h.waitFor({ stack: name }, 'verifying revision 2', (st) => st.status.operation?.step === 'verify' && st.status.operation.revision === 2);
    await h.writeStack({ name, version: '3.0.0', images: { web: good2.pinned } });
    const s = await h.waitFor({ stack: name }, 'Ready at 3.0.0', isReady('3.0.0'));
    assert.equal(s.status.revision, 3);
    assert.equal(s.status.lastGoodRevision, 3);
    const two = s.status.history?.find((e) => e.revision === 2);
    assert.equal(two?.outcome, 'Superseded');
    assert.equal(two?.reason, 'NewTarget');
  });
});

// `berth rollback` as a person runs it: a separate process, against a running berth.
const BERTH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function berthCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BERTH, ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('berth rollback by a person', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('in notify mode the rollback is the approval: berth applies it at once, and records it as a rollback', async () => {
    const name = uniqueName('rbnotify');
    await h.writeStack({ name, version: '1.0.0', images: { web: good.pinned }, mode: 'notify', approve: '1.0.0' }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    await h.writeStack({ name, version: '2.0.0', images: { web: good2.pinned }, mode: 'notify', approve: '2.0.0' });
    await h.waitFor({ stack: name }, 'Ready at 2.0.0', isReady('2.0.0'));

    const rolled = await berthCli(['rollback', name, '--state', h.state.root, '--force']);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /spec\.approve set to 1\.0\.0/);
    const manifest = await readFile(join(h.manifests, `${name}.yaml`), 'utf8');
    assert.match(manifest, /approve: 1\.0\.0/);

    const s = await h.waitFor({ stack: name }, 'Ready at 1.0.0 again, without waiting for approval', isReady('1.0.0'));
    assert.equal(s.status.revision, 3);
    const record = await h.state.readRevision(name, 3);
    assert.deepEqual(record?.cause, { kind: 'rollback', fromRevision: 2, toRevision: 1, requested: record?.cause?.requested });
    const history = await berthCli(['history', name, '--state', h.state.root]);
    assert.match(history.stdout.split('\n')[1]!, /^3\s+1\.0\.0\s+rollback\s+Healthy\s/);
  });
});

test('rollback of a channel stack whose release shipped its own compose file: refused before writing, naming the file the revision ran', async () => {
  // A state folder as berth leaves it after applying such a release; no engine needed.
  const root = await mkdtemp(join(tmpdir(), 'berth-rbch-'));
  try {
    const name = 'shop';
    const manifest = join(root, 'manifests', `${name}.yaml`);
    await mkdir(join(root, 'manifests', name), { recursive: true });
    await writeFile(join(root, 'manifests', name, 'compose.yaml'), composeFile({ web: 'placeholder' }));
    const pub = join(root, 'manifests', 'vendor.pem');
    await writeFile(pub, testKeys().publicPem);
    const text = `apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: ${name}\nspec:\n  compose:\n    file: ${name}/compose.yaml\n  channel:\n    url: https://feed.example.com/shop\n    publicKey: vendor.pem\n`;
    await writeFile(manifest, text);
    const store = new StateStore(join(root, 'state'));
    const images = { web: good.pinned, worker: good2.pinned };
    for (const [revision, version] of [[1, '1.0.0'], [2, '2.0.0']] as const) {
      await store.writeRevision(
        {
          revision,
          stack: name,
          version,
          images,
          targetKey: `k${revision}`,
          generation: `g${revision}`,
          project: name,
          projectDirectory: join(root, 'manifests', name),
          services: [],
          spec: { compose: { file: `${name}/compose.yaml` } } as never,
          created: '2026-01-01T00:00:00Z',
          release: { channel: 'stable', version, keyId: 'k', compose: true },
        },
        stringify({ services: { web: { image: good.pinned }, worker: { image: good2.pinned } } }),
      );
    }
    await store.writeStatus({ stack: name }, {
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'StackStatus',
      metadata: { name },
      status: {
        manifest,
        revision: 2,
        lastGoodRevision: 2,
        currentVersion: '2.0.0',
        history: [
          { revision: 2, version: '2.0.0', operation: 'update', started: '2026-01-01T00:00:00Z', outcome: 'Healthy' },
          { revision: 1, version: '1.0.0', operation: 'update', started: '2026-01-01T00:00:00Z', outcome: 'Healthy' },
        ],
        services: [],
        conditions: [],
      },
    } as unknown as StackStatus);

    const refused = await berthCli(['rollback', name, '--to', '1', '--state', store.root]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(await readFile(manifest, 'utf8'), text, 'nothing was written');
    assert.match(refused.stderr, /revision 1 \(version 1\.0\.0\) ran the compose file shipped with release 1\.0\.0 of channel stable \(kept at /);
    assert.ok(refused.stderr.includes(store.revisionComposePath(name, 1)), refused.stderr);
    assert.match(refused.stderr, /spec\.images names "worker", which .* does not define/);
    assert.match(refused.stderr, /Nothing was written/);
    const request = await readFile(join(store.root, name, 'rollback-request.yaml'), 'utf8').catch(() => undefined);
    assert.equal(request, undefined, 'a refused rollback leaves no request behind to mislabel a later revision');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
