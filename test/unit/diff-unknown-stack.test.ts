// `berth diff NAME` and `berth render NAME` with a name no manifest declares: the usual cause
// is a typo in NAME, not the folder, so the message names the stacks the folder does declare.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nextRevision } from '../../src/controller/diff.js';
import type { ComposeCli } from '../../src/docker/compose.js';
import type { Engine } from '../../src/docker/engine.js';
import { StateStore } from '../../src/store/state.js';

const stack = (name: string) => `apiVersion: berth.dev/v1alpha1
kind: Stack
metadata:
  name: ${name}
spec:
  compose:
    file: compose.yaml
  version: "1.0.0"
`;

test('diff/render of a stack no manifest declares names the stacks the folder declares', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-diff-unknown-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const manifests = join(dir, 'manifests');
  await mkdir(manifests);
  await writeFile(join(manifests, 'shop.yaml'), stack('shop'));
  await writeFile(join(manifests, 'blog.yaml'), stack('blog'));
  // The name is looked up before compose or the engine is asked anything.
  const compose = undefined as unknown as ComposeCli;
  const engine = undefined as unknown as Engine;
  await assert.rejects(
    nextRevision('shpo', { state: new StateStore(join(dir, 'state')), engine, compose, manifestsDir: manifests }),
    (err: Error) => {
      assert.match(err.message, /no manifest in .*manifests declares stack "shpo"/);
      assert.match(err.message, /declare: blog, shop/);
      return true;
    },
  );
});

test('diff/render in a folder without Stack manifests says the folder holds none', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-diff-unknown-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await assert.rejects(
    nextRevision('shop', { state: new StateStore(join(dir, 'state')), engine: undefined as unknown as Engine, compose: undefined as unknown as ComposeCli, manifestsDir: dir }),
    /declares stack "shop" \(it holds no Stack manifests\); check the name, or pass the folder that holds it with --manifests/,
  );
});
