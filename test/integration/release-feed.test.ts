// A vendor's release feed on a real engine: releases published with berth's own tool,
// served over HTTP on 127.0.0.1, checked in, pre-downloaded, applied by policy, rolled
// back and reported — and hostile feeds refused without touching what runs.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { publishRelease } from '../../src/sources/publish.js';
import { generateSigningKeys } from '../../src/sources/signing.js';
import { docker, requireEngine, uniqueName } from '../support/engine.js';
import { FeedServer } from '../support/feed-server.js';
import { Harness, composeFile, condition, isReady, type StackFields } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

let v1: TestImage;
let v11: TestImage;
let v2: TestImage;
let sick: TestImage;
let worker: TestImage;
const built: TestImage[] = [];

before(async () => {
  await requireEngine();
  const name = uniqueName('feed');
  v1 = await buildTestImage({ name, variant: 'r1', health: 'healthy' });
  v11 = await buildTestImage({ name, variant: 'r11', health: 'healthy' });
  v2 = await buildTestImage({ name, variant: 'r2', health: 'healthy' });
  sick = await buildTestImage({ name, variant: 'rsick', health: 'unhealthy' });
  worker = await buildTestImage({ name, variant: 'worker', health: 'healthy' });
  built.push(v1, v11, v2, sick, worker);
});

after(async () => {
  await removeTestImages(built);
});

/** A vendor: a key pair and a feed folder served over HTTP, and a way to publish into it. */
class Vendor {
  private constructor(
    readonly dir: string,
    readonly server: FeedServer,
    readonly publicKeyFile: string,
    readonly keyFile: string,
  ) {}

  static async create(): Promise<Vendor> {
    const dir = await mkdtemp(join(tmpdir(), 'berth-vendor-'));
    const keys = generateSigningKeys();
    await writeFile(join(dir, 'release.key'), keys.privatePem, { mode: 0o600 });
    await writeFile(join(dir, 'release.pub'), keys.publicPem);
    await mkdir(join(dir, 'feed'), { recursive: true });
    const server = new FeedServer(join(dir, 'feed'));
    await server.start();
    return new Vendor(dir, server, join(dir, 'release.pub'), join(dir, 'release.key'));
  }

  async publish(version: string, images: Record<string, string>, extra: { compose?: string; notes?: string; channel?: string } = {}): Promise<void> {
    const file = join(this.dir, `release-${version}.yaml`);
    await writeFile(
      file,
      stringify({
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'Release',
        metadata: { name: `shop-${version.replace(/[^a-z0-9]/g, '-')}` },
        spec: { version, images, notes: extra.notes ?? `release ${version}`, ...(extra.compose ? { compose: extra.compose } : {}) },
      }),
    );
    await publishRelease({
      releaseFile: file,
      keyFile: this.keyFile,
      feedDir: join(this.dir, 'feed'),
      channel: extra.channel ?? 'stable',
      report: `${this.server.url}/report`,
      now: new Date(),
    });
  }

  async indexText(channel = 'stable'): Promise<string> {
    return readFile(join(this.dir, 'feed', channel, 'index.json'), 'utf8');
  }

  async close(): Promise<void> {
    await this.server.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function webContainer(project: string, service = 'web'): Promise<{ id: string; digests: string[] }> {
  const [c] = await docker().listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  assert.ok(c, `no ${service} container in ${project}`);
  const img = await docker().getImage(c.ImageID).inspect();
  // The same content pushed under other repositories (by other tests, which build identical
  // images) adds repo digests with the same digest: what matters is which digests, once each.
  return { id: c.Id, digests: [...new Set(img.RepoDigests.map((d) => d.slice(d.indexOf('@') + 1)))].sort() };
}

async function servicesOf(project: string): Promise<string[]> {
  const cs = await docker().listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  return [...new Set(cs.map((c) => c.Labels['com.docker.compose.service'] ?? ''))].sort();
}

async function imagePresent(pinned: string): Promise<boolean> {
  const images = await docker().listImages();
  return images.some((i) => (i.RepoDigests ?? []).includes(pinned));
}

async function removeImage(t: TestImage): Promise<void> {
  await docker().getImage(t.pinned).remove({ force: true }).catch(() => undefined);
}

const waiting = (version: string) => (s: StackStatus) =>
  s.status.available?.version === version && condition(s, 'AwaitingApproval')?.status === 'True';

describe('a stack that follows a release channel', () => {
  let h: Harness;
  let vendor: Vendor;
  before(async () => {
    h = await Harness.create();
    vendor = await Vendor.create();
    await h.start();
  });
  after(async () => {
    await h.close();
    await vendor.close();
  });

  test('auto: a minor release is pre-pulled, applied and verified by itself; a major waits for approval; a sick one is rolled back and reported', async () => {
    const name = uniqueName('auto');
    await vendor.publish('1.0.0', { web: v1.pinned });
    const stack: StackFields = { name, channel: { url: vendor.server.url, publicKey: vendor.publicKeyFile } };
    await h.writeStack(stack, composeFile({ web: 'placeholder' }));
    let s = await h.waitFor({ stack: name }, 'installed 1.0.0 from the channel', isReady('1.0.0'));
    assert.equal(condition(s, 'FeedAccepted')?.status, 'True');
    assert.ok(s.status.lastCheckIn);
    assert.equal(condition(s, 'UpdateAvailable')?.status, 'False');

    // The check-in tells the vendor who asks and what it runs.
    const asked = vendor.server.requests.filter((r) => r.path === '/stable/index.json');
    assert.ok(asked.length > 0);
    const last = asked.at(-1)!;
    assert.match(String(last.headers['berth-instance']), /^[0-9a-f-]{36}$/);
    assert.equal(last.headers['berth-stack'], name);
    assert.equal(last.query['stack'], name);

    await vendor.publish('1.1.0', { web: v11.pinned });
    s = await h.waitFor({ stack: name }, 'applied 1.1.0 by itself', isReady('1.1.0'));
    assert.deepEqual((await webContainer(name)).digests, [v11.digest]);
    assert.equal(s.status.history?.[0]?.version, '1.1.0');
    assert.equal(s.status.history?.[0]?.outcome, 'Healthy');

    await vendor.publish('2.0.0', { web: v2.pinned }, { notes: 'Breaking: new database schema.' });
    s = await h.waitFor({ stack: name }, '2.0.0 waiting for approval', waiting('2.0.0'));
    assert.equal(s.status.currentVersion, '1.1.0');
    assert.equal(s.status.available?.change, 'major');
    assert.equal(s.status.available?.notes, 'Breaking: new database schema.');
    assert.equal(condition(s, 'UpdateAvailable')?.reason, 'AwaitingApproval');
    assert.match(condition(s, 'AwaitingApproval')!.message, /spec\.approve to "2\.0\.0"/);
    // Pre-downloaded while it waits.
    s = await h.waitFor({ stack: name }, '2.0.0 downloaded', (x) => x.status.available?.downloaded === true);
    assert.ok(await imagePresent(v2.pinned));
    assert.deepEqual((await webContainer(name)).digests, [v11.digest], 'a major release is never applied unapproved');

    await h.writeStack({ ...stack, approve: '2.0.0' });
    await h.waitFor({ stack: name }, 'applied the approved 2.0.0', isReady('2.0.0'));

    await vendor.publish('2.1.0', { web: sick.pinned });
    s = await h.waitFor(
      { stack: name },
      '2.1.0 rolled back to 2.0.0',
      (x) => condition(x, 'Degraded')?.reason === 'RolledBack' && x.status.operation === undefined && x.status.currentVersion === '2.0.0',
    );
    assert.equal(s.status.quarantine?.version, '2.1.0');
    assert.deepEqual((await webContainer(name)).digests, [v2.digest]);

    const reports = await waitForReports(vendor, (rs) => rs.some((r) => r['version'] === '2.1.0'));
    const failed = reports.find((r) => r['version'] === '2.1.0')!;
    assert.equal(failed['outcome'], 'failed');
    assert.equal(failed['rolledBack'], true);
    assert.equal(failed['stack'], name);
    assert.equal(failed['running'], '2.0.0');
    assert.ok(reports.some((r) => r['version'] === '2.0.0' && r['outcome'] === 'succeeded'));
  });

  test('notify: the images are on the host before approval; approve applies exactly that version', async () => {
    const name = uniqueName('notify');
    const local = await Vendor.create();
    try {
      await local.publish('1.0.0', { web: v1.pinned });
      const stack: StackFields = { name, mode: 'notify', approve: '1.0.0', channel: { url: local.server.url, publicKey: local.publicKeyFile } };
      await h.writeStack(stack, composeFile({ web: 'placeholder' }));
      await h.waitFor({ stack: name }, 'installed the approved 1.0.0', isReady('1.0.0'));

      await removeImage(v11);
      assert.equal(await imagePresent(v11.pinned), false);
      await local.publish('1.1.0', { web: v11.pinned });
      let s = await h.waitFor({ stack: name }, '1.1.0 waiting, downloaded', (x) => waiting('1.1.0')(x) && x.status.available?.downloaded === true);
      assert.ok(await imagePresent(v11.pinned), 'pre-downloaded before approval');
      assert.equal(s.status.currentVersion, '1.0.0');
      assert.deepEqual((await webContainer(name)).digests, [v1.digest]);

      await h.writeStack({ ...stack, approve: '1.1.0' });
      s = await h.waitFor({ stack: name }, 'applied 1.1.0 once approved', isReady('1.1.0'));
      assert.equal(condition(s, 'AwaitingApproval')?.status, 'False');
    } finally {
      await local.close();
    }
  });

  test('a release that carries a compose file changes the shape of the stack; rolling back restores the old shape', async () => {
    const name = uniqueName('shape');
    const local = await Vendor.create();
    try {
      await local.publish('1.0.0', { web: v1.pinned });
      const stack: StackFields = { name, channel: { url: local.server.url, publicKey: local.publicKeyFile }, health: { stableForSeconds: 1, progressDeadlineSeconds: 60 } };
      await h.writeStack(stack, composeFile({ web: 'placeholder' }));
      await h.waitFor({ stack: name }, 'installed 1.0.0', isReady('1.0.0'));
      assert.deepEqual(await servicesOf(name), ['web']);

      const twoServices = composeFile({ web: 'placeholder', worker: 'placeholder' });
      await local.publish('1.1.0', { web: v11.pinned, worker: worker.pinned }, { compose: twoServices });
      await h.waitFor({ stack: name }, 'applied 1.1.0 with its worker', isReady('1.1.0'));
      assert.deepEqual(await servicesOf(name), ['web', 'worker']);

      const threeServices = composeFile({ web: 'placeholder', worker: 'placeholder', sidecar: 'placeholder' });
      await local.publish('1.2.0', { web: v11.pinned, worker: worker.pinned, sidecar: sick.pinned }, { compose: threeServices });
      const s = await h.waitFor(
        { stack: name },
        '1.2.0 rolled back to 1.1.0',
        (x) => condition(x, 'Degraded')?.reason === 'RolledBack' && x.status.operation === undefined && x.status.currentVersion === '1.1.0',
      );
      assert.equal(s.status.quarantine?.version, '1.2.0');
      assert.deepEqual(await servicesOf(name), ['web', 'worker'], 'the rollback removed the service 1.2.0 added');
    } finally {
      await local.close();
    }
  });
  test('a release that failed stays quarantined when the feed drops it and offers it again', async () => {
    const name = uniqueName('quar');
    const local = await Vendor.create();
    try {
      await local.publish('1.0.0', { web: v1.pinned });
      const stack: StackFields = { name, channel: { url: local.server.url, publicKey: local.publicKeyFile }, health: { stableForSeconds: 1, progressDeadlineSeconds: 60 } };
      await h.writeStack(stack, composeFile({ web: 'placeholder' }));
      await h.waitFor({ stack: name }, 'installed 1.0.0', isReady('1.0.0'));
      await local.publish('1.1.0', { web: sick.pinned });
      let s = await h.waitFor(
        { stack: name },
        '1.1.0 rolled back to 1.0.0',
        (x) => condition(x, 'Degraded')?.reason === 'RolledBack' && x.status.operation === undefined && x.status.currentVersion === '1.0.0',
      );
      assert.equal(s.status.quarantine?.version, '1.1.0');
      const updates = (x: StackStatus) => (x.status.history ?? []).filter((e) => e.operation === 'update').length;
      const before = updates(s);

      // The vendor yanks 1.1.0 (an index without it), then serves it again.
      const full = await local.indexText();
      const index = JSON.parse(full) as { releases: Array<{ spec: { version: string } }> };
      await writeFile(join(local.dir, 'feed', 'stable', 'index.json'), JSON.stringify({ ...index, releases: index.releases.filter((r) => r.spec.version !== '1.1.0') }));
      const yankedAt = new Date().toISOString();
      s = await h.waitFor({ stack: name }, 'checked in the index without 1.1.0', (x) => (x.status.lastCheckIn ?? '') > yankedAt && x.status.available === undefined);
      assert.equal(s.status.quarantine?.version, '1.1.0', 'a feed answer does not release the quarantine');

      await writeFile(join(local.dir, 'feed', 'stable', 'index.json'), full);
      const backAt = new Date().toISOString();
      s = await h.waitFor({ stack: name }, '1.1.0 offered again, quarantined', (x) => (x.status.lastCheckIn ?? '') > backAt && condition(x, 'UpdateAvailable')?.reason === 'Quarantined');
      // Give berth a few more passes to (wrongly) act on it.
      await new Promise((r) => setTimeout(r, 5_000));
      s = await h.waitFor({ stack: name }, 'still on 1.0.0', (x) => x.status.operation === undefined);
      assert.equal(updates(s), before, '1.1.0 was not applied again');
      assert.equal(s.status.quarantine?.version, '1.1.0');
      assert.equal(s.status.currentVersion, '1.0.0');
      assert.deepEqual((await webContainer(name)).digests, [v1.digest]);
    } finally {
      await local.close();
    }
  });
});

describe('hostile or broken feeds change nothing that runs', () => {
  let h: Harness;
  let vendor: Vendor;
  let name: string;
  let before1: { id: string; digests: string[] };
  before(async () => {
    h = await Harness.create();
    vendor = await Vendor.create();
    await h.start();
    name = uniqueName('hostile');
    await vendor.publish('1.0.0', { web: v1.pinned });
    await h.writeStack(
      { name, channel: { url: vendor.server.url, publicKey: vendor.publicKeyFile, timeoutSeconds: 2 } },
      composeFile({ web: 'placeholder' }),
    );
    await h.waitFor({ stack: name }, 'installed 1.0.0', isReady('1.0.0'));
    before1 = await webContainer(name);
  });
  after(async () => {
    await h.close();
    await vendor.close();
  });

  /** A second feed folder signed with the real vendor's key: replays and edits, not forgeries. */
  async function sameKey(): Promise<Vendor> {
    const v = await Vendor.create();
    await writeFile(v.keyFile, await readFile(vendor.keyFile, 'utf8'));
    return v;
  }

  /** Serves a bad index until berth refuses it with `reason`; then checks nothing moved. */
  async function refused(reason: string, serve: () => void): Promise<StackStatus> {
    // Start from an accepted check-in, so the refusal seen is this one.
    await h.waitFor({ stack: name }, 'FeedAccepted True', (x) => condition(x, 'FeedAccepted')?.status === 'True', 60_000);
    serve();
    const s = await h.waitFor({ stack: name }, `FeedAccepted False ${reason}`, (x) => condition(x, 'FeedAccepted')?.reason === reason, 60_000);
    assert.equal(condition(s, 'FeedAccepted')?.status, 'False');
    assert.match(condition(s, 'FeedAccepted')!.message, /nothing in the running stack was changed/);
    assert.equal(s.status.currentVersion, '1.0.0');
    assert.equal(condition(s, 'Ready')?.status, 'True');
    assert.deepEqual(await webContainer(name), before1, 'the running container is the same one, on the same image');
    vendor.server.knobs.clear();
    return s;
  }

  test('a release signed by another key is refused (UnknownSigningKey)', async () => {
    const other = await Vendor.create();
    try {
      await other.publish('1.1.0', { web: v11.pinned });
      const body = await other.indexText();
      await refused('UnknownSigningKey', () => vendor.server.knobs.set('/stable/index.json', { override: { status: 200, body } }));
    } finally {
      await other.close();
    }
  });

  test('a field changed after signing is refused (SignatureInvalid)', async () => {
    const edited = await sameKey();
    try {
      await edited.publish('1.1.0', { web: v11.pinned });
      const index = JSON.parse(await edited.indexText()) as { releases: Array<{ spec: { images: Record<string, string> } }> };
      index.releases[0]!.spec.images['web'] = sick.pinned;
      await refused('SignatureInvalid', () => vendor.server.knobs.set('/stable/index.json', { override: { status: 200, body: JSON.stringify(index) } }));
    } finally {
      await edited.close();
    }
  });

  test('a feed whose newest release is older than what runs is refused (Downgrade)', async () => {
    const old = await sameKey();
    try {
      await old.publish('0.9.0', { web: v11.pinned });
      const body = await old.indexText();
      await refused('Downgrade', () => vendor.server.knobs.set('/stable/index.json', { override: { status: 200, body } }));
    } finally {
      await old.close();
    }
  });

  test('an oversized body is refused (FeedTooLarge)', async () => {
    const body = `{"apiVersion":"berth.dev/v1alpha1","kind":"ReleaseIndex","channel":"stable","releases":[],"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`;
    await refused('FeedTooLarge', () => vendor.server.knobs.set('/stable/index.json', { override: { status: 200, body } }));
  });

  test('a server slower than timeoutSeconds is refused (FeedTimeout)', async () => {
    await refused('FeedTimeout', () => vendor.server.knobs.set('/stable/index.json', { delayMs: 5_000 }));
  });

  test('garbage JSON is refused (FeedMalformed)', async () => {
    await refused('FeedMalformed', () => vendor.server.knobs.set('/stable/index.json', { override: { status: 200, body: '{"apiVersion": "berth.dev/v1alpha1", "releases": [' } }));
  });

  test('garbage YAML is refused (FeedMalformed)', async () => {
    await refused('FeedMalformed', () => vendor.server.knobs.set('/stable/index.json', { override: { status: 200, body: 'releases: [\n  - : : :\n\t- {' } }));
  });

  test('after the feed is good again, berth accepts it and moves on', async () => {
    vendor.server.knobs.clear();
    await vendor.publish('1.1.0', { web: v11.pinned });
    const s = await h.waitFor({ stack: name }, 'the good feed accepted again and 1.1.0 applied', isReady('1.1.0'));
    assert.equal(condition(s, 'FeedAccepted')?.status, 'True');
  });
});

async function waitForReports(vendor: Vendor, pred: (rs: Array<Record<string, unknown>>) => boolean): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const reports = vendor.server.reports as Array<Record<string, unknown>>;
    if (pred(reports)) return reports;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the feed received no matching report; it received: ${JSON.stringify(vendor.server.reports)}`);
}

describe('a release the Stack cannot use', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.create();
    await h.start();
  });
  after(async () => {
    await h.close();
  });

  test('a release whose compose file lacks a service the Stack pins is InvalidSpec; the next good release is applied by itself', async () => {
    const name = uniqueName('unusable');
    const local = await Vendor.create();
    try {
      await local.publish('1.0.0', { web: v1.pinned });
      // The Stack pins the image of its own `cache` service; releases bring `web`.
      const stack: StackFields = {
        name,
        images: { cache: worker.pinned },
        channel: { url: local.server.url, publicKey: local.publicKeyFile },
        health: { stableForSeconds: 1, progressDeadlineSeconds: 60 },
      };
      await h.writeStack(stack, composeFile({ web: 'placeholder', cache: 'placeholder' }));
      await h.waitFor({ stack: name }, 'installed 1.0.0', isReady('1.0.0'));

      await local.publish('1.1.0', { web: v11.pinned }, { compose: composeFile({ web: 'placeholder' }) });
      const bad = await h.waitFor({ stack: name }, '1.1.0 refused as InvalidSpec', (x) => condition(x, 'Ready')?.reason === 'InvalidSpec');
      assert.equal(bad.status.currentVersion, '1.0.0', 'what runs stays');

      await local.publish('1.2.0', { web: v2.pinned });
      await h.waitFor({ stack: name }, 'the good release 1.2.0 applied by itself', isReady('1.2.0'), 60_000);
      assert.deepEqual(await servicesOf(name), ['cache', 'web']);
    } finally {
      await local.close();
    }
  });
});
