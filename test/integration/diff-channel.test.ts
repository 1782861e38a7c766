// `berth diff` for a stack that follows a release channel, on a real engine: the next
// revision is the release berth would apply next among those it accepted at its last
// check-in, and diff says which services it would recreate (and why it waits) before anyone
// approves it.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { publishRelease } from '../../src/sources/publish.js';
import { generateSigningKeys } from '../../src/sources/signing.js';
import { berth } from '../support/cli.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { FeedServer } from '../support/feed-server.js';
import { Harness, composeFile, condition, isReady, type StackFields } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';


let v1: TestImage;
let v2: TestImage;

before(async () => {
  await requireEngine();
  const name = uniqueName('dfeed');
  v1 = await buildTestImage({ name, variant: 'v1' });
  v2 = await buildTestImage({ name, variant: 'v2' });
});

after(async () => {
  await removeTestImages([v1, v2].filter(Boolean));
});

type Diff = { version: string; waiting?: string; applied?: number; next?: number; images: Record<string, string>; services: { service: string; change: string; containers: string[] }[] };

describe('berth diff for a stack that follows a channel', () => {
  let h: Harness;
  let dir: string;
  let server: FeedServer;
  let keyFile: string;
  let publicKeyFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-vendor-'));
    const keys = generateSigningKeys();
    keyFile = join(dir, 'release.key');
    publicKeyFile = join(dir, 'release.pub');
    await writeFile(keyFile, keys.privatePem, { mode: 0o600 });
    await writeFile(publicKeyFile, keys.publicPem);
    await mkdir(join(dir, 'feed'), { recursive: true });
    server = new FeedServer(join(dir, 'feed'));
    await server.start();
    h = await Harness.create();
    await h.start();
  });
  after(async () => {
    await h.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function publish(version: string, images: Record<string, string>): Promise<void> {
    const file = join(dir, `release-${version}.yaml`);
    await writeFile(file, stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' }, spec: { version, images } }));
    await publishRelease({ releaseFile: file, keyFile, feedDir: join(dir, 'feed'), channel: 'stable', now: new Date() });
  }

  test('the release waiting for approval: diff names its version, why it waits, and the one service it would recreate', async () => {
    const name = uniqueName('dchan');
    await publish('1.0.0', { web: v1.pinned });
    const stack: StackFields = { name, channel: { url: server.url, publicKey: publicKeyFile } };
    await h.writeStack(stack, composeFile({ web: 'placeholder', side: v1.ref }));
    await h.waitFor({ stack: name }, 'installed 1.0.0 from the channel', isReady('1.0.0'));

    const current = await berth(['diff', name, '--state', h.state.root, '-o', 'json']);
    assert.equal(current.code, 0, current.stdout + current.stderr);
    const now = JSON.parse(current.stdout) as Diff;
    assert.deepEqual([now.version, now.applied, now.next], ['1.0.0', 1, undefined]);
    assert.deepEqual(now.images, { web: v1.pinned }, 'the image the applied release pins');
    assert.deepEqual(now.services.map((s) => [s.service, s.change]), [['side', 'keep'], ['web', 'keep']]);

    // A major release: berth accepts it at the check-in and waits for a person's approval.
    await publish('2.0.0', { web: v2.pinned });
    await h.waitFor({ stack: name }, '2.0.0 waiting for approval', (s: StackStatus) =>
      s.status.available?.version === '2.0.0' && condition(s, 'AwaitingApproval')?.status === 'True',
    );
    const webBefore = (await docker().listContainers({ filters: { label: [`com.docker.compose.project=${name}`, 'com.docker.compose.service=web'] } }))[0]?.Id;

    const next = await berth(['diff', name, '--state', h.state.root, '-o', 'json']);
    assert.equal(next.code, 1, `diff exits 1 when a service would be recreated: ${next.stdout}${next.stderr}`);
    const d = JSON.parse(next.stdout) as Diff;
    assert.deepEqual([d.version, d.applied, d.next], ['2.0.0', 1, 2]);
    assert.match(d.waiting ?? '', /approve/);
    assert.deepEqual(d.images, { web: v2.pinned }, "the image of the release it would apply, which the console's table shows");
    assert.deepEqual(d.services.map((s) => [s.service, s.change]), [['side', 'keep'], ['web', 'recreate']]);
    const text = await berth(['diff', name, '--state', h.state.root]);
    assert.match(text.stdout, /version 2\.0\.0: revision 2 \(not applied yet\)/);
    assert.match(text.stdout, /waiting: .*approve/);
    assert.match(text.stdout, /web\s+recreate/);

    // diff changed nothing: the same container runs 1.0.0, and no revision 2 was written.
    const webAfter = (await docker().listContainers({ filters: { label: [`com.docker.compose.project=${name}`, 'com.docker.compose.service=web'] } }))[0]?.Id;
    assert.equal(webAfter, webBefore);
    assert.deepEqual(await h.state.revisionNumbers(name), [1]);
  });
});
