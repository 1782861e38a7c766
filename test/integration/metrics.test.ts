// A real Prometheus scrapes a real `berth run` managing a real engine stack, and what its
// HTTP API answers is what an admin's dashboard would show: after an update the apply is
// counted and the stack is Ready on the new version; after a broken update the rollback is
// counted and the stack runs the old version again. Then, in process against a real release
// feed: what a channel stack's series say while a major release waits for approval, and
// that a removed stack's series are gone.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import type { Metrics } from '../../src/controller/metrics.js';
import { publishRelease } from '../../src/sources/publish.js';
import { generateSigningKeys } from '../../src/sources/signing.js';
import { BerthProcess, berthDirs, killAllBerthProcesses } from '../support/berth-process.js';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { FeedServer } from '../support/feed-server.js';
import { Harness, composeFile, condition, isReady, stackManifest, type StackFields } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Prometheus, requirePrometheus, type QuerySample } from '../support/prometheus.js';

const stack = uniqueName('metrics');
let dir: string | undefined;
let images: TestImage[] = [];
let engineReady = false;
let prometheus: Prometheus | undefined;

before(async () => {
  // Checked first: without prometheus the test fails at once, saying how to install it.
  await requirePrometheus();
  await requireEngine();
  engineReady = true;
  dir = await mkdtemp(join(tmpdir(), 'berth-metrics-'));
  images = [
    await buildTestImage({ name: stack, variant: 'v1', health: 'healthy' }),
    await buildTestImage({ name: stack, variant: 'v2', health: 'healthy' }),
    await buildTestImage({ name: stack, variant: 'broken', health: 'unhealthy' }),
  ];
});

after(async () => {
  await prometheus?.stop();
  await killAllBerthProcesses();
  if (engineReady) {
    await removeProject(stack);
    await removeTestImages(images);
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function writeStack(manifests: string, f: StackFields): Promise<void> {
  const path = join(manifests, `${f.name}.yaml`);
  // Write-then-rename, as editors and git do, so berth never reads half a file.
  await writeFile(`${path}.tmp~`, stackManifest(f));
  await rename(`${path}.tmp~`, path);
}

const one = (r: QuerySample[]) => (r.length === 1 ? r[0] : undefined);

test('Prometheus scraping berth sees an update applied, then a broken one rolled back', async () => {
  const [v1, v2, broken] = images as [TestImage, TestImage, TestImage];
  const dirs = await berthDirs(dir, 'berth');
  await mkdir(join(dirs.manifests, stack), { recursive: true });
  await writeFile(join(dirs.manifests, stack, 'compose.yaml'), composeFile({ web: 'placeholder' }));
  const base: StackFields = { name: stack, version: '1.0.0', images: { web: v1.pinned }, health: { stableForSeconds: 1, progressDeadlineSeconds: 60 } };
  await writeStack(dirs.manifests, base);

  const berth = BerthProcess.start(dirs);
  await berth.started();
  const { url } = JSON.parse(await berth.waitForLog(/"msg":"web console listening"/)) as { url: string };
  prometheus = await Prometheus.start({ dir: join(dir as string, 'prometheus'), targets: [new URL(url).host] });
  const prom = prometheus;
  const context = async () => `berth log tail (${berth.logFile}):\n${await berth.logTail()}\nprometheus log tail:\n${await prom.logTail()}`;
  const sel = `stack="${stack}"`;

  await prom.waitFor('up{job="berth"}', 'berth as a target that is up', (r) => one(r)?.value === 1, context);
  await prom.waitFor(`berth_stack_info{${sel}}`, 'version 1.0.0 running', (r) => one(r)?.metric['current_version'] === '1.0.0', context);
  await prom.waitFor(`berth_stack_ready{${sel}}`, 'the stack Ready', (r) => one(r)?.value === 1, context);

  // An update: applied, passes its health gate, counted once.
  await writeStack(dirs.manifests, { ...base, version: '1.1.0', images: { web: v2.pinned } });
  const info = await prom.waitFor(`berth_stack_info{${sel}}`, 'version 1.1.0 running', (r) => one(r)?.metric['current_version'] === '1.1.0', context);
  assert.equal(info[0]?.value, 1);
  assert.equal(info[0]?.metric['target_version'], '1.1.0');
  assert.equal(info[0]?.metric['mode'], 'auto');
  await prom.waitFor(`berth_applies_total{${sel},outcome="succeeded"}`, 'two successful applies (install and update)', (r) => one(r)?.value === 2, context);
  const ready = await prom.waitFor(`berth_stack_ready{${sel}}`, 'the stack Ready on 1.1.0', (r) => one(r)?.value === 1, context);
  assert.equal(ready[0]?.metric['reason'], 'Converged');
  assert.equal(one(await prom.query(`berth_stack_revision{${sel}}`))?.value, 2);
  assert.equal(one(await prom.query(`berth_applies_total{${sel},outcome="failed"}`))?.value, 0, 'nothing has failed yet');
  assert.equal(one(await prom.query(`berth_rollbacks_total{${sel},outcome="succeeded"}`))?.value, 0, 'nothing was rolled back yet');
  assert.ok((one(await prom.query('sum(berth_engine_calls_total{kind="list_containers"})'))?.value ?? 0) > 0, 'engine calls are counted');
  assert.ok((one(await prom.query('sum(berth_reconcile_duration_seconds_count)'))?.value ?? 0) > 0, 'reconcile passes are timed');

  // A broken update: it never becomes healthy, berth rolls back to 1.1.0 by itself.
  await writeStack(dirs.manifests, { ...base, version: '2.0.0', images: { web: broken.pinned } });
  await prom.waitFor(`berth_rollbacks_total{${sel},outcome="succeeded"}`, 'one successful rollback', (r) => one(r)?.value === 1, context);
  const back = await prom.waitFor(
    `berth_stack_info{${sel}}`,
    'version 1.1.0 running again while 2.0.0 is asked for',
    (r) => one(r)?.metric['current_version'] === '1.1.0' && one(r)?.metric['target_version'] === '2.0.0',
    context,
  );
  assert.equal(back.length, 1, 'the info series of the old version went stale');
  await prom.waitFor(`berth_applies_total{${sel},outcome="failed"}`, 'the failed apply counted', (r) => one(r)?.value === 1, context);
  assert.equal(one(await prom.query(`berth_applies_total{${sel},outcome="succeeded"}`))?.value, 2, 'the broken update is no success');
  const notReady = await prom.waitFor(`berth_stack_ready{${sel}}`, 'the stack not Ready after the rollback', (r) => one(r)?.value === 0, context);
  assert.equal(notReady[0]?.metric['reason'], 'RolledBack');
  assert.ok((one(await prom.query('process_resident_memory_bytes{job="berth"}'))?.value ?? 0) > 0, "prom-client's process metrics are served too");

  await berth.stop();
});

/** The samples of one series in an operator's exposition (label values here hold no quotes). */
async function series(metrics: Metrics, name: string, stackName: string): Promise<Array<{ labels: string; value: number }>> {
  const { body } = await metrics.exposition();
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(`stack="${stackName}"`))
    .map((l) => ({ labels: l.slice(l.indexOf('{') + 1, l.lastIndexOf('}')), value: Number(l.slice(l.lastIndexOf(' ') + 1)) }));
}

async function waitForSeries(
  metrics: Metrics,
  what: string,
  pred: () => Promise<boolean>,
  h: Harness,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const { body } = await metrics.exposition();
  assert.fail(`the metrics did not show ${what} within ${timeoutMs} ms; berth series now:\n${body.split('\n').filter((l) => l.startsWith('berth_stack')).join('\n')}\nlog: ${join(h.root, 'berth.log')}`);
}

test('a channel stack: available version, update available, awaiting approval, and a last check-in that moves on with every accepted check-in; removed, its series go', async () => {
  const [v1, v2] = images as [TestImage, TestImage];
  const vendorDir = await mkdtemp(join(tmpdir(), 'berth-metrics-vendor-'));
  const keys = generateSigningKeys();
  await writeFile(join(vendorDir, 'release.key'), keys.privatePem, { mode: 0o600 });
  await writeFile(join(vendorDir, 'release.pub'), keys.publicPem);
  await mkdir(join(vendorDir, 'feed'), { recursive: true });
  const feed = new FeedServer(join(vendorDir, 'feed'));
  await feed.start();
  const publish = async (version: string, web: string) => {
    const file = join(vendorDir, `release-${version}.yaml`);
    await writeFile(file, stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Release', metadata: { name: `shop-${version.replace(/\./g, '-')}` }, spec: { version, images: { web }, notes: `release ${version}` } }));
    await publishRelease({ releaseFile: file, keyFile: join(vendorDir, 'release.key'), feedDir: join(vendorDir, 'feed'), channel: 'stable', now: new Date() });
  };
  const h = await Harness.create();
  try {
    const operator = await h.start();
    const name = uniqueName('metrics-chan');
    await publish('1.0.0', v1.pinned);
    await h.writeStack({ name, channel: { url: feed.url, publicKey: join(vendorDir, 'release.pub') } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'installed 1.0.0 from the channel', isReady('1.0.0'));

    await publish('2.0.0', v2.pinned);
    // A major release waits for approval; once its images are pre-downloaded the status stops changing.
    const waits = (s: StackStatus) => s.status.available?.version === '2.0.0' && condition(s, 'AwaitingApproval')?.status === 'True' && s.status.available.downloaded === true;
    const s = await h.waitFor({ stack: name }, '2.0.0 downloaded and waiting for approval', waits);
    await waitForSeries(operator.metrics, 'the waiting release', async () => (await series(operator.metrics, 'berth_stack_info', name))[0]?.labels.includes('available_version="2.0.0"') === true, h);
    const info = (await series(operator.metrics, 'berth_stack_info', name))[0];
    assert.match(info?.labels ?? '', /current_version="1\.0\.0"/);
    assert.deepEqual(await series(operator.metrics, 'berth_stack_update_available', name), [{ labels: `stack="${name}"`, value: 1 }]);
    assert.deepEqual(await series(operator.metrics, 'berth_stack_awaiting_approval', name), [{ labels: `stack="${name}"`, value: 1 }]);

    // Check-ins that bring nothing new rewrite no status, yet the gauge moves on with them.
    const recorded = Date.parse(s.status.lastCheckIn ?? '') / 1000;
    assert.ok(recorded > 0, 'the status records a check-in');
    await waitForSeries(
      operator.metrics,
      'a check-in newer than the one the status records',
      async () => ((await series(operator.metrics, 'berth_stack_last_checkin_timestamp_seconds', name))[0]?.value ?? 0) > recorded,
      h,
    );
    assert.equal((await h.status({ stack: name }))?.status.lastCheckIn, s.status.lastCheckIn, 'the status was not rewritten meanwhile');

    await rm(join(h.manifests, `${name}.yaml`));
    await waitForSeries(operator.metrics, 'no series of the removed stack', async () => (await operator.metrics.exposition()).body.split('\n').every((l) => !l.includes(`stack="${name}"`)), h);
  } finally {
    await h.close();
    await feed.stop();
    await rm(vendorDir, { recursive: true, force: true });
  }
});
