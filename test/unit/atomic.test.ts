// Atomic writes: a file or a whole folder appears complete or not at all.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDirAtomic, writeFileAtomic } from '../../src/util/atomic.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-atomic-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  test('creates a file, then replaces its content, leaving no temp file in the folder', async () => {
    const file = join(dir, 'status.yaml');
    await writeFileAtomic(file, 'first: 1\n');
    assert.equal(await readFile(file, 'utf8'), 'first: 1\n');
    await writeFileAtomic(file, 'second: 2\n');
    assert.equal(await readFile(file, 'utf8'), 'second: 2\n');
    assert.deepEqual(await readdir(dir), ['status.yaml']);
  });

  test('creates missing parent folders', async () => {
    const file = join(dir, 'a', 'b', 'status.yaml');
    await writeFileAtomic(file, 'x');
    assert.equal(await readFile(file, 'utf8'), 'x');
  });

  test('a failed write leaves the old file untouched and no temp file behind', async () => {
    const target = join(dir, 'revisions');
    await mkdir(join(target, 'inner'), { recursive: true });
    // rename() of a file onto a non-empty folder fails: the write must clean up after itself.
    await assert.rejects(writeFileAtomic(target, 'x'));
    assert.deepEqual(await readdir(dir), ['revisions']);
    assert.deepEqual(await readdir(target), ['inner']);
  });
});

describe('writeDirAtomic', () => {
  test('creates the folder with all its files', async () => {
    const rev = join(dir, 'revisions', '1');
    await writeDirAtomic(rev, { 'compose.yaml': 'services: {}\n', 'revision.yaml': 'revision: 1\n' });
    assert.deepEqual((await readdir(rev)).sort(), ['compose.yaml', 'revision.yaml']);
    assert.equal(await readFile(join(rev, 'compose.yaml'), 'utf8'), 'services: {}\n');
    assert.equal(await readFile(join(rev, 'revision.yaml'), 'utf8'), 'revision: 1\n');
    assert.deepEqual(await readdir(join(dir, 'revisions')), ['1'], 'no temp folder beside it');
  });

  test('refuses a folder that exists, leaving it untouched and no temp folder behind', async () => {
    const rev = join(dir, '1');
    await mkdir(rev);
    await writeFile(join(rev, 'compose.yaml'), 'original\n');
    await assert.rejects(writeDirAtomic(rev, { 'compose.yaml': 'replacement\n', 'extra.yaml': 'x\n' }));
    assert.deepEqual(await readdir(rev), ['compose.yaml']);
    assert.equal(await readFile(join(rev, 'compose.yaml'), 'utf8'), 'original\n');
    assert.deepEqual(await readdir(dir), ['1']);
  });

  test(
    'refuses a folder that exists even when it is empty',
    async () => {
      const rev = join(dir, '1');
      await mkdir(rev);
      await assert.rejects(writeDirAtomic(rev, { 'compose.yaml': 'replacement\n' }));
      assert.deepEqual(await readdir(rev), []);
      assert.deepEqual(await readdir(dir), ['1']);
    },
  );
});
