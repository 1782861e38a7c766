// publishRelease: what `berth release publish` writes into a static feed folder, and what it
// refuses to write.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { keyIdOf, verifyRelease } from '../../src/sources/signing.js';
import { parseIndex } from '../../src/sources/feed.js';
import { publishRelease, type PublishOptions } from '../../src/sources/publish.js';
import { authoredYaml, testKeys, type TestKeys } from '../support/releases.js';

let dir: string;
let keys: TestKeys;
let keyFile: string;
const NOW = new Date('2025-06-01T10:00:00.123Z');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-publish-'));
  keys = testKeys();
  keyFile = join(dir, 'release.key');
  await writeFile(keyFile, keys.privatePem, { mode: 0o600 });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function publish(version: string, opts: Partial<PublishOptions> & { notes?: string; authorChannel?: string } = {}) {
  const releaseFile = join(dir, `release-${version}-${Math.random().toString(16).slice(2)}.yaml`);
  await writeFile(releaseFile, authoredYaml(version, { ...(opts.notes !== undefined ? { notes: opts.notes } : {}), ...(opts.authorChannel !== undefined ? { channel: opts.authorChannel } : {}) }));
  return publishRelease({ releaseFile, keyFile: opts.keyFile ?? keyFile, feedDir: join(dir, 'feed'), channel: opts.channel ?? 'stable', now: opts.now ?? NOW, ...(opts.report !== undefined ? { report: opts.report } : {}) });
}

async function readIndex(channel = 'stable') {
  return parseIndex(await readFile(join(dir, 'feed', channel, 'index.json'), 'utf8'), { url: 'index.json', channel, publicKey: keys.publicKey });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('it was published');
}

describe('publishRelease', () => {
  test('into an empty folder: writes <channel>/index.json and releases/<version>.yaml, both verifying', async () => {
    const result = await publish('1.0.0');
    assert.equal(result.indexPath, join(dir, 'feed', 'stable', 'index.json'));
    assert.equal(result.releasePath, join(dir, 'feed', 'stable', 'releases', '1.0.0.yaml'));
    assert.equal(result.unchanged, false);
    assert.equal(result.release.spec.channel, 'stable');
    assert.equal(result.release.spec.published, '2025-06-01T10:00:00Z');
    assert.equal(result.release.signature.keyId, keyIdOf(keys.publicKey));

    const text = await readFile(result.indexPath, 'utf8');
    assert.ok(text.startsWith('{\n  "apiVersion"'), 'the index is pretty-printed JSON');
    const index = await readIndex();
    assert.deepEqual(index.releases, [result.release]);
    const single = verifyRelease(parseYaml(await readFile(result.releasePath, 'utf8')), keys.publicKey, result.releasePath);
    assert.deepEqual(single, result.release);
  });

  test('a second release sorts newest first, by semver and not by text', async () => {
    await publish('1.9.0');
    await publish('1.10.0');
    await publish('1.2.0');
    assert.deepEqual((await readIndex()).releases.map((r) => r.spec.version), ['1.10.0', '1.9.0', '1.2.0']);
    assert.deepEqual((await readdir(join(dir, 'feed', 'stable', 'releases'))).sort(), ['1.10.0.yaml', '1.2.0.yaml', '1.9.0.yaml']);
  });

  test('publishing the same release again changes nothing, not even the publish time', async () => {
    const first = await publish('1.0.0');
    const before = await readFile(first.indexPath, 'utf8');
    const again = await publish('1.0.0', { now: new Date('2025-07-01T00:00:00Z') });
    assert.equal(again.unchanged, true);
    assert.deepEqual(again.release, first.release);
    assert.equal(await readFile(first.indexPath, 'utf8'), before);
  });

  test('a published release file can be published again as it is (its signature and time are publishing\'s own)', async () => {
    const first = await publish('1.0.0');
    const again = await publishRelease({ releaseFile: first.releasePath, keyFile, feedDir: join(dir, 'feed'), channel: 'stable', now: new Date() });
    assert.equal(again.unchanged, true);
  });

  test('other content under a published version is refused, naming the field: versions are immutable', async () => {
    await publish('1.0.0');
    const err = await rejection(publish('1.0.0', { notes: 'Something else.' }));
    assert.match(err.message, /version 1\.0\.0 is already published on channel "stable" with other content \(it differs in spec\.notes\); versions are immutable/);
    assert.deepEqual((await readIndex()).releases.map((r) => r.spec.notes), ['What changed in 1.0.0.']);
  });

  test('a key other than the one that signed the existing index is refused', async () => {
    await publish('1.0.0');
    const otherKey = join(dir, 'other.key');
    await writeFile(otherKey, testKeys().privatePem);
    const err = await rejection(publish('1.1.0', { keyFile: otherKey }));
    assert.match(err.message, /holds releases signed by another key than [0-9a-f]{16}/);
    assert.match(err.message, /publish with the key that signed them/);
    assert.equal((await readIndex()).releases.length, 1);
  });

  test("a release whose own spec.channel differs from --channel is refused; one that agrees is published", async () => {
    const err = await rejection(publish('1.0.0', { authorChannel: 'beta', channel: 'stable' }));
    assert.match(err.message, /spec\.channel is "beta" but --channel is "stable"/);
    const ok = await publish('1.0.0', { authorChannel: 'beta', channel: 'beta' });
    assert.equal(ok.release.spec.channel, 'beta');
    assert.equal((await readIndex('beta')).releases.length, 1);
  });

  test('--report sets the index report URL, and later publishes keep it', async () => {
    await publish('1.0.0', { report: 'https://vendor.example/berth/report' });
    await publish('1.1.0');
    assert.equal((await readIndex()).report, 'https://vendor.example/berth/report');
    const err = await rejection(publish('1.2.0', { report: 'not a url' }));
    assert.match(err.message, /report: must match/);
  });

  test('an existing index that does not verify is refused, not overwritten', async () => {
    const first = await publish('1.0.0');
    const tampered = (await readFile(first.indexPath, 'utf8')).replace('What changed in 1.0.0.', 'Tampered.');
    await writeFile(first.indexPath, tampered);
    const err = await rejection(publish('1.1.0'));
    assert.match(err.message, /refusing to publish into .*index\.json: .*signature does not match/);
    assert.equal(await readFile(first.indexPath, 'utf8'), tampered);
  });

  test('a release that is not valid is refused with the field path, and nothing is written', async () => {
    const releaseFile = join(dir, 'bad.yaml');
    await writeFile(releaseFile, 'apiVersion: berth.dev/v1alpha1\nkind: Release\nmetadata: {name: shop}\nspec:\n  version: "1.0"\n  images: {web: "web:latest"}\n');
    const err = await rejection(publishRelease({ releaseFile, keyFile, feedDir: join(dir, 'feed'), channel: 'stable', now: NOW }));
    assert.match(err.message, /spec\.version: must match/);
    assert.match(err.message, /spec\.images\.web: must be an image pinned by digest/);
    await assert.rejects(readdir(join(dir, 'feed')), { code: 'ENOENT' });
  });

  test('a channel name that is not one is refused', async () => {
    await mkdir(join(dir, 'feed'), { recursive: true });
    const err = await rejection(publish('1.0.0', { channel: '../etc' }));
    assert.match(err.message, /--channel "\.\.\/etc" is not a channel name/);
  });
});
