// berth against a real Docker engine, the real compose CLI and a registry on 127.0.0.1:
// what a person sees when they write, edit, break and approve Stack manifests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Harness, composeFile, condition, isReady } from '../support/harness.js';
import type { FileWatcher } from '../../src/store/watch.js';

let v1: TestImage;
let v2: TestImage;
let missing: string;

async function containersOf(project: string) {
  return docker().listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
}

async function removeContainers(project: string, service: string): Promise<string[]> {
  const cs = (await containersOf(project)).filter((c) => c.Labels['com.docker.compose.service'] === service);
  for (const c of cs) await docker().getContainer(c.Id).remove({ force: true });
  return cs.map((c) => c.Id);
}

async function webDigest(project: string): Promise<string | undefined> {
  const [c] = (await containersOf(project)).filter((x) => x.Labels['com.docker.compose.service'] === 'web');
  if (c === undefined) return undefined;
  const img = await docker().getImage(c.ImageID).inspect();
  return img.RepoDigests.map((d) => d.slice(d.indexOf('@') + 1)).find((d) => d === v1.digest || d === v2.digest) ?? img.RepoDigests[0];
}

before(async () => {
  await requireEngine();
  const name = uniqueName('op');
  v1 = await buildTestImage({ name, variant: 'v1' });
  v2 = await buildTestImage({ name, variant: 'v2' });
  // A digest no registry holds: berth must refuse to touch the stack for it.
  missing = `${v1.repo}@sha256:${'0'.repeat(64)}`;
});

after(async () => {
  await removeTestImages([v1, v2].filter(Boolean));
});

describe('berth run, converging compose projects on a real engine', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('a new Stack converges: pinned digest runs, revision 1 is recorded, status says Ready', async () => {
    const name = uniqueName('new');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder', side: v1.ref }));
    const s = await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    assert.equal(s.status.revision, 1);
    assert.equal(s.status.targetVersion, '1.0.0');
    assert.equal(await webDigest(name), v1.digest);
    const rendered = await readFile(h.state.revisionComposePath(name, 1), 'utf8');
    assert.match(rendered, new RegExp(`image: ${v1.pinned.replace(/[.]/g, '\\.')}`));
    assert.match(rendered, /dev\.berth\.revision: "1"/);
    const services = (await containersOf(name)).map((c) => c.Labels['com.docker.compose.service']).sort();
    assert.deepEqual(services, ['side', 'web']);
  });

  test('an edit to version and digest is applied as a new revision', async () => {
    const name = uniqueName('edit');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder', side: v1.ref }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const sideBefore = (await containersOf(name)).find((c) => c.Labels['com.docker.compose.service'] === 'side')!.Id;
    await h.writeStack({ name, version: '2.0.0', images: { web: v2.pinned } });
    const s = await h.waitFor({ stack: name }, 'Ready at 2.0.0', isReady('2.0.0'));
    assert.equal(s.status.revision, 2);
    assert.equal(await webDigest(name), v2.digest);
    // The untouched service keeps its revision label, so compose did not recreate it.
    const sideAfter = (await containersOf(name)).find((c) => c.Labels['com.docker.compose.service'] === 'side')!.Id;
    assert.equal(sideAfter, sideBefore);
  });

  test("a person's own `docker compose -p <project> logs -f` is neither waited for nor killed when berth applies", async () => {
    const name = uniqueName('fence');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    // A long-running process whose argv reads as a person's compose session on this project.
    const person = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', 'docker', 'compose', '-p', name, 'logs', '-f'], { stdio: 'ignore' });
    const exited = once(person, 'exit');
    try {
      await h.writeStack({ name, version: '2.0.0', images: { web: v2.pinned } });
      // Far below the compose deadline the fence would wait for a compose process of berth's own.
      const s = await h.waitFor({ stack: name }, 'Ready at 2.0.0', isReady('2.0.0'), 60_000);
      assert.equal(s.status.revision, 2);
      assert.equal(person.exitCode, null, 'the person\'s compose session was killed');
      assert.equal(person.signalCode, null, 'the person\'s compose session was killed');
    } finally {
      person.kill('SIGKILL');
      await exited;
    }
  });

  test('notify mode waits; an approval of another version approves nothing; the matching one applies', async () => {
    const name = uniqueName('notify');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned }, mode: 'notify', approve: '1.0.0' }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));

    await h.writeStack({ name, version: '2.0.0', images: { web: v2.pinned }, mode: 'notify' });
    let s = await h.waitFor({ stack: name }, 'AwaitingApproval', (x) => condition(x, 'AwaitingApproval')?.status === 'True');
    assert.equal(s.status.currentVersion, '1.0.0');
    assert.equal(condition(s, 'Ready')?.reason, 'AwaitingApproval');
    assert.match(condition(s, 'AwaitingApproval')!.message, /spec\.approve to "2\.0\.0"/);

    // While it waits, what runs is still kept running (self-heal of the applied revision).
    const [gone] = await removeContainers(name, 'web');
    await h.waitFor({ stack: name }, 'web recreated at 1.0.0', (x) =>
      x.status.services.some((svc) => svc.name === 'web' && svc.containers.some((c) => c.state === 'running' && !gone!.startsWith(c.id))),
    );
    assert.equal(await webDigest(name), v1.digest);

    await h.writeStack({ name, version: '2.0.0', images: { web: v2.pinned }, mode: 'notify', approve: '1.9.9' });
    s = await h.waitFor({ stack: name }, 'the wrong approval to be seen', (x) => /approves no other version/.test(condition(x, 'AwaitingApproval')?.message ?? ''));
    assert.equal(condition(s, 'AwaitingApproval')?.status, 'True');
    assert.equal(await webDigest(name), v1.digest);

    await h.writeStack({ name, version: '2.0.0', images: { web: v2.pinned }, mode: 'notify', approve: '2.0.0' });
    s = await h.waitFor({ stack: name }, 'Ready at 2.0.0', isReady('2.0.0'));
    assert.equal(condition(s, 'AwaitingApproval')?.status, 'False');
    assert.equal(await webDigest(name), v2.digest);
  });

  test('a broken manifest gives Ready=False/InvalidSpec naming the file; the stack stays and is still healed', async () => {
    const name = uniqueName('broken');
    const file = await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const before = (await containersOf(name)).map((c) => c.Id);

    await h.writeManifest(`${name}.yaml`, `apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata: {name: ${name}}\nspec:\n  version: [unclosed\n`);
    let s = await h.waitFor({ stack: name }, 'InvalidSpec', (x) => condition(x, 'Ready')?.reason === 'InvalidSpec');
    assert.ok(condition(s, 'Ready')!.message.includes(file), 'the message names the file');
    assert.equal(condition(s, 'SpecInvalid')?.status, 'True');
    assert.deepEqual((await containersOf(name)).map((c) => c.Id), before, 'nothing was touched');

    // A schema violation names the field.
    await h.writeManifest(`${name}.yaml`, `apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata: {name: ${name}}\nspec:\n  compose: {file: ${name}/compose.yaml}\n  version: "3.0.0"\n  images: {web: "not-pinned:latest"}\n`);
    s = await h.waitFor({ stack: name }, 'field named', (x) => /spec\.images\.web/.test(condition(x, 'Ready')?.message ?? ''));
    assert.equal(condition(s, 'Ready')?.reason, 'InvalidSpec');

    // berth keeps acting on the last valid desired state: a removed container comes back.
    const [gone] = await removeContainers(name, 'web');
    await h.waitFor({ stack: name }, 'web recreated while the manifest is invalid', (x) =>
      x.status.services.some((svc) => svc.name === 'web' && svc.containers.some((c) => c.state === 'running' && !gone!.startsWith(c.id))),
    );
    assert.equal(await webDigest(name), v1.digest, 'healed to the last valid revision, nothing new applied');
    assert.equal((await h.status({ stack: name }))?.status.revision, 1);

    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } });
    await h.waitFor({ stack: name }, 'Ready again', isReady('1.0.0'));
  });

  test('a file that never parsed is reported under its file name, and berth keeps running', async () => {
    await h.writeManifest('junk.yaml', 'this: [is not yaml\n');
    const s = await h.waitFor({ file: 'junk.yaml' }, 'junk.yaml reported', (x) => condition(x, 'Ready')?.reason === 'InvalidSpec');
    assert.match(condition(s, 'Ready')!.message, /junk\.yaml: YAML syntax error/);
    // Still serving other stacks.
    const name = uniqueName('after-junk');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    // Once the file is gone, so is its status.
    const { rm } = await import('node:fs/promises');
    await rm(`${h.manifests}/junk.yaml`);
    const deadline = Date.now() + 30_000;
    while ((await h.status({ file: 'junk.yaml' })) !== undefined) {
      assert.ok(Date.now() < deadline, 'the status of a removed file is cleared');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  test('disabled mode applies nothing and repairs nothing', async () => {
    const name = uniqueName('disabled');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));

    const disabled = { name, version: '2.0.0', images: { web: v2.pinned }, mode: 'disabled' } as const;
    await h.writeStack(disabled);
    const s = await h.waitFor({ stack: name }, 'UpdatesDisabled', (x) => condition(x, 'Ready')?.reason === 'UpdatesDisabled');
    assert.equal(s.status.targetVersion, '2.0.0');
    assert.equal(await webDigest(name), v1.digest, 'the new target was not applied');

    await removeContainers(name, 'web');
    await h.waitFor({ stack: name }, 'the removal to be observed', (x) =>
      x.status.services.every((svc) => svc.name !== 'web' || svc.containers.length === 0),
    );
    // berth looks again, several times, and still keeps its hands off.
    const calls = h.compose!.invocations;
    await h.morePasses(disabled, 3);
    assert.equal(h.compose!.invocations, calls, 'compose ran in disabled mode');
    assert.equal((await containersOf(name)).length, 0, 'berth did not recreate anything in disabled mode');
    assert.equal(condition((await h.status({ stack: name }))!, 'Ready')?.status, 'False');
  });

  test('a container removed by hand is recreated in auto mode', async () => {
    const name = uniqueName('heal');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const [gone] = await removeContainers(name, 'web');
    const s = await h.waitFor({ stack: name }, 'recreated', (x) =>
      isReady('1.0.0')(x) && x.status.services.some((svc) => svc.containers.some((c) => !gone!.startsWith(c.id))),
    );
    assert.equal(s.status.revision, 1, 'a repair re-applies the same revision, it does not make a new one');
    assert.equal(await webDigest(name), v1.digest);
  });

  test('a container stopped by hand is started again in auto mode', async () => {
    const name = uniqueName('stopped');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const [c] = await containersOf(name);
    await docker().getContainer(c!.Id).stop({ t: 1 });
    await h.waitFor({ stack: name }, 'running again', (x) =>
      isReady('1.0.0')(x) && x.status.services.every((svc) => svc.containers.every((k) => k.state === 'running')),
    );
  });

  test('an image digest the registry does not have stops nothing and says why', async () => {
    const name = uniqueName('badpull');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    const before = (await containersOf(name)).map((c) => c.Id);
    await h.writeStack({ name, version: '1.1.0', images: { web: missing } });
    const s = await h.waitFor({ stack: name }, 'PullFailed', (x) => condition(x, 'Ready')?.reason === 'PullFailed');
    assert.match(s.status.lastError ?? '', /nothing was changed/);
    assert.equal(s.status.currentVersion, '1.0.0');
    assert.deepEqual((await containersOf(name)).map((c) => c.Id), before);
    assert.equal(s.status.revision, 1, 'no revision is written for an update whose images are not all present');
  });
});

describe('with a file watcher that misses every event (as on a network filesystem)', () => {
  const RESCAN_SECONDS = 2;
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    const deaf = (): FileWatcher => ({ track: () => undefined, trackedFiles: () => [], close: async () => undefined });
    await h.start({ rescanSeconds: RESCAN_SECONDS, watchManifests: deaf });
  });
  after(async () => h.close());

  test('the periodic rescan alone finds a new stack, and clears what went away, whatever pass each key had last', async () => {
    const name = uniqueName('deaf');
    await h.writeStack({ name, version: '1.0.0', images: { web: v1.pinned } }, composeFile({ web: 'placeholder' }));
    await h.waitFor({ stack: name }, 'Ready at 1.0.0, found by a rescan', isReady('1.0.0'));

    // Two broken files first seen by consecutive rescans (the second is written as soon as the
    // first is reported, well inside the next interval). A rescan queues a key that had a pass
    // only every other interval, so whenever they go, one of them has just had one.
    const junk = ['junk-a.yaml', 'junk-b.yaml'];
    for (const file of junk) {
      await h.writeManifest(file, 'this: [is not yaml\n');
      await h.waitFor({ file }, `${file} reported`, (x) => condition(x, 'Ready')?.reason === 'InvalidSpec');
    }
    const { rm } = await import('node:fs/promises');
    await Promise.all([...junk, `${name}.yaml`].map((f) => rm(`${h.manifests}/${f}`)));

    await h.waitFor({ stack: name }, 'the removed stack reported as ManifestRemoved', (x) => condition(x, 'Ready')?.reason === 'ManifestRemoved', 30_000);
    const deadline = Date.now() + 30_000;
    for (const file of junk) {
      while ((await h.status({ file })) !== undefined) {
        assert.ok(Date.now() < deadline, `the status of the removed ${file} is cleared`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
});
