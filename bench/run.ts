// `npm run bench`: berth's speed, measured on the real engine and printed as JSON.
//   noopPass: one reconcile pass over an already-converged stack of N services, with the
//     compose invocations and engine calls it made (a no-op pass should make no compose
//     call and a fixed number of engine calls, whatever N is).
//   editToHealthy: a manifest edit (new version + digest) until berth reports the new
//     digest running and healthy, beside `docker compose up -d --wait` doing the same
//     change by hand, in the same run; compared as a ratio because these machines are
//     shared and noisy.
//   failureToLastGood: an update whose healthcheck fails; from the moment berth decides it
//     failed (status.quarantine.since) until the last-good revision's container runs healthy
//     again (seen through the engine), beside one raw `docker compose up -d --wait
//     --force-recreate` of the same good image in the same run.
//   feedVerify: accepting a channel index of N signed releases (parse, schema, ed25519 per
//     release), beside JSON.parse alone of the same text: what trusting nothing unverified
//     costs per check-in. BERTH_BENCH_ONLY=feedVerify runs just this one.
//   soak: the operator running one small stack through N cycles of an update and a
//     rollback (the manifest edit `berth rollback` makes), N=500 or BERTH_BENCH_SOAK_CYCLES;
//     RSS (after a full GC) and active handles (process.getActiveResourcesInfo) after 5
//     warm-up cycles, half-way and at the end, and their growth: a leak shows as growth with N.
//     BERTH_BENCH_ONLY=soak runs just this one. Not part of `npm test`: it takes minutes.
//   noopProfiles, idle: the footprint guard (bench/footprint.ts); BERTH_BENCH_ONLY=footprint
//     runs both, BERTH_BENCH_ONLY=idle only the idle figure (BERTH_BENCH_IDLE_SECONDS, default 60).
import { execFile } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { stackKey } from '../src/controller/index.js';
import { ComposeCli } from '../src/docker/compose.js';
import { Engine } from '../src/docker/engine.js';
import { parseIndex } from '../src/sources/feed.js';
import { generateSigningKeys, parsePublicKey, parsePrivateKey, signRelease } from '../src/sources/signing.js';
import { setStackTarget } from '../src/store/edit.js';
import { removeProject, requireEngine, uniqueName } from '../test/support/engine.js';
import { Harness, isReady, stackManifest } from '../test/support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../test/support/images.js';
import { convergedReconciler, idle, noopProfiles } from './footprint.js';

const exec = promisify(execFile);
const SIZES = (process.env['BERTH_BENCH_SIZES'] ?? '10,50,200').split(',').map(Number);
const PASSES = 5;
const EDITS = 3;
const FAILURES = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Medians of berth's and the raw command's times, and their ratio: the number that survives a noisy machine. */
function versus(berthMs: number[], rawMs: number[]): { berth: number; raw: number; ratioBerthToRaw: number } {
  const berth = median(berthMs);
  const raw = median(rawMs);
  return { berth: Math.round(berth), raw: Math.round(raw), ratioBerthToRaw: Math.round((berth / raw) * 100) / 100 };
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
    const reconciler = await convergedReconciler(root, name, engine, compose);
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

/** berth running one stack and, beside it, a raw compose project doing the same work by hand. */
interface SideBySide {
  h: Harness;
  name: string;
  /** `docker compose up -d --wait` of the raw project, its one service on `image`, plus extra flags. */
  rawUp(image: TestImage, ...flags: string[]): Promise<void>;
}

/** Both sides first deployed on `first` (berth at version `version`); everything is removed afterwards. */
async function sideBySide<T>(prefix: string, first: TestImage, version: string, body: (s: SideBySide) => Promise<T>): Promise<T> {
  const h = await Harness.create();
  const name = uniqueName(prefix);
  const rawProject = uniqueName(`raw${prefix}`);
  const rawDir = await mkdtemp(join(tmpdir(), 'berth-bench-raw-'));
  const rawFile = join(rawDir, 'compose.yaml');
  const rawUp = async (image: TestImage, ...flags: string[]) => {
    await writeFile(rawFile, stringify({ services: { web: { image: image.pinned } } }));
    await exec('docker', ['compose', '-p', rawProject, '-f', rawFile, 'up', '-d', '--wait', '--remove-orphans', ...flags]);
  };
  try {
    await h.writeStack({ name, version, images: { web: first.pinned } }, stringify({ services: { web: { image: first.ref } } }));
    await h.start();
    await h.waitFor({ stack: name }, 'first deploy', isReady(version));
    await rawUp(first);
    return await body({ h, name, rawUp });
  } finally {
    await h.close();
    await removeProject(rawProject);
    await rm(rawDir, { recursive: true, force: true });
  }
}

async function editToHealthy(a: TestImage, b: TestImage) {
  // berth: the operator running, a person edits the manifest; raw: the same change by hand.
  const berthMs: number[] = [];
  const rawMs: number[] = [];
  await sideBySide('edit', a, '0', async ({ h, name, rawUp }) => {
    for (let i = 1; i <= EDITS; i++) {
      const img = i % 2 === 1 ? b : a;
      let t = performance.now();
      await h.writeStack({ name, version: String(i), images: { web: img.pinned } });
      await h.waitFor({ stack: name }, `edit ${i}`, (s) => isReady(String(i))(s) && s.status.services.every((x) => x.containers.every((c) => c.health === 'healthy')));
      berthMs.push(performance.now() - t);
      t = performance.now();
      await rawUp(img);
      rawMs.push(performance.now() - t);
    }
  });
  const { berth, raw, ratioBerthToRaw } = versus(berthMs, rawMs);
  return {
    edits: EDITS,
    berthMs: berth,
    rawComposeUpWaitMs: raw,
    ratioBerthToRaw,
    note: 'berth time includes the file watcher settling (150 ms), the health gate (stableForSeconds: 1 here; compose --wait has no such window) and the status write a person reads',
  };
}

/** Polls the engine until the project's web container runs `digest` and reports healthy; returns when it saw it. */
async function healthyOn(engine: Engine, project: string, digest: string): Promise<number> {
  const deadline = performance.now() + 120_000;
  while (performance.now() < deadline) {
    const [c] = await engine.listContainers({ label: [`com.docker.compose.project=${project}`, 'com.docker.compose.service=web'], health: ['healthy'] });
    if (c !== undefined) {
      const img = await engine.http.json<{ RepoDigests: string[] }>(`/images/${encodeURIComponent(c.ImageID)}/json`);
      if (img.RepoDigests.some((d) => d.endsWith(digest))) return Date.now();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${project}: web did not come back healthy on ${digest} within 120 s`);
}

async function failureToLastGood(engine: Engine, good: TestImage, sick: TestImage) {
  const berthMs: number[] = [];
  const rawMs: number[] = [];
  await sideBySide('fail', good, '1', async ({ h, name, rawUp }) => {
    for (let i = 1; i <= FAILURES; i++) {
      // Each round asks for the failed version again through the retry annotation.
      await h.writeStack({ name, version: '2', images: { web: sick.pinned }, annotations: { 'berth.dev/retry': String(i) } });
      const s = await h.waitFor({ stack: name }, `failure ${i} detected`, (st) => st.status.quarantine?.retryToken === String(i), 120_000);
      const detected = Date.parse(s.status.quarantine!.since);
      const healthyAt = await healthyOn(engine, name, good.digest);
      berthMs.push(healthyAt - detected);
      await h.waitFor({ stack: name }, `rollback ${i} verified`, (st) => st.status.operation === undefined && st.status.currentVersion === '1');
      const t = performance.now();
      await rawUp(good, '--force-recreate');
      rawMs.push(performance.now() - t);
    }
  });
  const { berth, raw, ratioBerthToRaw } = versus(berthMs, rawMs);
  return {
    failures: FAILURES,
    detectionToLastGoodHealthyMs: berth,
    rawComposeRecreateWaitMs: raw,
    ratioBerthToRaw,
    note: 'from the moment berth records the failure to the last-good container running healthy, against one compose --force-recreate --wait of the same image',
  };
}

async function feedVerify(count: number) {
  const keys = generateSigningKeys();
  const privateKey = parsePrivateKey(keys.privatePem, 'bench');
  const publicKey = await parsePublicKey(keys.publicPem, '.');
  const digest = (i: number, s: string) => `127.0.0.1:5000/bench/${s}@sha256:${(i.toString(16) + s).padEnd(64, 'a').slice(0, 64).replace(/[^a-f0-9]/g, 'b')}`;
  const releases = Array.from({ length: count }, (_, i) =>
    signRelease(
      {
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'Release',
        metadata: { name: `bench-${i}` },
        spec: { version: `1.${i}.0`, images: { web: digest(i, 'web'), worker: digest(i, 'worker') }, notes: 'x'.repeat(500), channel: 'stable', published: new Date().toISOString() },
      },
      privateKey,
    ),
  );
  const text = JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'ReleaseIndex', channel: 'stable', releases });
  const time = (f: () => void) => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  const accept: number[] = [];
  const parseOnly: number[] = [];
  for (let i = 0; i < PASSES; i++) {
    accept.push(time(() => parseIndex(text, { url: 'bench', channel: 'stable', publicKey })));
    parseOnly.push(time(() => JSON.parse(text)));
  }
  const ms = median(accept);
  return { releases: count, bytes: text.length, acceptMs: Math.round(ms * 10) / 10, jsonParseMs: Math.round(median(parseOnly) * 100) / 100, ratioAcceptToParse: Math.round((ms / median(parseOnly)) * 10) / 10 };
}

const IDLE_SECONDS = Number(process.env['BERTH_BENCH_IDLE_SECONDS'] ?? 60);

const SOAK_CYCLES = Number(process.env['BERTH_BENCH_SOAK_CYCLES'] ?? 500);
const SOAK_WARMUP = 5;

/** A full collection, so RSS and heap say what is still reachable, not what the GC has not got to. */
function collectGarbage(): void {
  if (typeof globalThis.gc !== 'function') {
    setFlagsFromString('--expose-gc');
    globalThis.gc = runInNewContext('gc') as typeof globalThis.gc;
  }
  globalThis.gc!();
}

function footprint() {
  collectGarbage();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const active = process.getActiveResourcesInfo();
  const byType: Record<string, number> = {};
  for (const t of active) byType[t] = (byType[t] ?? 0) + 1;
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  // external and arrayBuffers: Buffers of child processes' output and of HTTP bodies live outside the JS heap.
  return { rssMiB: mib(rss), heapUsedMiB: mib(heapUsed), externalMiB: mib(external), arrayBuffersMiB: mib(arrayBuffers), activeResources: active.length, activeByType: byType };
}

async function soak(cycles: number, a: TestImage, b: TestImage) {
  if (!Number.isInteger(cycles) || cycles < 1) throw new Error(`BERTH_BENCH_SOAK_CYCLES must be a whole number ≥ 1, not ${process.env['BERTH_BENCH_SOAK_CYCLES']}`);
  const h = await Harness.create();
  const name = uniqueName('soak');
  // No stability window, and few revisions kept, so every cycle also prunes one.
  const fields = { name, health: { stableForSeconds: 0 }, rollback: { keep: 3 } };
  const settled = (version: string) => (s: Parameters<ReturnType<typeof isReady>>[0]) => isReady(version)(s) && s.status.operation === undefined;
  try {
    const manifest = await h.writeStack({ ...fields, version: '1', images: { web: a.pinned } }, stringify({ services: { web: { image: a.ref } } }));
    await h.start();
    await h.waitFor({ stack: name }, 'first deploy', settled('1'));
    const cycle = async (i: number) => {
      await h.writeStack({ ...fields, version: '2', images: { web: b.pinned } });
      await h.waitFor({ stack: name }, `cycle ${i}: update to 2`, settled('2'));
      // What `berth rollback shop --to <revision of 1>` writes.
      await setStackTarget(manifest, { version: '1', images: { web: a.pinned } });
      await h.waitFor({ stack: name }, `cycle ${i}: rollback to 1`, settled('1'));
    };
    // The first cycles fill caches and pools made once, and V8 compiles the hot code again as
    // it optimises (a heap snapshot diff over 30 cycles showed code objects, and 117 plain
    // objects, as all the heap growth); growth is measured after them.
    for (let i = 1; i <= SOAK_WARMUP; i++) await cycle(-i);
    const start = footprint();
    const t0 = performance.now();
    let middle: ReturnType<typeof footprint> | undefined;
    for (let i = 1; i <= cycles; i++) {
      await cycle(i);
      // A leak grows with every cycle; warm-up flattens out: the middle tells them apart.
      if (i === Math.ceil(cycles / 2)) middle = footprint();
    }
    const ms = performance.now() - t0;
    const end = footprint();
    const ratio = (x: number, y: number) => Math.round((x / y) * 1000) / 1000;
    return {
      cycles,
      msPerCycle: Math.round(ms / cycles),
      warmupCycles: SOAK_WARMUP,
      start,
      middle,
      end,
      growth: { rss: ratio(end.rssMiB, start.rssMiB), heapUsed: ratio(end.heapUsedMiB, start.heapUsedMiB), activeResources: ratio(end.activeResources, start.activeResources) },
      passes: h.operator?.passes,
      note: 'each cycle: manifest edit to version 2 (other digest) until Ready, then the edit berth rollback makes back to 1 until Ready; measured after the warm-up cycles, middle after half the cycles; growth = end / start, a leak-free run stays near 1 (target < 1.10)',
    };
  } finally {
    await h.close();
  }
}

async function main() {
  const only = process.env['BERTH_BENCH_ONLY'];
  if (only === 'footprint' || only === 'idle') {
    await requireEngine();
    // A variant no other image has: an image ID shared with other tests' images gains and
    // loses their repo digests as they come and go, and each change is a status write here.
    const tag = uniqueName('footprint');
    const image = await buildTestImage({ name: tag, variant: tag });
    try {
      const result: Record<string, unknown> = {};
      if (only === 'footprint') result['noopProfiles'] = await noopProfiles(image, await Engine.connect(), await ComposeCli.detect());
      result['idle'] = await idle(image, IDLE_SECONDS);
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } finally {
      // A failed removal (the shared engine restarting) must not hide the bench's own error.
      await removeTestImages([image]).catch((err: unknown) => process.stderr.write(`${(err as Error).message}\n`));
    }
    return;
  }
  if (process.env['BERTH_BENCH_ONLY'] === 'soak') {
    await requireEngine();
    const tag = uniqueName('soak');
    const images: TestImage[] = [];
    try {
      images.push(await buildTestImage({ name: tag, variant: 'a' }));
      images.push(await buildTestImage({ name: tag, variant: 'b' }));
      process.stdout.write(JSON.stringify({ soak: await soak(SOAK_CYCLES, images[0]!, images[1]!) }, null, 2) + '\n');
    } finally {
      await removeTestImages(images);
    }
    return;
  }
  if (process.env['BERTH_BENCH_ONLY'] === 'feedVerify') {
    // The one benchmark that needs no engine, for a quick look.
    process.stdout.write(JSON.stringify({ feedVerify: [await feedVerify(10), await feedVerify(200)] }, null, 2) + '\n');
    return;
  }
  await requireEngine();
  const engine = await Engine.connect();
  const compose = await ComposeCli.detect();
  const tag = uniqueName('bench');
  const plain = await buildTestImage({ name: tag, variant: 'plain' });
  const h1 = await buildTestImage({ name: tag, variant: 'h1', health: 'healthy' });
  const h2 = await buildTestImage({ name: tag, variant: 'h2', health: 'healthy' });
  const sick = await buildTestImage({ name: tag, variant: 'sick', health: 'unhealthy' });
  try {
    const noop = [];
    for (const size of SIZES) noop.push(await noopPass(size, plain, engine, compose));
    const edit = await editToHealthy(h1, h2);
    const failure = await failureToLastGood(engine, h1, sick);
    const feed = [await feedVerify(10), await feedVerify(200)];
    const noopProf = await noopProfiles(plain, engine, compose);
    const idled = await idle(plain, IDLE_SECONDS);
    const soaked = await soak(SOAK_CYCLES, plain, h1);
    const result = {
      benchmark: 'berth v1',
      date: new Date().toISOString(),
      engine: { version: engine.engineVersion, api: engine.apiVersion },
      compose: `${compose.flavour} ${compose.version}`,
      noopPass: noop,
      editToHealthy: edit,
      failureToLastGood: failure,
      feedVerify: feed,
      noopProfiles: noopProf,
      idle: idled,
      soak: soaked,
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    await removeTestImages([plain, h1, h2, sick]);
  }
}

await main();
