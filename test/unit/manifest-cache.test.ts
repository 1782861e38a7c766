// Reading manifests on every pass and rescan (issue 10 item 6, bench idle): an idle berth
// reads the same files again and again, and parsing and validating them was a large part of
// an idle pass. An unchanged manifest is parsed once; any change of its text, even one that
// keeps its size and lands in the same timestamp tick, is parsed and seen at the next read.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestParses, readManifest, scanManifests } from '../../src/store/manifests.js';
import { stackManifest } from '../support/harness.js';

const DIGEST = `registry.local/web@sha256:${'a'.repeat(64)}`;
const manifest = (version: string) => stackManifest({ name: 'shop', version, images: { web: DIGEST } });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-manifest-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('rescans and passes over unchanged manifests parse each file once', async () => {
  await writeFile(join(dir, 'shop.yaml'), manifest('1.0.0'));
  await writeFile(join(dir, 'blog.yaml'), manifest('1.0.0').replace('name: shop', 'name: blog'));
  const before = manifestParses.count;
  for (let i = 0; i < 5; i++) {
    const entries = await scanManifests(dir);
    assert.deepEqual(entries.map((e) => e.stack?.metadata.name), ['blog', 'shop']);
    assert.equal((await readManifest(join(dir, 'shop.yaml'))).stack?.spec.version, '1.0.0');
  }
  assert.equal(manifestParses.count - before, 2, 'two files, each parsed once');
});

test('a changed manifest is parsed again and its new content returned, even with the same size and times', async () => {
  const file = join(dir, 'shop.yaml');
  await writeFile(file, manifest('1.0.0'));
  assert.equal((await readManifest(file)).stack?.spec.version, '1.0.0');
  const stamp = new Date('2026-01-01T00:00:00Z');
  await utimes(file, stamp, stamp);
  // An edit in place, same length, with the old times put back: only the text tells.
  await writeFile(file, manifest('1.0.1'));
  await utimes(file, stamp, stamp);
  const before = manifestParses.count;
  assert.equal((await readManifest(file)).stack?.spec.version, '1.0.1');
  assert.equal((await scanManifests(dir))[0]?.stack?.spec.version, '1.0.1');
  assert.equal(manifestParses.count - before, 1);
});

test('what a caller changes in a manifest it read does not change the next read', async () => {
  const file = join(dir, 'shop.yaml');
  await writeFile(file, manifest('1.0.0'));
  const first = await readManifest(file);
  assert.ok(first.stack);
  first.stack.spec.version = 'changed by a caller';
  first.stack.spec.images = { web: 'x' };
  const second = await readManifest(file);
  assert.equal(second.stack?.spec.version, '1.0.0');
  assert.equal(second.stack?.spec.images?.['web'], DIGEST);
});

test('a manifest that breaks, is removed or comes back is read as it is now', async () => {
  const file = join(dir, 'shop.yaml');
  await writeFile(file, manifest('1.0.0'));
  assert.ok((await readManifest(file)).stack);
  await writeFile(file, 'spec: [unclosed');
  assert.match((await readManifest(file)).error?.message ?? '', /YAML syntax error/);
  await unlink(file);
  assert.match((await readManifest(file)).error?.message ?? '', /ENOENT/);
  assert.deepEqual(await scanManifests(dir), []);
  await writeFile(file, manifest('1.0.0'));
  assert.equal((await readManifest(file)).stack?.spec.version, '1.0.0');
});
