// `npm run bench`: berth's speed, measured on the real engine and printed as JSON.
//   noopPass: one reconcile pass over an already-converged stack of N services, with the
//     compose invocations and engine calls it made (a no-op pass should make no compose
//     call and a fixed number of engine calls, whatever N is).
//   editToHealthy: a manifest edit (new version + digest) until berth reports the new
//     digest running and healthy, beside `docker compose up -d --wait` doing the same
//     change by hand, in the same run; compared as a ratio because these machines are
//     shared and noisy.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { Reconciler } from '../src/controller/reconciler.js';
import { ManifestIndex, stackKey } from '../src/controller/index.js';
import { systemClock } from '../src/controller/clock.js';
import { ComposeCli } from '../src/docker/compose.js';
import { Engine } from '../src/docker/engine.js';
import { scanManifests } from '../src/store/manifests.js';
import { StateStore } from '../src/store/state.js';
import { removeProject, requireEngine, uniqueName } from '../test/support/engine.js';
import { Harness, isReady, stackManifest } from '../test/support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../test/support/images.js';

const exec = promisify(execFile);
const SIZES = (process.env['BERTH_BENCH_SIZES'] ?? '10,50,200').split(',').map(Number);
const PASSES = 5;
const EDITS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function noopPass(size: number, image: TestImage, engine: Engine, compose: ComposeCli) {
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  const name = uniqueName(`noop${size}`);
  try {
    await mkdir(join(root, 'm', name), { recursive: true });
    const services = Object.fromEntries(Array.from({ length: size }, (_, i) => [`s${i}`, { image: image.ref }]));
    await writeFile(join(root, 'm', name, 'compose.yaml'), stringify({ services }));
    const images = Object.fromEntries(Object.keys(services).map((s) => [s, image.pinned]));
    await writeFile(join(root, 'm', `${name}.yaml`), stackManifest({ name, version: '1.0.0', images }));
    const index = new ManifestIndex();
    index.update(await scanManifests(join(root, 'm')));
    const reconciler = new Reconciler({
      state: new StateStore(join(root, 'state')),
      engine,
      compose,
      index,
      log: pino({ level: 'silent' }),
      clock: systemClock,
    });
    const first = await reconciler.reconcile(stackKey(name));
    if (first.error) throw first.error;
    const times: number[] = [];
    const c0 = compose.invocations;
    const e0 = engine.calls;
    for (let i = 0; i < PASSES; i++) {
      const t = performance.now();
      const r = await reconciler.reconcile(stackKey(name));
      times.push(performance.now() - t);
      if (r.error) throw r.error;
    }
    return {
      services: size,
      passMs: { median: Math.round(median(times) * 10) / 10, min: Math.round(Math.min(...times) * 10) / 10 },
      composeInvocationsPerPass: (compose.invocations - c0) / PASSES,
      engineCallsPerPass: (engine.calls - e0) / PASSES,
    };
  } finally {
    await removeProject(name);
    await rm(root, { recursive: true, force: true });
  }
}

async function editToHealthy(a: TestImage, b: TestImage) {
  // berth: the operator running, a person edits the manifest.
  const h = await Harness.create();
  const name = uniqueName('edit');
  const berthMs: number[] = [];
  const rawMs: number[] = [];
  const rawProject = uniqueName('raw');
  const rawDir = await mkdtemp(join(tmpdir(), 'berth-bench-raw-'));
  try {
    await h.writeStack({ name, version: '0', images: { web: a.pinned } }, stringify({ services: { web: { image: a.ref } } }));
    await h.start();
    await h.waitFor({ stack: name }, 'first deploy', isReady('0'));
    // raw compose: the same change by hand.
    const rawFile = join(rawDir, 'compose.yaml');
    const up = async (img: TestImage) => {
      await writeFile(rawFile, stringify({ services: { web: { image: img.pinned } } }));
      await exec('docker', ['compose', '-p', rawProject, '-f', rawFile, 'up', '-d', '--wait', '--remove-orphans']);
    };
    await up(a);
    for (let i = 1; i <= EDITS; i++) {
      const img = i % 2 === 1 ? b : a;
      let t = performance.now();
      await h.writeStack({ name, version: String(i), images: { web: img.pinned } });
      await h.waitFor({ stack: name }, `edit ${i}`, (s) => isReady(String(i))(s) && s.status.services.every((x) => x.containers.every((c) => c.health === 'healthy')));
      berthMs.push(performance.now() - t);
      t = performance.now();
      await up(img);
      rawMs.push(performance.now() - t);
    }
  } finally {
    await h.close();
    await removeProject(rawProject);
    await rm(rawDir, { recursive: true, force: true });
  }
  const berth = median(berthMs);
  const raw = median(rawMs);
  return {
    edits: EDITS,
    berthMs: Math.round(berth),
    rawComposeUpWaitMs: Math.round(raw),
    ratioBerthToRaw: Math.round((berth / raw) * 100) / 100,
    note: 'berth time includes the file watcher settling (150 ms) and the status write a person reads',
  };
}

async function main() {
  await requireEngine();
  const engine = await Engine.connect();
  const compose = await ComposeCli.detect();
  const tag = uniqueName('bench');
  const plain = await buildTestImage({ name: tag, variant: 'plain' });
  const h1 = await buildTestImage({ name: tag, variant: 'h1', health: 'healthy' });
  const h2 = await buildTestImage({ name: tag, variant: 'h2', health: 'healthy' });
  try {
    const noop = [];
    for (const size of SIZES) noop.push(await noopPass(size, plain, engine, compose));
    const edit = await editToHealthy(h1, h2);
    const result = {
      benchmark: 'berth v0',
      date: new Date().toISOString(),
      engine: { version: engine.engineVersion, api: engine.apiVersion },
      compose: `${compose.flavour} ${compose.version}`,
      noopPass: noop,
      editToHealthy: edit,
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    await removeTestImages([plain, h1, h2]);
  }
}

await main();
