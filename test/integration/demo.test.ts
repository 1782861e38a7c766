// `npm run demo` as CI runs it (DEMO_NONINTERACTIVE=1), against the real engine, compose and
// registry: the whole story happens, step by step, in a folder the demo owns, and a second
// demo started meanwhile says at once that one already runs.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { findGitCheckout } from '../../src/store/edit.js';
import { StateStore } from '../../src/store/state.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { REGISTRY, requireEngine, uniqueName } from '../support/engine.js';
import { condition } from '../support/harness.js';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const STEP_MS = 180_000;

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function startDemo(env: Record<string, string>): Run {
  const child = spawn('bash', [join(ROOT, 'scripts', 'demo.sh')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number | null>((ok) => child.once('close', (code) => ok(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function untilPrinted(run: Run, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const m = run.stdout().match(pattern);
    if (m !== null) return m;
    if (run.child.exitCode !== null || Date.now() > deadline) {
      assert.fail(`the demo never printed ${what} (${pattern}); exit ${run.child.exitCode}\n--- stdout\n${run.stdout()}\n--- stderr\n${run.stderr()}`);
    }
    await new Promise((ok) => setTimeout(ok, 250));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

describe('npm run demo', () => {
  let dir: string;
  let project: string;
  const runs: Run[] = [];

  before(async () => {
    await requireEngine();
    dir = await mkdtemp(join(tmpdir(), 'berth-demo-test-'));
    project = uniqueName('demo');
  });

  after(async () => {
    for (const r of runs) if (r.child.exitCode === null) r.child.kill('SIGTERM');
    await Promise.all(runs.map((r) => r.exit));
    await execFileAsync('docker', ['compose', '-p', project, 'down', '--remove-orphans', '--timeout', '3']).catch(() => undefined);
    for (const v of ['1.0.0', '1.1.0', '2.0.0', '2.1.0']) await execFileAsync('docker', ['rmi', '-f', `${REGISTRY}/${project}/web:${v}`]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  /** Each step's time limit in this test: short, so the wait for the approval can outlast it. */
  const STEP_TIMEOUT_SECONDS = 100;

  test('runs to the end by itself: 1.0.0 runs, 1.1.0 applies by itself, 2.0.0 waits until approved in the manifest (past the time limit of every other step), 2.1.0 is rolled back; a second demo meanwhile says one runs', { timeout: 600_000 }, async () => {
    const env = {
      DEMO_DIR: dir,
      DEMO_NONINTERACTIVE: '1',
      DEMO_PAUSE_SECONDS: '1',
      DEMO_HTTP: '127.0.0.1:0',
      DEMO_SHOP_PORT: String(await freePort()),
      DEMO_PROJECT: project,
      DEMO_REGISTRY: REGISTRY,
      // Every step but the approval must finish within it; the approval waits for as long as the person takes.
      DEMO_STEP_TIMEOUT_SECONDS: String(STEP_TIMEOUT_SECONDS),
    };
    const demo = startDemo(env);
    runs.push(demo);
    const store = new StateStore(join(dir, '.berth', 'state'));
    const status = async (): Promise<StackStatus> => {
      const s = await store.readStatus({ stack: 'demo' });
      assert.ok(s, 'the demo stack has no status');
      return s;
    };

    // Step 1: the console's address and how to use the CLI in the demo's folder, without flags.
    const [, consoleUrl] = await untilPrinted(demo, /the console: +(http:\/\/127\.0\.0\.1:[0-9]+)\/stacks\/demo/, 'the console URL');
    assert.equal((await fetch(`${consoleUrl!}/healthz`)).status, 200);
    assert.match(demo.stdout(), new RegExp(`cd ${dir} && \\./berth get`));
    assert.equal(await findGitCheckout(dir), undefined, 'the demo folder must be outside any git checkout, or berth rollback is refused there');

    // Step 2 done, step 3 printed: 1.1.0 applied by itself; 2.0.0 waits.
    await untilPrinted(demo, /2\.0\.0 waits for your approval/, 'that 2.0.0 waits');
    const waitingSince = Date.now();
    let s = await status();
    assert.equal(s.status.currentVersion, '1.1.0');
    assert.equal(s.status.available?.version, '2.0.0');
    assert.equal(condition(s, 'AwaitingApproval')?.status, 'True');
    assert.match(demo.stdout(), /click "Apply update"/);
    assert.match(demo.stdout(), /\.\/berth approve demo 2\.0\.0/);

    // It keeps waiting: two more check-ins see 2.0.0 and apply nothing.
    const seen = new Set([s.status.lastCheckIn]);
    while (seen.size < 3) {
      await new Promise((ok) => setTimeout(ok, 500));
      s = await status();
      seen.add(s.status.lastCheckIn);
    }
    assert.equal(s.status.currentVersion, '1.1.0');
    assert.ok(!(s.status.history ?? []).some((h) => h.version === '2.0.0'), 'nothing of 2.0.0 was applied before the approval');

    // The printed hint works as printed, from the demo's folder, with no flags.
    const { stdout: table } = await execFileAsync(join(dir, 'berth'), ['get'], { cwd: dir });
    assert.match(table, /^demo +auto +1\.1\.0/m);

    // A second demo on the same folder says so before it builds or prints anything else.
    const second = startDemo(env);
    runs.push(second);
    assert.equal(await second.exit, 1);
    assert.match(second.stderr(), new RegExp(`another demo is already running in ${dir} \\(pid ${demo.child.pid}`));
    assert.match(second.stderr(), /Its console: http:\/\/127\.0\.0\.1:[0-9]+\/stacks\/demo/);
    assert.doesNotMatch(second.stdout(), /building|step|berth release/);
    assert.equal(demo.child.exitCode, null, 'the first demo goes on');

    // A person may take longer than any step's time limit to read the release notes: the demo still waits.
    await new Promise((ok) => setTimeout(ok, Math.max(0, waitingSince + (STEP_TIMEOUT_SECONDS + 5) * 1000 - Date.now())));
    assert.equal(demo.child.exitCode, null, `the demo gave up waiting for the approval\n--- stdout\n${demo.stdout()}\n--- stderr\n${demo.stderr()}`);

    // The approval, as the console and `berth approve` make it: spec.approve in the manifest.
    const manifest = join(dir, '.berth', 'manifests', 'demo.yaml');
    const doc = parseDocument(await readFile(manifest, 'utf8'));
    doc.setIn(['spec', 'approve'], '2.0.0');
    await writeFileAtomic(manifest, doc.toString());

    assert.equal(await demo.exit, 0, `the demo failed\n--- stdout\n${demo.stdout()}\n--- stderr\n${demo.stderr()}`);
    assert.match(demo.stdout(), /2\.0\.0 runs: you approved it/);
    assert.match(demo.stdout(), /2\.1\.0 failed \(.+\) and berth rolled back to 2\.0\.0 by itself/);

    s = await status();
    assert.equal(s.status.currentVersion, '2.0.0');
    assert.equal(s.status.quarantine?.version, '2.1.0');
    assert.equal(condition(s, 'Degraded')?.reason, 'RolledBack');
    const story = (s.status.history ?? []).map((h) => `${h.version} ${h.operation} ${h.outcome}`).reverse();
    assert.deepEqual(story, ['1.0.0 update Healthy', '1.1.0 update Healthy', '2.0.0 update Healthy', '2.1.0 update RolledBack', '2.0.0 rollback Healthy']);

    // The demo's manifests are in no git checkout, so a rollback by hand is not refused there.
    const rolled: { code?: number; stderr?: string } = await execFileAsync(join(dir, 'berth'), ['rollback', 'demo', '--to', '2'], { cwd: dir }).catch(
      (err: { code?: number; stderr?: string }) => err,
    );
    assert.equal(rolled.code ?? 0, 0, `berth rollback in the demo folder failed: ${rolled.stderr ?? ''}`);
    assert.equal(parseDocument(await readFile(manifest, 'utf8')).getIn(['spec', 'version']), '1.1.0');
  });
});
