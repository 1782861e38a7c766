// The state folder holds rendered compose files (with their `environment:` secrets), revision
// records and statuses: only berth's own user may read them. After a real reconcile every
// file under it is 0600 and every folder 0700, and state an older berth left readable by
// everyone is tightened when berth starts.
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { Harness, composeFile, isReady } from '../support/harness.js';

let image: TestImage;
let h: Harness;

before(async () => {
  await requireEngine();
  image = await buildTestImage({ name: uniqueName('modes'), variant: 'v1' });
  h = await Harness.create();
});

after(async () => {
  await h?.close();
  await removeTestImages([image].filter(Boolean));
});

/** Every entry under `dir`, the folder itself included, with its permission bits. */
async function modes(dir: string): Promise<Array<{ path: string; kind: 'file' | 'dir'; mode: number }>> {
  const st = await lstat(dir);
  const out: Array<{ path: string; kind: 'file' | 'dir'; mode: number }> = [{ path: dir, kind: 'dir', mode: st.mode & 0o777 }];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await modes(path)));
    else out.push({ path, kind: 'file', mode: (await lstat(path)).mode & 0o777 });
  }
  return out;
}

test('after a real reconcile every file under the state folder is 0600 and every folder 0700, older loose state included', async () => {
  // State an older berth left behind, readable by every local user.
  const old = join(h.state.root, 'old-stack', 'revisions', '1');
  await mkdir(old, { recursive: true, mode: 0o755 });
  await writeFile(join(old, 'compose.yaml'), 'services: {db: {environment: {PASSWORD: hunter2}}}\n', { mode: 0o644 });
  await chmod(h.state.root, 0o755);
  await chmod(join(h.state.root, 'old-stack'), 0o755);

  await h.start();
  const name = uniqueName('modes');
  await h.writeStack({ name, version: '1.0.0', images: { web: image.pinned } }, composeFile({ web: 'placeholder' }));
  await h.waitFor({ stack: name }, 'Ready at 1.0.0', isReady('1.0.0'));
  assert.deepEqual(await h.state.revisionNumbers(name), [1]);

  const found = await modes(h.state.root);
  assert.ok(found.some((f) => f.path.endsWith(join(name, 'revisions', '1', 'compose.yaml'))), 'the rendered compose file is there');
  assert.ok(found.some((f) => f.path.endsWith(join(name, 'status.yaml'))), 'the status is there');
  const loose = found.filter((f) => f.mode !== (f.kind === 'dir' ? 0o700 : 0o600)).map((f) => `${f.path} ${f.mode.toString(8)}`);
  assert.deepEqual(loose, [], 'files must be 0600 and folders 0700');
});
