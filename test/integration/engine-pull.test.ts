// Engine.pull against the real engine and registry: what a pull leaves behind once it ended.
// berth pulls on every update and every pre-download for as long as it runs, so anything a
// finished pull keeps alive adds up.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Engine } from '../../src/docker/engine.js';
import { REGISTRY, requireEngine, uniqueName } from '../support/engine.js';
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

/** Digest and size of each layer of a pushed test image, from the registry's manifest. */
async function layersOf(image: TestImage): Promise<Array<{ digest: string; size: number }>> {
  const path = image.repo.slice(REGISTRY.length + 1);
  const res = await fetch(`http://${REGISTRY}/v2/${path}/manifests/${image.digest}`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(res.status, 200, `the registry has no manifest for ${image.pinned}`);
  return ((await res.json()) as { layers: Array<{ digest: string; size: number }> }).layers;
}

test('the engine counts pulls by outcome, the layer bytes they downloaded and the time they took (berth_image_pull_*)', async () => {
  // Two images that share their busybox layers: one stays on the host, the other is removed
  // from it, so pulling that one downloads exactly the layers that are its own.
  const name = uniqueName('pull-bytes');
  const kept = await buildTestImage({ name, variant: `kept-${uniqueName('v')}` });
  const fresh = await buildTestImage({ name, variant: `fresh-${uniqueName('v')}` });
  try {
    const shared = new Set((await layersOf(kept)).map((l) => l.digest));
    const own = (await layersOf(fresh)).filter((l) => !shared.has(l.digest));
    assert.ok(own.length > 0, 'the fresh image has layers of its own');
    await removeTestImages([fresh]);
    const engine = await Engine.connect();

    await engine.pull(fresh.pinned, 60_000);
    // The count comes from the engine's progress messages, which it coalesces per layer: a layer
    // of a few hundred bytes (these test layers) can finish between two messages and report no
    // size at all (seen on a busy CI machine: 121 of 279 bytes). So the count is what the engine
    // reported: never more than the layers the host lacked, and something of them.
    const ownBytes = own.reduce((sum, l) => sum + l.size, 0);
    assert.ok(engine.pullStats.bytes <= ownBytes, `counted ${engine.pullStats.bytes} bytes, more than the ${ownBytes} the host lacked`);
    assert.ok(engine.pullStats.bytes > 0 || own.every((l) => l.size < 1024), `counted no bytes of ${ownBytes}`);
    assert.equal(engine.pullStats.succeeded, 1);
    assert.ok(engine.pullStats.seconds > 0);

    // Everything is on the host now: another pull downloads nothing.
    const before = engine.pullStats.bytes;
    await engine.pull(fresh.pinned, 60_000);
    assert.equal(engine.pullStats.bytes, before);
    assert.equal(engine.pullStats.succeeded, 2);

    await assert.rejects(engine.pull(`${fresh.repo}:no-such-tag`, 60_000));
    assert.equal(engine.pullStats.failed, 1);
    assert.equal(engine.callsByKind.get('pull'), 3);
  } finally {
    await removeTestImages([kept, fresh]);
  }
});
