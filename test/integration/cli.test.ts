// The `berth` command as a person or a cron job runs it: a separate process, real files,
// the real engine.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { berth } from '../support/cli.js';
import { stackManifest } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

let dir: string;
let image: TestImage;
let image2: TestImage | undefined;
const name = uniqueName('cli');

before(async () => {
  await requireEngine();
  image = await buildTestImage({ name, variant: 'v1' });
  dir = await mkdtemp(join(tmpdir(), 'berth-cli-'));
  await mkdir(join(dir, 'manifests', name), { recursive: true });
  await writeFile(join(dir, 'manifests', name, 'compose.yaml'), stringify({ services: { web: { image: 'placeholder' } } }));
  await writeFile(join(dir, 'manifests', `${name}.yaml`), stackManifest({ name, version: '1.0.0', images: { web: image.pinned } }));
  await writeFile(join(dir, 'bad.yaml'), 'apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata: {name: x}\nspec:\n  compose: {file: c.yaml}\n  version: "1"\n  mode: sometimes\n');
});

after(async () => {
  await removeProject(name);
  await removeTestImages([image, ...(image2 ? [image2] : [])]);
  await rm(dir, { recursive: true, force: true });
});

test('berth validate accepts a good manifest and names the field of a bad one, exiting 1', async () => {
  const good = await berth(['validate', join('manifests', `${name}.yaml`)], dir);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, new RegExp(`valid Stack "${name}" \\(version 1\\.0\\.0, mode auto\\)`));
  const bad = await berth(['validate', 'bad.yaml'], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /spec\.mode: must be one of "auto", "notify", "disabled"/);
});

test('berth run --once converges every stack and exits 0; berth get and describe report it', async () => {
  const run = await berth(['run', '--once', '--manifests', 'manifests', '--state', 'state'], dir);
  assert.equal(run.code, 0, run.stderr);
  const get = await berth(['get', '--state', 'state'], dir);
  assert.equal(get.code, 0, get.stderr);
  const [header, row] = get.stdout.trim().split('\n');
  assert.match(header!, /^NAME\s+MODE\s+CURRENT\s+TARGET\s+AVAILABLE\s+READY\s+REASON\s+AGE$/);
  assert.match(row!, new RegExp(`^${name}\\s+auto\\s+1\\.0\\.0\\s+1\\.0\\.0\\s+-\\s+True\\s+Converged\\s+\\d+s$`));
  const describe = await berth(['describe', name, '--state', 'state'], dir);
  assert.equal(describe.code, 0, describe.stderr);
  assert.match(describe.stdout, /Revision:\s+1/);
  assert.match(describe.stdout, /Ready\s+True\s+Converged/);
});

test('berth history lists what berth applied; berth rollback edits the manifest back and berth converges to it', async () => {
  // A second version, applied and proven healthy.
  image2 = await buildTestImage({ name, variant: 'v2' });
  const manifest = join(dir, 'manifests', `${name}.yaml`);
  await writeFile(manifest, `# hand-written: keep me\n${stackManifest({ name, version: '2.0.0', images: { web: image2.pinned } })}`);
  const run2 = await berth(['run', '--once', '--manifests', 'manifests', '--state', 'state'], dir);
  assert.equal(run2.code, 0, run2.stderr);

  const history = await berth(['history', name, '--state', 'state'], dir);
  assert.equal(history.code, 0, history.stderr);
  const rows = history.stdout.trim().split('\n');
  assert.match(rows[0]!, /^REVISION\s+VERSION\s+OPERATION\s+OUTCOME\s+STARTED\s+FINISHED\s+NOW\s+REASON$/);
  assert.match(rows[1]!, /^2\s+2\.0\.0\s+update\s+Healthy\s.*\scurrent,last-good\s+HealthGatePassed$/);
  assert.match(rows[2]!, /^1\s+1\.0\.0\s+update\s+Healthy\s.*\s-\s+HealthGatePassed$/);
  assert.match(history.stdout, /Revisions on disk: 1, 2/);

  // Inside someone's git checkout berth does not edit: it says to revert in git.
  await mkdir(join(dir, '.git'));
  const refused = await berth(['rollback', name, '--state', 'state'], dir);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /is in the git checkout .* which berth does not own/);
  assert.match(refused.stderr, /Revert in git instead: set spec\.version to "1\.0\.0"/);
  assert.match(await readFile(manifest, 'utf8'), /version: 2\.0\.0/);

  // Outside git (or with --force) the manifest is edited, keeping the person's comment.
  await rm(join(dir, '.git'), { recursive: true });
  const rolled = await berth(['rollback', name, '--state', 'state'], dir);
  assert.equal(rolled.code, 0, rolled.stderr);
  assert.match(rolled.stdout, /spec\.version 2\.0\.0 -> 1\.0\.0, spec\.images set to those of revision 1/);
  const text = await readFile(manifest, 'utf8');
  assert.match(text, /^# hand-written: keep me\n/);
  assert.match(text, /version: 1\.0\.0/);
  assert.ok(text.includes(image.pinned), 'the manifest pins revision 1\'s digest again');

  const run3 = await berth(['run', '--once', '--manifests', 'manifests', '--state', 'state'], dir);
  assert.equal(run3.code, 0, run3.stderr);
  const describe = await berth(['describe', name, '--state', 'state'], dir);
  assert.match(describe.stdout, /Current version: 1\.0\.0/);
  assert.match(describe.stdout, /Revision:\s+3/);
  assert.match(describe.stdout, /Ready\s+True\s+Converged/);

  const bad = await berth(['rollback', name, '--to', '9', '--state', 'state'], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /revision 9 of .* is not on disk \(kept: 1, 2, 3\)/);
});

test('berth run without a manifests folder and berth describe of an unknown stack fail with a message saying what to do', async () => {
  const run = await berth(['run'], dir);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /the manifests folder \.\/\.berth\/manifests \(the default\) does not exist\. Name it with --manifests DIR, or set BERTH_MANIFESTS, or create \.\/\.berth\/manifests/);
  const describe = await berth(['describe', 'nope', '--state', 'state'], dir);
  assert.equal(describe.code, 1);
  assert.match(describe.stderr, /no status for stack "nope"/);
});

test('a truncated revision record reads as DAMAGED in berth history, and berth rollback --to refuses it', async () => {
  const record = join(dir, 'state', name, 'revisions', '2', 'revision.yaml');
  const text = await readFile(record, 'utf8');
  // Cut short after the spec, as a disk that filled or a bad copy would leave it: it still parses.
  await writeFile(record, text.slice(0, text.indexOf('created:')));

  const history = await berth(['history', name, '--state', 'state'], dir);
  assert.equal(history.code, 0, history.stderr);
  const row2 = history.stdout.split('\n').find((l) => /^2\s/.test(l));
  assert.match(row2 ?? '', /\sDAMAGED/);
  assert.match(history.stdout, /Damaged: revision 2 .*revision\.yaml: damaged \(created is missing\).*cannot roll back to it/);

  const rollback = await berth(['rollback', name, '--to', '2', '--state', 'state'], dir);
  assert.equal(rollback.code, 1, rollback.stdout);
  assert.match(rollback.stderr, /revision\.yaml: damaged \(created is missing\)/);
  assert.doesNotMatch(rollback.stdout, /nothing changed/);
});

test('berth describe of a stack whose status.yaml is damaged names the file', async () => {
  await mkdir(join(dir, 'state-damaged', 'shop'), { recursive: true });
  await writeFile(join(dir, 'state-damaged', 'shop', 'status.yaml'), 'status: {conditions: [\n  - broken: "');
  const describe = await berth(['describe', 'shop', '--state', 'state-damaged'], dir);
  assert.equal(describe.code, 1);
  assert.match(describe.stderr, /state-damaged\/shop\/status\.yaml: not valid YAML/);
});
