// `berth run --once` as a cron job sees it: a real process on the real engine. Its exit code
// is non-zero whenever a stack did not end on its target, and its last line says which.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { berth } from '../support/cli.js';
import { stackManifest } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1) ?? '';

let dir: string;
let good: TestImage;
let sick: TestImage;
const name = uniqueName('once');

before(async () => {
  await requireEngine();
  good = await buildTestImage({ name, variant: 'good', health: 'healthy' });
  sick = await buildTestImage({ name, variant: 'sick', health: 'unhealthy' });
  dir = await mkdtemp(join(tmpdir(), 'berth-once-'));
  await mkdir(join(dir, 'manifests', name), { recursive: true });
  await writeFile(join(dir, 'manifests', name, 'compose.yaml'), stringify({ services: { web: { image: 'placeholder' } } }));
});

after(async () => {
  await removeProject(name);
  await removeTestImages([good, sick].filter(Boolean));
  await rm(dir, { recursive: true, force: true });
});

test('berth run --once exits 1 and names the stack when an update failed its gate and was rolled back, or a manifest is invalid', async () => {
  const manifest = join(dir, 'manifests', `${name}.yaml`);
  const run = () => berth(['run', '--once', '--manifests', 'manifests', '--state', 'state'], dir);

  await writeFile(manifest, stackManifest({ name, version: '1.0.0', images: { web: good.pinned } }));
  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  assert.match(lastLine(first.stderr), /every one on its target/);

  await writeFile(manifest, stackManifest({ name, version: '2.0.0', images: { web: sick.pinned }, health: { stableForSeconds: 1, progressDeadlineSeconds: 30 } }));
  const failed = await run();
  assert.equal(failed.code, 1, `a rolled-back update must not exit 0:\n${failed.stderr}`);
  assert.match(lastLine(failed.stderr), new RegExp(`did not end on their target: ${name} \\(Unhealthy: version 2\\.0\\.0 failed and was rolled back; version 1\\.0\\.0 runs\\)`));

  await writeFile(manifest, stackManifest({ name, version: '1.0.0', images: { web: good.pinned }, mode: 'sometimes' as 'auto' }));
  const invalid = await run();
  assert.equal(invalid.code, 1, `an invalid manifest must not exit 0:\n${invalid.stderr}`);
  assert.match(lastLine(invalid.stderr), new RegExp(`did not end on their target: ${name} \\(InvalidSpec: .*spec\\.mode`));
});
