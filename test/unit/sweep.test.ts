// Leftovers of a crash in the state folder: the temp files and folders of atomic writes
// (src/util/atomic.ts) and revision folders that were being removed (`.removing-*`), made by
// a berth killed mid-write. The one that takes the lock next sweeps them, and nothing else.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { sweepLeftovers } from '../../src/store/sweep.js';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-sweep-'));
  outside = await mkdtemp(join(tmpdir(), 'berth-sweep-outside-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
    out.push(e.isDirectory() ? `${rel}/` : rel);
    if (e.isDirectory() && !e.isSymbolicLink()) out.push(...(await tree(dir, rel)));
  }
  return out;
}

async function file(rel: string, text = 'x'): Promise<void> {
  await mkdir(join(root, rel, '..'), { recursive: true });
  await writeFile(join(root, rel), text);
}

describe('sweepLeftovers', () => {
  test("removes berth's own crash leftovers and keeps everything else", async () => {
    // What a healthy state folder holds.
    await file('instance-id');
    await file('shop/status.yaml');
    await file('shop/channel.yaml');
    await file('shop/revisions/1/compose.yaml');
    await file('shop/revisions/1/revision.yaml');
    await file('_files/broken.yaml/status.yaml');
    // Leftovers: a status write, a channel write and the instance id cut short, a revision
    // folder half written, a removal cut short (with files still in it).
    await file('shop/.status.yaml.4242.0a1b2c3d.tmp');
    await file('shop/.channel.yaml.17.deadbeef.tmp');
    await file('.instance-id.99.00ff00ff.tmp');
    await file('_files/broken.yaml/.status.yaml.5.12345678.tmp');
    await file('shop/revisions/.2.4242.abcdef01.tmp/compose.yaml');
    await file('shop/revisions/.removing-1-4242/revision.yaml');
    // Not berth's: near misses of the patterns, and a person's own files.
    await file('shop/status.yaml.tmp');
    await file('shop/.status.yaml.4242.tmp');
    await file('shop/.status.yaml.x.0a1b2c3d.tmp');
    await file('shop/.status.yaml.1.0A1B2C3D.tmp');
    await file('shop/.removing-1-4242');
    await file('shop/notes/.removing-3-1/keep');
    await file('shop/revisions/removing-2-1/keep');
    await file('.lock');
    // A symlink is never followed: what it points to is not the state folder's.
    await mkdir(join(outside, 'revisions', '.removing-1-1'), { recursive: true });
    await writeFile(join(outside, '.x.1.00000000.tmp'), 'theirs');
    await symlink(outside, join(root, 'linked'));

    const removed = await sweepLeftovers(root);

    assert.deepEqual(removed.map((p) => relative(root, p)).sort(), [
      '.instance-id.99.00ff00ff.tmp',
      '_files/broken.yaml/.status.yaml.5.12345678.tmp',
      'shop/.channel.yaml.17.deadbeef.tmp',
      'shop/.status.yaml.4242.0a1b2c3d.tmp',
      'shop/revisions/.2.4242.abcdef01.tmp',
      'shop/revisions/.removing-1-4242',
    ]);
    assert.deepEqual(await tree(root), [
      '.lock',
      '_files/',
      '_files/broken.yaml/',
      '_files/broken.yaml/status.yaml',
      'instance-id',
      'linked',
      'shop/',
      'shop/.removing-1-4242',
      'shop/.status.yaml.1.0A1B2C3D.tmp',
      'shop/.status.yaml.4242.tmp',
      'shop/.status.yaml.x.0a1b2c3d.tmp',
      'shop/channel.yaml',
      'shop/notes/',
      'shop/notes/.removing-3-1/',
      'shop/notes/.removing-3-1/keep',
      'shop/revisions/',
      'shop/revisions/1/',
      'shop/revisions/1/compose.yaml',
      'shop/revisions/1/revision.yaml',
      'shop/revisions/removing-2-1/',
      'shop/revisions/removing-2-1/keep',
      'shop/status.yaml',
      'shop/status.yaml.tmp',
    ]);
    assert.deepEqual(await tree(outside), ['.x.1.00000000.tmp', 'revisions/', 'revisions/.removing-1-1/']);
  });

  test("a lock's temp file is left to the process making it until it is a minute old", async () => {
    await file('.lock.77.0a0b0c0d.tmp');
    await file('.lock.78.0a0b0c0e.tmp');
    await file('.lock.takeover-0123456789abcdef.1');
    const old = new Date(Date.now() - 120_000);
    await utimes(join(root, '.lock.78.0a0b0c0e.tmp'), old, old);

    const removed = await sweepLeftovers(root);
    assert.deepEqual(removed.map((p) => relative(root, p)), ['.lock.78.0a0b0c0e.tmp']);
    assert.deepEqual(await tree(root), ['.lock.77.0a0b0c0d.tmp', '.lock.takeover-0123456789abcdef.1']);
  });

  test('a state folder that does not exist yet has nothing to sweep', async () => {
    assert.deepEqual(await sweepLeftovers(join(root, 'missing')), []);
  });
});
