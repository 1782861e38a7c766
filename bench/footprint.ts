// Footprint guard (issue 10 item 6): what berth costs while nothing changes, on a stack shaped
// like a vendor's (two compose files, the second an override, and profiles).
//   noopProfiles: after convergence, N no-op reconcile passes over such a stack of 5 and of 50
//     services: compose invocations per pass (must be 0: compose is asked again only when an
//     input changed) and engine calls per pass, whose 50:5 ratio shows O(1) in one run.
//   idle: a real `berth run` child process with one such stack of 50 services, converged, left
//     alone for 60 s (BERTH_BENCH_IDLE_SECONDS): its CPU share of one core and its RSS, read
//     from /proc, beside the issue's budget (0.2 %, 80 MB). BERTH_BENCH_IDLE_LOG=<file> keeps its
//     log, BERTH_BENCH_IDLE_LOG_LEVEL=debug says what it did,
//     BERTH_BENCH_IDLE_NODE_ARGS adds node flags (--cpu-prof).
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { Reconciler } from '../src/controller/reconciler.js';
import { ManifestIndex, stackKey } from '../src/controller/index.js';
import { systemClock } from '../src/controller/clock.js';
import type { ComposeCli } from '../src/docker/compose.js';
import type { Engine } from '../src/docker/engine.js';
import { scanManifests } from '../src/store/manifests.js';
import { StateStore } from '../src/store/state.js';
import { removeProject, uniqueName } from '../test/support/engine.js';
import { isReady } from '../test/support/harness.js';
import type { TestImage } from '../test/support/images.js';

const PASSES = 20;
/** The issue's budget for an idle berth with one 50-service stack. */
export const IDLE_BUDGET = { cpuPercentOfOneCore: 0.2, rssMB: 80 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A stack as vendors ship them, in `<manifests>/<name>/`: compose.yaml with `size` services,
 * compose.override.yaml adding an environment variable to each, and two profile-gated services,
 * one in the active profile `extra` (runs) and one in `debug` (not active: not expected).
 * Returns the services berth is expected to run (the inactive one is not pinned: compose's model,
 * with profiles applied, does not define it).
 */
async function writeVendorStack(manifests: string, name: string, size: number, image: TestImage, extra: Record<string, unknown> = {}): Promise<string[]> {
  const dir = join(manifests, name);
  await mkdir(dir, { recursive: true });
  const plain = Array.from({ length: size - 1 }, (_, i) => `s${i}`);
  const services: Record<string, unknown> = Object.fromEntries(plain.map((s) => [s, { image: image.ref, init: false }]));
  services['gated'] = { image: image.ref, init: false, profiles: ['extra'] };
  services['debugger'] = { image: image.ref, init: false, profiles: ['debug'] };
  await writeFile(join(dir, 'compose.yaml'), stringify({ services }));
  const override = Object.fromEntries(plain.map((s) => [s, { environment: { FROM_OVERRIDE: '1' } }]));
  await writeFile(join(dir, 'compose.override.yaml'), stringify({ services: override }));
  const running = [...plain, 'gated'];
  await writeFile(
    join(manifests, `${name}.yaml`),
    stringify({
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'Stack',
      metadata: { name },
      spec: {
        compose: { files: [`${name}/compose.yaml`, `${name}/compose.override.yaml`], profiles: ['extra'] },
        version: '1.0.0',
        images: Object.fromEntries(running.map((s) => [s, image.pinned])),
        health: { stableForSeconds: 1 },
        ...extra,
      },
    }),
  );
  return running;
}

/**
 * A Reconciler over the manifests in ROOT/m (state in ROOT/state), once it has converged stack
 * NAME: the apply, then its health gate, until nothing is in flight. The no-op benches time
 * the passes after this.
 */
export async function convergedReconciler(root: string, name: string, engine: Engine, compose: ComposeCli): Promise<Reconciler> {
  const index = new ManifestIndex();
  await index.update(await scanManifests(join(root, 'm')), async () => undefined);
  const reconciler = new Reconciler({
    state: new StateStore(join(root, 'state')),
    engine,
    compose,
    index,
    log: pino({ level: 'silent' }),
    clock: systemClock,
  });
  for (let r = await reconciler.reconcile(stackKey(name)); ; r = await reconciler.reconcile(stackKey(name))) {
    if (r.error) throw r.error;
    if (r.inFlight !== true) break;
    await sleep(r.requeueAfterMs ?? 1_000);
  }
  return reconciler;
}

async function noopProfilesOne(size: number, image: TestImage, engine: Engine, compose: ComposeCli) {
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  const name = uniqueName(`noopp${size}`);
  try {
    await writeVendorStack(join(root, 'm'), name, size, image);
    const reconciler = await convergedReconciler(root, name, engine, compose);
    const status = await new StateStore(join(root, 'state')).readStatus({ stack: name });
    if (status === undefined || !isReady('1.0.0')(status)) throw new Error(`${name} did not converge: ${stringify(status?.status.conditions)}`);
    const c0 = compose.invocations;
    const e0 = engine.calls;
    const times: number[] = [];
    for (let i = 0; i < PASSES; i++) {
      const t = performance.now();
      const r = await reconciler.reconcile(stackKey(name));
      times.push(performance.now() - t);
      if (r.error) throw r.error;
    }
    times.sort((a, b) => a - b);
    return {
      services: size,
      passes: PASSES,
      passMsMedian: Math.round(times[Math.floor(times.length / 2)]! * 10) / 10,
      composeInvocationsPerPass: (compose.invocations - c0) / PASSES,
      engineCallsPerPass: (engine.calls - e0) / PASSES,
    };
  } finally {
    await removeProject(name);
    await rm(root, { recursive: true, force: true });
  }
}

export async function noopProfiles(image: TestImage, engine: Engine, compose: ComposeCli) {
  const small = await noopProfilesOne(5, image, engine, compose);
  const large = await noopProfilesOne(50, image, engine, compose);
  return {
    stack: 'compose.yaml + compose.override.yaml, profiles [extra]; one service in an inactive profile',
    runs: [small, large],
    engineCallsRatio50to5: Math.round((large.engineCallsPerPass / small.engineCallsPerPass) * 100) / 100,
    composeInvocationsPerPassOk: small.composeInvocationsPerPass === 0 && large.composeInvocationsPerPass === 0,
  };
}

/** dist/bench → dist/src/cli/main.js */
const BERTH_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const CLK_TCK = 100;

/** utime+stime of the process itself and of its waited-for children, in clock ticks. */
async function cpuTicks(pid: number): Promise<{ self: number; children: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // "pid (comm) S ppid ...": comm may hold spaces; fields after it start at state (field 3).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (field: number) => Number(f[field - 3]);
  return { self: n(14) + n(15), children: n(16) + n(17) };
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

export async function idle(image: TestImage, seconds: number) {
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`BERTH_BENCH_IDLE_SECONDS must be a positive number, not ${process.env['BERTH_BENCH_IDLE_SECONDS']}`);
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-idle-'));
  const name = uniqueName('idle');
  const manifests = join(root, 'm');
  const state = join(root, 'state');
  const logFile = join(root, 'berth.log');
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await writeVendorStack(manifests, name, 50, image);
    const fd = openSync(logFile, 'a');
    try {
      // Log level info, as an admin runs it: debug lines would be part of what is measured.
      const level = process.env['BERTH_BENCH_IDLE_LOG_LEVEL'] ?? 'info';
      // e.g. "--cpu-prof --cpu-prof-dir=/tmp/p" to see where the idle CPU goes.
      const nodeArgs = (process.env['BERTH_BENCH_IDLE_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
      // The web server runs as it does for an admin (its default is on), on a free port: a fixed
      // port would clash with other berths on this machine.
      child = spawn(process.execPath, [...nodeArgs, BERTH_MAIN, 'run', '--manifests', manifests, '--state', state, '--log-level', level, '--http', '127.0.0.1:0'], { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start berth run (${BERTH_MAIN})`);
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    const store = new StateStore(state);
    const deadline = Date.now() + 300_000;
    for (;;) {
      const s = await store.readStatus({ stack: name }).catch(() => undefined);
      if (s !== undefined && isReady('1.0.0')(s) && s.status.operation === undefined) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
        throw new Error(`berth run did not converge ${name} (50 services) ${child.exitCode !== null ? `: it exited ${child.exitCode}` : 'within 300 s'}; log tail (${logFile}):\n${tail}`);
      }
      await sleep(500);
    }
    // Let the last writes and timers of the convergence settle before measuring.
    await sleep(5_000);
    const logBefore = (await readFile(logFile, 'utf8')).split('\n').length;
    const t0 = performance.now();
    const c0 = await cpuTicks(pid);
    const rss: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      rss.push(await rssKiB(pid));
      await sleep(Math.min(1_000, seconds * 1000 - (performance.now() - t0)));
    }
    const c1 = await cpuTicks(pid);
    const elapsed = (performance.now() - t0) / 1000;
    rss.push(await rssKiB(pid));
    const logLines = (await readFile(logFile, 'utf8')).split('\n').length - logBefore;
    const cpuPercent = Math.round((((c1.self - c0.self) / CLK_TCK) / elapsed) * 100 * 1000) / 1000;
    const childrenPercent = Math.round((((c1.children - c0.children) / CLK_TCK) / elapsed) * 100 * 1000) / 1000;
    const rssMB = Math.round((Math.max(...rss) * 1024) / 1e6 * 10) / 10;
    const rssMiB = Math.round((Math.max(...rss) / 1024) * 10) / 10;
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
    return {
      services: 50,
      seconds: Math.round(elapsed * 10) / 10,
      cpuPercentOfOneCore: cpuPercent,
      childProcessesCpuPercent: childrenPercent,
      rssMaxMiB: rssMiB,
      rssMaxMB: rssMB,
      budget: IDLE_BUDGET,
      cpuWithinBudget: cpuPercent <= IDLE_BUDGET.cpuPercentOfOneCore,
      rssWithinBudget: rssMB <= IDLE_BUDGET.rssMB,
      logLinesWhileIdle: logLines,
      note: 'a `berth run` child process (log level info) with one converged stack (2 compose files, profiles); CPU = utime+stime from /proc/<pid>/stat over the window, at 1/100 s resolution; RSS = the largest VmRSS sampled each second. The engine event stream is shared: other compose projects on this machine wake berth too.',
    };
  } finally {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    await removeProject(name);
    // To see what an idle berth did: BERTH_BENCH_IDLE_LOG=<file> keeps its log.
    const keep = process.env['BERTH_BENCH_IDLE_LOG'];
    if (keep) await copyFile(logFile, keep).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}
