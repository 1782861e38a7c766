// Engine.pull against the real engine and registry: what a pull leaves behind once it ended.
// berth pulls on every update and every pre-download for as long as it runs, so anything a
// finished pull keeps alive adds up.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Engine } from '../../src/docker/engine.js';
import { requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

let image: TestImage | undefined;

before(async () => {
  await requireEngine();
  image = await buildTestImage({ name: uniqueName('pull-leak'), variant: 'v1' });
});

after(async () => {
  if (image !== undefined) await removeTestImages([image]);
});

test('a finished pull or engine call leaves no deadline timer behind: a long-running berth does not carry them', async () => {
  assert.ok(image);
  const engine = await Engine.connect({ callTimeoutMs: 45_000 });
  // Every deadline timer made for these calls (60 s pulls, 45 s calls) is recorded, and so is
  // every clearTimeout: a timer left to run keeps its signal and what it holds alive for minutes.
  const made = new Set<unknown>();
  const cleared = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    const t = realSet(fn, ms);
    if (ms === 60_000 || ms === 45_000) made.add(t);
    return t;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((t?: Parameters<typeof clearTimeout>[0]) => {
    cleared.add(t);
    realClear(t);
  }) as typeof clearTimeout;
  try {
    for (let i = 0; i < 10; i++) await engine.pull(image.pinned, 60_000);
    await assert.rejects(engine.pull(`${image.ref.split(':')[0]}:no-such-tag-${Date.now()}`, 60_000));
    for (let i = 0; i < 10; i++) await engine.listImages();
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  assert.ok(made.size >= 21, `expected a deadline per pull and per call, saw ${made.size}`);
  const left = [...made].filter((t) => !cleared.has(t));
  assert.equal(left.length, 0, `${left.length} of ${made.size} deadline timers were left running after their work ended`);
});
