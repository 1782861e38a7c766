// Every file compose reads is part of a revision, on a real engine: a product whose documented
// upgrade is "change the version in .env" is updated by berth as a new revision, and a
// revision that fails its gate is undone to the values it ran before, not to today's .env.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StackStatus } from '../../src/api/types.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { parse, stringify } from 'yaml';
import { Harness, condition, isReady, stackManifest, type StackFields } from '../support/harness.js';

let good: TestImage;
let sick: TestImage;
let plain: TestImage;

before(async () => {
  await requireEngine();
  const name = uniqueName('env');
  good = await buildTestImage({ name, variant: 'good', health: 'healthy' });
  sick = await buildTestImage({ name, variant: 'sick', health: 'unhealthy' });
  plain = await buildTestImage({ name, variant: 'plain' });
});

after(async () => {
  await removeTestImages([good, sick, plain].filter(Boolean));
});

/** The web container's image digests and its RELEASE variable. */
async function web(project: string): Promise<{ digests: string[]; release: string | undefined }> {
  const [c] = await docker().listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, 'com.docker.compose.service=web'] },
  });
  assert.ok(c, `no web container in ${project}`);
  const info = await docker().getContainer(c.Id).inspect();
  const img = await docker().getImage(c.ImageID).inspect();
  const release = info.Config.Env.find((e) => e.startsWith('RELEASE='))?.slice('RELEASE='.length);
  return { digests: img.RepoDigests.map((d) => d.slice(d.indexOf('@') + 1)), release };
}

const COMPOSE = 'services:\n  web:\n    image: ${WEB_IMAGE}\n    init: false\n    environment:\n      RELEASE: ${RELEASE}\n';

describe('.env is part of the revision', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('a changed variable in .env is applied as a new revision, and rolled back to the old value when it fails its gate', async () => {
    const name = uniqueName('dotenv');
    const dotenv = join(h.manifests, name, '.env');
    // The version is the Stack's; the images come from the vendor's .env, as many products ship them.
    await h.writeStack({ name, version: '1.0.0', health: { stableForSeconds: 1, progressDeadlineSeconds: 60 } }, COMPOSE);
    await writeFile(dotenv, `WEB_IMAGE=${good.pinned}\nRELEASE=one\n`);
    const first = await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    assert.equal(first.status.revision, 1);
    assert.deepEqual(await web(name), { digests: [good.digest], release: 'one' });

    // The admin follows the vendor's upgrade guide: edit .env, nothing else.
    await writeFile(dotenv, `WEB_IMAGE=${sick.pinned}\nRELEASE=two\n`);
    const s = await h.waitFor(
      { stack: name },
      'revision 2 (from the new .env) rolled back',
      (st: StackStatus) => condition(st, 'Degraded')?.reason === 'RolledBack' && st.status.operation === undefined,
    );
    const two = s.status.history?.find((e) => e.revision === 2);
    assert.equal(two?.outcome, 'RolledBack', 'the .env change was applied as revision 2');
    assert.equal(s.status.revision, 1);
    // The revision on disk holds the values it ran, so the rollback ran the old ones.
    assert.match(await readFile(h.state.revisionComposePath(name, 1), 'utf8'), /RELEASE: one/);
    assert.match(await readFile(h.state.revisionComposePath(name, 2), 'utf8'), /RELEASE: two/);
    const now = await web(name);
    assert.equal(now.release, 'one', "the rollback restored revision 1's value, not today's .env");
    assert.ok(now.digests.includes(good.digest), 'the last-good image runs again');
    assert.deepEqual(await h.state.revisionNumbers(name), [1, 2]);
  });
});

describe('.env in notify mode', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('a changed variable waits for approval like any other change, and runs once its content is approved', async () => {
    const name = uniqueName('envnotify');
    const dotenv = join(h.manifests, name, '.env');
    const fields: StackFields = { name, version: '1.0.0', mode: 'notify', approve: '1.0.0' };
    await h.writeStack(fields, COMPOSE);
    await writeFile(dotenv, `WEB_IMAGE=${good.pinned}\nRELEASE=one\n`);
    await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));

    await writeFile(dotenv, `WEB_IMAGE=${good.pinned}\nRELEASE=two\n`);
    const waiting = await h.waitFor({ stack: name }, 'the new .env waiting for approval', (st) => condition(st, 'AwaitingApproval')?.status === 'True');
    const hint = /spec\.approve to "(1\.0\.0@[0-9a-f]+)"/.exec(condition(waiting, 'AwaitingApproval')?.message ?? '');
    assert.ok(hint, `the status says how to approve: ${condition(waiting, 'AwaitingApproval')?.message}`);
    assert.equal((await web(name)).release, 'one', 'nothing unapproved runs');
    assert.deepEqual(await h.state.revisionNumbers(name), [1]);

    await h.writeStack({ ...fields, approve: hint[1] });
    await h.waitFor({ stack: name }, 'the approved .env applied', (st) => isReady('1.0.0')(st) && st.status.revision === 2);
    assert.equal((await web(name)).release, 'two');
  });
});

describe('services as compose resolves them', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => h.close());

  test('an included service is known and pinnable, a service of a profile not enabled is not expected, and the stack stays converged', async () => {
    const name = uniqueName('shape');
    const dir = join(h.manifests, name);
    await mkdir(join(dir, 'db'), { recursive: true });
    await writeFile(
      join(dir, 'compose.yaml'),
      [
        'include: [db/compose.yaml]',
        'services:',
        `  web: {image: "${plain.pinned}", init: false}`,
        `  metrics: {image: "${plain.pinned}", init: false, profiles: [monitoring]}`,
        `  debug: {image: "${plain.pinned}", init: false, profiles: [debug]}`,
      ].join('\n'),
    );
    await writeFile(join(dir, 'db', 'compose.yaml'), 'services:\n  db: {image: placeholder, init: false}\n');
    const fields: StackFields = { name, version: '1.0.0', images: { db: good.pinned } };
    const withProfiles = () => {
      const m = parse(stackManifest(fields)) as { spec: { compose: Record<string, unknown> } };
      m.spec.compose = { file: `${name}/compose.yaml`, profiles: ['monitoring'] };
      return stringify(m);
    };
    h.projects.add(name);
    await h.writeManifest(`${name}.yaml`, withProfiles());
    const s = await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
    assert.deepEqual(
      (s.status.services ?? []).filter((x) => x.reason !== 'ProfileInactive').map((x) => x.name).sort(),
      ['db', 'metrics', 'web'],
      'the included db and the enabled profile\'s metrics are expected; debug is not',
    );
    const debug = s.status.services?.find((x) => x.name === 'debug');
    assert.deepEqual([debug?.reason, debug?.containers.length], ['ProfileInactive', 0], 'debug is known, and nothing of it runs');
    const [db] = await docker().listContainers({ filters: { label: [`com.docker.compose.project=${name}`, 'com.docker.compose.service=db'] } });
    assert.ok(db, 'the included service runs');
    const img = await docker().getImage(db.ImageID).inspect();
    assert.ok(img.RepoDigests.some((d) => d.endsWith(good.digest)), 'the included service runs its pin');
    // Converged: more passes, no compose call (no repair loop of the included service).
    const calls = h.compose!.invocations;
    for (let i = 0; i < 3; i++) {
      const before = h.operator!.passes;
      await h.writeManifest(`${name}.yaml`, withProfiles());
      while (h.operator!.passes === before) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(h.compose!.invocations, calls, 'a converged stack makes no compose call');
    assert.equal(condition((await h.status({ stack: name }))!, 'Ready')?.status, 'True');
  });
});
