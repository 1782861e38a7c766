// Engine.pull against the real engine and registry: what a pull leaves behind once it ended.
// berth pulls on every update and every pre-download for as long as it runs, so anything a
// finished pull keeps alive adds up.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
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

test('a finished pull leaves no abort listener on its deadline signal: many pulls sharing one signal do not add up', async () => {
  assert.ok(image);
  const engine = await Engine.connect();
  // Engine.pull makes its deadline with AbortSignal.timeout; hand every pull the same
  // signal, so what each pull leaves on it can be counted.
  const shared = new AbortController().signal;
  const timeout = AbortSignal.timeout;
  AbortSignal.timeout = () => shared;
  try {
    const before = getEventListeners(shared, 'abort').length;
    for (let i = 0; i < 10; i++) await engine.pull(image.pinned, 60_000);
    assert.equal(getEventListeners(shared, 'abort').length, before, 'abort listeners left behind by 10 finished pulls');
    await assert.rejects(engine.pull(`${image.ref.split(':')[0]}:no-such-tag-${Date.now()}`, 60_000));
    assert.equal(getEventListeners(shared, 'abort').length, before, 'a failed pull leaves its listener too');
  } finally {
    AbortSignal.timeout = timeout;
  }
});
