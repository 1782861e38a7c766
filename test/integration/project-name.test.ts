// A compose project is known by its name alone, so two stacks in one project would remove
// each other's services as orphans (`up --remove-orphans`). On a real engine: the second
// stack to claim a project is refused, and the first one's containers stay. And the project
// is the one compose decides (the file's name:, else the folder), so berth adopts an install
// a person started with `docker compose up` under that install's own project.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { berth } from '../support/cli.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Harness, condition, isReady } from '../support/harness.js';

let plain: TestImage;

before(async () => {
  await requireEngine();
  plain = await buildTestImage({ name: uniqueName('proj'), variant: 'plain' });
});

after(async () => {
  await removeTestImages([plain].filter(Boolean));
});

/** Ids of the running containers of one service of a project. */
async function running(project: string, service: string): Promise<string[]> {
  const cs = await docker().listContainers({
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  return cs.map((c) => c.Id).sort();
}

describe('two stacks in one compose project', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test("the second stack is InvalidSpec naming both, and the first one's services are not removed as its orphans", async () => {
    const project = uniqueName('shared');
    h.projects.add(project);
    const first = uniqueName('first');
    const second = uniqueName('second');
    const file = (service: string) => `name: ${project}\nservices:\n  ${service}: {image: "${plain.pinned}", init: false}\n`;
    await h.writeStack({ name: first, version: '1.0.0' }, file('web'));
    const s1 = await h.waitFor({ stack: first }, 'first Ready', isReady('1.0.0'));
    assert.equal(s1.status.project, project, "the file's name: is the project");
    const web = await running(project, 'web');
    assert.equal(web.length, 1);

    await h.writeStack({ name: second, version: '1.0.0' }, file('api'));
    const s2 = await h.waitFor({ stack: second }, 'second InvalidSpec', (x) => condition(x, 'Ready')?.reason === 'InvalidSpec');
    const message = condition(s2, 'Ready')?.message ?? '';
    for (const part of [first, second, `${first}.yaml`, `${second}.yaml`, project]) assert.ok(message.includes(part), `${part} in: ${message}`);

    // More passes of both: the refusal holds, and nothing of the first stack moves.
    const passes = h.operator!.passes;
    while (h.operator!.passes < passes + 4) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await running(project, 'web'), web, "the first stack's container was neither removed nor recreated");
    assert.deepEqual(await running(project, 'api'), [], 'the second stack ran nothing in the project');
    assert.equal(condition((await h.status({ stack: second }))!, 'Ready')?.reason, 'InvalidSpec');
    assert.equal(condition((await h.status({ stack: first }))!, 'Ready')?.status, 'True');
  });
});

describe('two stacks in one compose project, across a restart of berth', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('the stack that runs under the project keeps it after a restart, even when the other one\'s file sorts first', async () => {
    const project = uniqueName('shared');
    h.projects.add(project);
    // The running stack's manifest sorts last, so a restarted berth may well pass the other one first.
    const first = uniqueName('zz-first');
    const second = uniqueName('aa-second');
    const file = (service: string) => `name: ${project}\nservices:\n  ${service}: {image: "${plain.pinned}", init: false}\n`;
    await h.writeStack({ name: first, version: '1.0.0' }, file('web'));
    await h.waitFor({ stack: first }, 'first Ready', isReady('1.0.0'));
    const web = await running(project, 'web');
    await h.writeStack({ name: second, version: '1.0.0' }, file('api'));
    await h.waitFor({ stack: second }, 'second InvalidSpec', (x) => condition(x, 'Ready')?.reason === 'InvalidSpec');

    await h.operator!.stop();
    await h.start();
    const passes = h.operator!.passes;
    while (h.operator!.passes < passes + 4) await new Promise((r) => setTimeout(r, 200));
    assert.equal(condition((await h.status({ stack: second }))!, 'Ready')?.reason, 'InvalidSpec');
    assert.deepEqual(await running(project, 'api'), [], 'the second stack ran nothing in the project');
    assert.deepEqual(await running(project, 'web'), web, "the first stack's container was neither removed nor recreated");
    assert.equal(condition((await h.status({ stack: first }))!, 'Ready')?.status, 'True');
  });
});

describe('the project name as compose decides it', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  /** A vendor's install, started by hand in its folder as the vendor's docs say; returns its web container. */
  async function startedByHand(folder: string, compose: string, project: string): Promise<string[]> {
    const dir = join(h.manifests, folder);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'compose.yaml'), compose);
    h.projects.add(project);
    await promisify(execFile)('docker', ['compose', 'up', '-d'], { cwd: dir });
    const web = await running(project, 'web');
    assert.equal(web.length, 1, `docker compose up started web in project ${project}`);
    return web;
  }

  test("a compose file with name: is adopted under that project, not under the stack's name", async () => {
    const shop = uniqueName('shop');
    const name = uniqueName('adopt');
    const folder = uniqueName('install');
    await startedByHand(folder, `name: ${shop}\nservices:\n  web: {image: "${plain.pinned}", init: false}\n`, shop);
    h.projects.add(name);
    await h.writeStack({ name, version: '1.0.0', composeFile: `${folder}/compose.yaml` });
    const s = await h.waitFor({ stack: name }, 'Ready', isReady('1.0.0'));
    assert.equal(s.status.project, shop);
    assert.equal((await running(shop, 'web')).length, 1, 'one web, in the install\'s own project');
    assert.deepEqual(await running(name, 'web'), [], "nothing started under the stack's name");
  });

  test("without name:, the install's folder is the project, as for `docker compose up` in it", async () => {
    const name = uniqueName('adopt');
    const folder = uniqueName('vendorapp');
    await startedByHand(folder, `services:\n  web: {image: "${plain.pinned}", init: false}\n`, folder);
    h.projects.add(name);
    await h.writeStack({ name, version: '1.0.0', composeFile: `${folder}/compose.yaml` });
    const s = await h.waitFor({ stack: name }, 'Ready', isReady('1.0.0'));
    assert.equal(s.status.project, folder);
    assert.equal((await running(folder, 'web')).length, 1);
    assert.deepEqual(await running(name, 'web'), [], "nothing started under the stack's name");
  });
});


describe('berth diff: what adopting a running install would recreate, before it does', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
  });
  after(async () => h.close());

  test('an install started by hand: diff says each unchanged service is kept and changes nothing; once berth runs it, diff still says keep', async () => {
    const shop = uniqueName('diffshop');
    const name = uniqueName('diff');
    const folder = uniqueName('install');
    const dir = join(h.manifests, folder);
    await mkdir(dir, { recursive: true });
    const composeWith = (greeting: string, password: string) =>
      `name: ${shop}\nservices:\n  web: {image: "${plain.pinned}", init: false, environment: {GREETING: ${greeting}, DB_PASSWORD: ${password}}}\n`;
    await writeFile(join(dir, 'compose.yaml'), composeWith('hello', 'first-s3cret'));
    h.projects.add(shop);
    h.projects.add(name);
    await promisify(execFile)('docker', ['compose', 'up', '-d'], { cwd: dir });
    const byHand = await running(shop, 'web');
    await h.writeStack({ name, version: '1.0.0', composeFile: `${folder}/compose.yaml` });

    const before = await berth(['diff', name, '--manifests', h.manifests, '--state', h.state.root, '-o', 'json']);
    assert.equal(before.code, 0, `diff exits 0 when nothing would be recreated: ${before.stdout}${before.stderr}`);
    const diff = JSON.parse(before.stdout) as { project: string; next?: number; services: { service: string; change: string }[] };
    assert.equal(diff.project, shop);
    assert.equal(diff.next, 1);
    // berth adopts the unchanged service as it runs, without its labels: compose keeps the container.
    assert.deepEqual(diff.services.map((s) => [s.service, s.change]), [['web', 'keep']]);
    // Nothing of berth's runs yet: the whole compose file it would run is added, its password redacted.
    const compose = (JSON.parse(before.stdout) as { compose: { from: string; unified: string } }).compose;
    assert.match(compose.from, /nothing/);
    assert.match(compose.unified, /^\+\s+GREETING: hello$/m);
    assert.match(compose.unified, /^\+\s+DB_PASSWORD: \*\*\*$/m);
    assert.doesNotMatch(before.stdout, /s3cret/);
    assert.deepEqual(await running(shop, 'web'), byHand, 'diff changed nothing');
    assert.deepEqual(await h.state.revisionNumbers(name), [], 'diff wrote no revision');

    const operator = await h.start();
    await h.waitFor({ stack: name }, 'Ready', isReady('1.0.0'));
    assert.deepEqual(await running(shop, 'web'), byHand, 'adopting recreated the container');
    const after = await berth(['diff', name, '--state', h.state.root, '-o', 'json']);
    assert.equal(after.code, 0, after.stderr);
    const now = JSON.parse(after.stdout) as { applied?: number; next?: number; services: { service: string; change: string }[] };
    assert.equal(now.applied, 1);
    assert.equal(now.next, undefined, 'no new revision is due');
    assert.deepEqual(now.services.map((s) => [s.service, s.change]), [['web', 'keep']]);
    const text = await berth(['diff', name, '--state', h.state.root]);
    assert.match(text.stdout, /web\s+keep/);
    assert.match(text.stdout, /compose file: no change/);

    // With berth stopped, a person edits the compose file: diff shows the lines that change, as diff -u does.
    await operator.stop();
    await writeFile(join(dir, 'compose.yaml'), composeWith('goodbye', 'second-s3cret'));
    const edited = await berth(['diff', name, '--state', h.state.root]);
    assert.equal(edited.code, 1, edited.stderr);
    assert.match(edited.stdout, /^--- revision 1 \(runs\)\n\+\+\+ revision 2 \(next pass\)\n@@ /m);
    assert.match(edited.stdout, /^-\s+GREETING: hello\n\+\s+GREETING: goodbye$/m);
    assert.doesNotMatch(edited.stdout, /s3cret/);
    assert.doesNotMatch(edited.stdout, /^[-+]\s+DB_PASSWORD/m, 'a redacted value that changed shows no line: it is *** on both sides');
  });
});
