// When berth keeps its hands off a compose project, on a real engine: a stack whose manifest
// says `mode: disabled` stays untouched even once that manifest is broken and berth has
// restarted; and a project another berth instance manages is left to it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { instanceId } from '../../src/store/channel.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Harness, composeFile, condition, isReady } from '../support/harness.js';

const execFileAsync = promisify(execFile);

let v1: TestImage;
let v2: TestImage;

async function containersOf(project: string) {
  return docker().listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
}

/** Id, image and state of each container of the project, for "nothing was touched" checks. */
async function snapshot(project: string): Promise<string[]> {
  return (await containersOf(project)).map((c) => `${c.Id} ${c.Image} ${c.State}`).sort();
}

/** What a person does by hand: `docker compose up -d` of their own file under the project's name. */
async function composeUpByHand(project: string, image: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-by-hand-'));
  try {
    await writeFile(join(dir, 'compose.yaml'), composeFile({ web: image }));
    await execFileAsync('docker', ['compose', '-p', project, '-f', join(dir, 'compose.yaml'), 'up', '-d'], { timeout: 120_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Waits until the running operator has made `n` more passes, nudging it by rewriting a
 * manifest file with the same text (a broken manifest cannot go through writeStack).
 */
async function morePasses(h: Harness, fileName: string, text: string, n: number): Promise<void> {
  const operator = h.operator!;
  const target = operator.passes + n;
  const deadline = Date.now() + 60_000;
  while (operator.passes < target) {
    assert.ok(Date.now() < deadline, `berth made fewer than ${n} passes within 60 s`);
    await h.writeManifest(fileName, text);
    await new Promise((r) => setTimeout(r, 300));
  }
}

before(async () => {
  await requireEngine();
  const name = uniqueName('hands');
  v1 = await buildTestImage({ name, variant: 'v1' });
  v2 = await buildTestImage({ name, variant: 'v2' });
});

after(async () => {
  await removeTestImages([v1, v2].filter(Boolean));
});

describe('disabled is honoured while the manifest is broken', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('after a restart, a broken manifest that says disabled leaves a hand-run compose alone, and the status says why', async () => {
    const name = uniqueName('dis-restart');
    const file = `${name}.yaml`;
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned }, mode: 'disabled' });
    await h.waitFor({ stack: name }, 'mode disabled', (x) => x.status.mode === 'disabled');

    // The person breaks the manifest (an invalid field) and berth restarts.
    const invalidField = `apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata: {name: ${name}}\nspec:\n  compose: {file: ${name}/compose.yaml}\n  version: "1.0.0"\n  mode: disabled\n  images: {web: "not-pinned:latest"}\n`;
    await h.writeManifest(file, invalidField);
    await h.waitFor({ stack: name }, 'InvalidSpec', (x) => condition(x, 'Ready')?.reason === 'InvalidSpec');
    await h.operator!.stop();
    // Meanwhile the person runs compose by hand with another image.
    await composeUpByHand(name, v2.pinned);
    const byHand = await snapshot(name);
    assert.ok(byHand.some((c) => c.includes(v2.pinned)), 'the hand-run compose put v2 in place');

    await h.start();
    const calls = h.compose!.invocations;
    await morePasses(h, file, invalidField, 3);
    assert.equal(h.compose!.invocations, calls, 'compose ran for a disabled stack');
    assert.deepEqual(await snapshot(name), byHand, 'berth changed containers a person ran by hand');
    let s = (await h.status({ stack: name }))!;
    assert.equal(s.status.mode, 'disabled');
    assert.equal(condition(s, 'Ready')?.reason, 'InvalidSpec');
    assert.match(condition(s, 'Ready')!.message, /spec\.images\.web/);
    assert.match(condition(s, 'Ready')!.message, /mode: disabled.*applies and repairs nothing/);

    // Broken so that the mode itself cannot be read: the mode berth last acted under, kept
    // in the status, still holds after another restart.
    const modeUnreadable = `apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata: {name: ${name}}\nspec: [not, a, spec]\n`;
    await h.operator!.stop();
    await h.writeManifest(file, modeUnreadable);
    await docker().getContainer((await containersOf(name))[0]!.Id).stop({ t: 1 });
    const stopped = await snapshot(name);
    await h.start();
    await morePasses(h, file, modeUnreadable, 3);
    assert.equal(h.compose!.invocations, calls, 'compose ran for a disabled stack');
    assert.deepEqual(await snapshot(name), stopped, 'berth started a container a person stopped');
    s = (await h.status({ stack: name }))!;
    assert.equal(s.status.mode, 'disabled');
    assert.match(condition(s, 'Ready')!.message, /last acted under mode disabled/);
  });

  test('a manifest that says disabled but names a missing compose file repairs nothing', async () => {
    const name = uniqueName('dis-nofile');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));

    const broken = { name, version: '1.0.0', images: { web: v1.pinned }, mode: 'disabled', composeFile: `${name}/gone.yaml` } as const;
    await h.writeStack(broken);
    await h.waitFor({ stack: name }, 'InvalidSpec', (x) => /gone\.yaml/.test(condition(x, 'Ready')?.message ?? ''));
    await docker().getContainer((await containersOf(name))[0]!.Id).stop({ t: 1 });
    const stopped = await snapshot(name);
    const calls = h.compose!.invocations;
    await h.morePasses(broken, 3);
    assert.equal(h.compose!.invocations, calls, 'compose ran for a disabled stack');
    assert.deepEqual(await snapshot(name), stopped, 'berth started a container a person stopped');
    const s = (await h.status({ stack: name }))!;
    assert.equal(s.status.mode, 'disabled');
    assert.match(condition(s, 'Ready')!.message, /mode: disabled/);
  });
});

describe('two berths with different state folders on one compose project', () => {
  let first: Harness;
  let second: Harness;
  before(async () => {
    first = await Harness.create();
    second = await Harness.create();
    await first.start();
  });
  after(async () => {
    await second.close();
    await first.close();
  });

  // Read as berth reads it: the file's place is berth's business (it left the stack namespace).
  const instanceOf = (h: Harness) => instanceId(h.state);
  const stamps = async (project: string) => (await containersOf(project)).map((c) => c.Labels['dev.berth.instance']);

  test('the second reports ManagedElsewhere and recreates nothing; adopt hands the project over deliberately', async () => {
    const name = uniqueName('two');
    await first.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await first.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const v2Stack = { name, version: '2.0.0', images: { web: v2.pinned } };
    await first.writeStack(v2Stack);
    await first.waitFor({ stack: name }, 'Ready at 2.0.0', isReady('2.0.0'));
    const firstId = await instanceOf(first);
    assert.deepEqual(await stamps(name), [firstId], 'the containers name the berth that manages them');
    const before = await snapshot(name);

    // The same stack in a second berth's manifests, with its own state folder.
    await second.writeStack(v2Stack, composeFile({ web: 'placeholder' }));
    await second.start();
    const s = await second.waitFor({ stack: name }, 'ManagedElsewhere', (x) => condition(x, 'Ready')?.reason === 'ManagedElsewhere');
    assert.match(condition(s, 'Ready')!.message, new RegExp(firstId));
    assert.match(condition(s, 'Ready')!.message, /berth\.dev\/adopt/);
    const calls = second.compose!.invocations;
    await second.morePasses(v2Stack, 3);
    assert.equal(second.compose!.invocations, calls, 'the second berth ran compose on a project another manages');
    assert.deepEqual(await snapshot(name), before, 'containers were recreated');
    assert.equal((await second.status({ stack: name }))!.status.revision, undefined, 'the second berth applied nothing');

    // A deliberate take-over, naming the berth it takes over from.
    const adopting = { ...v2Stack, annotations: { 'berth.dev/adopt': firstId } };
    await second.writeStack(adopting);
    await second.waitFor({ stack: name }, 'Ready at 2.0.0 under the second berth', isReady('2.0.0'));
    const secondId = await instanceOf(second);
    assert.deepEqual(await stamps(name), [secondId]);
    // The first berth now stands back instead of taking the project back.
    await first.waitFor({ stack: name }, 'ManagedElsewhere on the first berth', (x) => condition(x, 'Ready')?.reason === 'ManagedElsewhere');
    const handedOver = await snapshot(name);
    const firstCalls = first.compose!.invocations;
    await first.morePasses(v2Stack, 3);
    assert.equal(first.compose!.invocations, firstCalls);
    assert.deepEqual(await snapshot(name), handedOver);
  });
});
