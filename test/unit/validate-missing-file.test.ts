// `berth validate FILE` with a path that is not there (a typo, the wrong folder) says so in
// words and what to check, not with Node's raw ENOENT text.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');

test('berth validate names a missing file and says to check its path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-validate-missing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [CLI, 'validate', 'shop.yml', dir], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stderr, /ENOENT|EISDIR/);
  assert.match(r.stderr, /^shop\.yml: no such file; check the path \(berth validate takes the manifest's own file/m);
  assert.match(r.stderr, new RegExp(`^${dir.replaceAll('/', '\\/')}: is a folder; name the files in it`, 'm'));
});
