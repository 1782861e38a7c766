// Adopting an install a person started with `docker compose up -d`, on a real engine: the
// first revision recreates nothing whose definition does not change (berth's labels would
// change compose's config hash, so berth leaves them off what it adopts as it runs), and
// `berth diff` says so beforehand. A service the Stack does change is the only one recreated.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { berth } from '../support/cli.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Harness, condition, isReady } from '../support/harness.js';

const execFileAsync = promisify(execFile);

let v1: TestImage;
let v2: TestImage;

before(async () => {
  await requireEngine();
  const name = uniqueName('adopt');
  v1 = await buildTestImage({ name, variant: 'v1' });
  v2 = await buildTestImage({ name, variant: 'v2' });
});

after(async () => {
  await removeTestImages([v1, v2].filter(Boolean));
});

/** Each container of the project as `service id startedAt`: equal snapshots mean nothing was recreated or restarted. */
async function snapshot(project: string): Promise<string[]> {
  const cs = await docker().listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  const rows = await Promise.all(
    cs.map(async (c) => {
      const info = await docker().getContainer(c.Id).inspect();
      return `${c.Labels['com.docker.compose.service']} ${c.Id} ${info.State.StartedAt}`;
    }),
  );
  return rows.sort();
}

/**
 * Container lifecycle events of the project from `since` (epoch seconds) until now, as the
 * engine logged them. `since` reaches a second back (the engine's clock and ours), so it can
 * take in the person's own `compose up`: the creation of a container in `byHand` is theirs.
 */
async function lifecycleEvents(project: string, since: number, byHand: string[]): Promise<string[]> {
  const theirs = new Set(byHand.map((row) => row.split(' ')[1]));
  const stream = await docker().getEvents({
    since,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], label: [`com.docker.compose.project=${project}`], event: ['create', 'destroy', 'stop', 'die', 'kill', 'restart'] },
  });
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const e = JSON.parse(line) as { id?: string; status?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
      const action = e.Action ?? e.status;
      return action === 'create' && theirs.has(e.Actor?.ID ?? e.id ?? '') ? undefined : `${action} ${e.Actor?.Attributes?.['com.docker.compose.service'] ?? '?'}`;
    })
    .filter((e): e is string => e !== undefined);
}

function idOf(rows: string[], service: string): string | undefined {
  return rows.find((r) => r.startsWith(`${service} `))?.split(' ')[1];
}

type Diff = { project: string; next?: number; services: { service: string; change: string }[] };

/** A vendor's install as its docs say to start it: its own compose file, `docker compose up -d` in its folder. */
async function startedByHand(h: Harness, folder: string, project: string, webImage: string): Promise<void> {
  const dir = join(h.manifests, folder);
  await mkdir(dir, { recursive: true });
  // Labels and variables of the person's own, which berth keeps as they are.
  const compose = [
    `name: ${project}`,
    'services:',
    `  web: {image: "${webImage}", init: false, labels: {team: shop}, environment: {GREETING: "hello \${WHO:-world}"}}`,
    `  side: {image: "${v1.ref}", init: false}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'compose.yaml'), compose);
  h.projects.add(project);
  await execFileAsync('docker', ['compose', 'up', '-d'], { cwd: dir, timeout: 120_000 });
}

describe('adopting a running install', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
  });
  after(async () => h.close());

  test('with nothing to change: diff says keep, berth reports Ready, and no container is recreated or restarted', async () => {
    const project = uniqueName('shop');
    const name = uniqueName('adopt-same');
    const folder = uniqueName('install');
    await startedByHand(h, folder, project, v1.pinned);
    const byHand = await snapshot(project);
    assert.equal(byHand.length, 2);
    const stack = { name, version: '1.0.0', images: { web: v1.pinned }, composeFile: `${folder}/compose.yaml` };
    await h.writeStack(stack);

    const diff = await berth(['diff', name, '--manifests', h.manifests, '--state', h.state.root, '-o', 'json']);
    assert.equal(diff.code, 0, `diff exits 0 when nothing would be recreated: ${diff.stdout}${diff.stderr}`);
    const d = JSON.parse(diff.stdout) as Diff;
    assert.equal(d.project, project);
    assert.equal(d.next, 1);
    assert.deepEqual(d.services.map((s) => [s.service, s.change]), [['side', 'keep'], ['web', 'keep']]);

    const since = Math.floor(Date.now() / 1000) - 1;
    await h.start();
    const s = await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    assert.equal(s.status.revision, 1);
    assert.equal(s.status.project, project);
    assert.deepEqual(await snapshot(project), byHand, 'adopting the install recreated or restarted a container');

    // The revision runs exactly what the person ran: no berth label in it, compose's hash on record.
    const rendered = parse(await readFile(h.state.revisionComposePath(name, 1), 'utf8')) as { services: Record<string, { labels?: Record<string, string> }> };
    assert.deepEqual(rendered.services['web']?.labels, { team: 'shop' });
    assert.equal(rendered.services['side']?.labels, undefined);
    const record = (await h.state.readRevision(name, 1))!;
    for (const svc of record.services) assert.match(svc.configHash ?? '', /^[0-9a-f]{64}$/, `${svc.name} is known by compose's config hash`);

    // It stays so over more passes (no repair loop), and diff says keep for what runs now.
    await h.morePasses(stack, 3);
    assert.deepEqual(await snapshot(project), byHand);
    // The engine's own account: compose created, destroyed, stopped or killed nothing of the
    // project (compose up "starts" a running container, which changes nothing: StartedAt above says so).
    assert.deepEqual(await lifecycleEvents(project, since, byHand), [], 'compose recreated or restarted a container');
    const again = await berth(['diff', name, '--state', h.state.root, '-o', 'json']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual((JSON.parse(again.stdout) as Diff).services.map((x) => x.change), ['keep', 'keep']);

    // An adopted service is still repaired: stopped by hand, berth starts it again (not a new container).
    const sideId = idOf(byHand, 'side')!;
    await docker().getContainer(sideId).stop({ t: 1 });
    await h.waitFor({ stack: name }, 'side running again', (x) =>
      x.status.services.some((svc) => svc.name === 'side' && svc.containers.some((c) => c.state === 'running')) && isReady('1.0.0')(x),
    );
    assert.equal(idOf(await snapshot(project), 'side'), sideId, 'the stopped container was started again, not replaced');
  });

  test('with one service changed: only that one is recreated, and it carries berth\'s labels', async () => {
    const project = uniqueName('shop');
    const name = uniqueName('adopt-one');
    const folder = uniqueName('install');
    await startedByHand(h, folder, project, v1.pinned);
    const byHand = await snapshot(project);
    // The Stack pins another image for web: web's definition changes, side's does not.
    const stack = { name, version: '2.0.0', images: { web: v2.pinned }, composeFile: `${folder}/compose.yaml` };
    await h.writeStack(stack);

    const diff = await berth(['diff', name, '--manifests', h.manifests, '--state', h.state.root, '-o', 'json']);
    assert.equal(diff.code, 1, `diff exits 1 when something would be recreated: ${diff.stdout}${diff.stderr}`);
    assert.deepEqual((JSON.parse(diff.stdout) as Diff).services.map((s) => [s.service, s.change]), [['side', 'keep'], ['web', 'recreate']]);

    const since = Math.floor(Date.now() / 1000) - 1;
    if (h.operator === undefined) await h.start();
    await h.waitFor({ stack: name }, 'Ready at 2.0.0', isReady('2.0.0'));
    const now = await snapshot(project);
    const events = await lifecycleEvents(project, since, byHand);
    assert.ok(events.includes('create web') && events.includes('destroy web'), `web was recreated: ${events.join(', ')}`);
    assert.deepEqual(events.filter((e) => e.endsWith(' side')), [], 'side was touched');
    assert.equal(idOf(now, 'side'), idOf(byHand, 'side'), 'side was recreated although its definition did not change');
    assert.equal(now.find((r) => r.startsWith('side ')), byHand.find((r) => r.startsWith('side ')), 'side was restarted');
    assert.notEqual(idOf(now, 'web'), idOf(byHand, 'web'), 'web runs the new image in a new container');
    const [web] = await docker().listContainers({ filters: { label: [`com.docker.compose.project=${project}`, 'com.docker.compose.service=web'] } });
    assert.equal(web?.Labels['dev.berth.revision'], '1', 'what berth creates carries its labels');
    assert.ok(web?.Labels['dev.berth.instance'], 'what berth creates carries its instance');
    assert.equal(web?.Labels['team'], 'shop');
    const s = (await h.status({ stack: name }))!;
    assert.equal(condition(s, 'Ready')?.status, 'True');
  });
});
