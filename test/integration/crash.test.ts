// Crash safety on a real engine: `berth run` is SIGKILLed at each step of an update and of a
// rollback (through its failpoints, or from outside at a step its status file shows), and a
// fresh berth started on the same state finishes the job: the stack ends on a healthy
// revision, the status is consistent (no operation left in flight, one history entry per
// operation, the right last-good revision), every revision is on disk exactly once, and
// compose ran once at a time. The same holds when the Docker engine restarts in the middle
// of an update, with berth running or with berth down.
//
// Each scenario: berth #1 (no failpoints) brings the stack up at 1.0.0 and stops; the
// manifest moves to 2.0.0; berth #2 dies at the step under test; berth #3 recovers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { StateStore } from '../../src/store/state.js';
import { BerthProcess, isAlive, killAllBerthProcesses, type ExitStatus } from '../support/berth-process.js';
import { restartEngine, startEngine } from '../support/dockerd.js';
import { docker, removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { composeFile, condition, isReady, stackManifest, type StackFields } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

const execFileAsync = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const WAIT_MS = 90_000;
/** Quick gates: a second of health proves a revision; a broken one fails long before the deadline. */
const QUICK = { stableForSeconds: 1, progressDeadlineSeconds: 30 };

let root: string | undefined;
let v1: TestImage | undefined;
let v2: TestImage | undefined;
let sick: TestImage | undefined;
let engineReady = false;
/** Set before a test restarts the engine, so the after hook makes sure it runs again. */
let engineTouched = false;
/** Compose projects of the running test, removed after it. */
const projects = new Set<string>();

before(async () => {
  await requireEngine();
  engineReady = true;
  root = await mkdtemp(join(tmpdir(), 'berth-crash-'));
  const name = uniqueName('crash');
  v1 = await buildTestImage({ name, variant: '1.0.0', health: 'healthy' });
  v2 = await buildTestImage({ name, variant: '2.0.0', health: 'healthy' });
  sick = await buildTestImage({ name, variant: '2.0.0-sick', health: 'unhealthy' });
});

afterEach(async () => {
  await killAllBerthProcesses();
  if (engineTouched) await startEngine();
  for (const p of projects) await removeProject(p);
  projects.clear();
});

after(async () => {
  await killAllBerthProcesses();
  if (engineReady) {
    // A restart test that failed half-way must not leave the machine without an engine.
    if (engineTouched) await startEngine();
    for (const p of projects) await removeProject(p);
    await removeTestImages([v1, v2, sick].filter((i): i is TestImage => i !== undefined));
  }
  if (root !== undefined && process.env['BERTH_KEEP_TEST_DIRS'] === undefined) await rm(root, { recursive: true, force: true });
});

function image(i: TestImage | undefined): TestImage {
  assert.ok(i, 'the before hook did not build the test images');
  return i;
}

/**
 * The test image's shell ignores SIGUSR1 (it is PID 1 and traps only TERM and INT), so
 * replacing its container takes the whole grace period: compose up runs for seconds, long
 * enough for a crash to find it running.
 */
function slowStopCompose(): string {
  return stringify({ services: { web: { image: 'placeholder', init: false, stop_signal: 'SIGUSR1', stop_grace_period: '3s' } } });
}

type Fields = Omit<StackFields, 'name'>;
const at1: Fields = { version: '1.0.0', health: QUICK };
const good2 = (): Fields => ({ version: '2.0.0', images: { web: image(v2).pinned }, health: QUICK });
const sick2 = (): Fields => ({ version: '2.0.0', images: { web: image(sick).pinned }, health: QUICK });

/** One stack in its own manifests and state folders, and the berth processes run on them. */
class Scenario {
  readonly store: StateStore;
  readonly manifests: string;
  private runs = 0;

  private constructor(
    readonly name: string,
    readonly dir: string,
  ) {
    this.store = new StateStore(join(dir, 'state'));
    this.manifests = join(dir, 'manifests');
  }

  static async create(label: string): Promise<Scenario> {
    assert.ok(root, 'the before hook did not create the temp folder');
    const name = uniqueName(label);
    projects.add(name);
    const s = new Scenario(name, join(root, name));
    await mkdir(join(s.manifests, name), { recursive: true });
    return s;
  }

  /** Writes the manifest (write-then-rename) and, when given, the compose file. */
  async write(f: Fields, compose?: string): Promise<void> {
    if (compose !== undefined) await writeFile(join(this.manifests, this.name, 'compose.yaml'), compose);
    const path = join(this.manifests, `${this.name}.yaml`);
    await writeFile(`${path}.tmp~`, stackManifest({ name: this.name, ...f }));
    await rename(`${path}.tmp~`, path);
  }

  /** Starts `berth run` on this scenario's folders; each run logs to its own file. */
  start(failpoints?: string[]): BerthProcess {
    this.runs++;
    return BerthProcess.start({
      manifests: this.manifests,
      state: this.store.root,
      logFile: join(this.dir, `berth-${this.runs}.log`),
      ...(failpoints !== undefined ? { failpoints } : {}),
    });
  }

  status(): Promise<StackStatus | undefined> {
    return this.store.readStatus({ stack: this.name });
  }

  /**
   * Polls the status file until `pred` holds. Fails with the last status and the log tail of
   * `berth` when it times out, or at once when `berth` exits meanwhile.
   */
  async waitFor(berth: BerthProcess, what: string, pred: (s: StackStatus) => boolean, timeoutMs = WAIT_MS, pollMs = 100): Promise<StackStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: StackStatus | undefined;
    for (;;) {
      const exit = berth.exit;
      last = await this.status();
      if (last !== undefined && pred(last)) return last;
      const why = exit !== undefined ? `berth (pid ${berth.pid}) ${describeExit(exit)}` : Date.now() >= deadline ? `${timeoutMs} ms passed` : undefined;
      if (why !== undefined) {
        assert.fail(`${this.name}: waiting for ${what}: ${why}\nlast status:\n${stringify(last)}\nberth log tail (${berth.logFile}):\n${await berth.logTail()}`);
      }
      await sleep(pollMs);
    }
  }

  /** Berth #1: brings the stack up at 1.0.0 and stops gracefully once revision 1 is proven. */
  async deployV1(compose: string): Promise<void> {
    await this.write({ ...at1, images: { web: image(v1).pinned } }, compose);
    const berth = this.start();
    await berth.started();
    await this.waitFor(berth, 'Ready at 1.0.0 with revision 1 last-good', (s) => isReady('1.0.0')(s) && s.status.lastGoodRevision === 1 && s.status.operation === undefined);
    await berth.stop();
  }

  /**
   * Writes `next`, starts berth #2 with `failpoint` armed, and waits until it dies there;
   * returns the journal it left behind.
   */
  async crashAt(failpoint: string, next: Fields): Promise<{ crashed: BerthProcess; journal: StackStatus }> {
    await this.write(next);
    const crashed = this.start([failpoint]);
    const exit = await exitWithin(crashed, WAIT_MS, `reaching failpoint ${failpoint}`);
    assert.equal(exit.signal, 'SIGKILL', `berth ${describeExit(exit)}, expected it to kill itself at ${failpoint}; log tail:\n${await crashed.logTail()}`);
    assert.ok((await crashed.log()).includes(`failpoint ${failpoint} reached`), `berth was SIGKILLed but did not log reaching ${failpoint}; log tail:\n${await crashed.logTail()}`);
    const journal = await this.status();
    assert.ok(journal, 'berth died without having written a status');
    return { crashed, journal };
  }

  /** Berth #3: starts on what the dead berth left, takes over its lock and runs until the stack settles at 2.0.0's outcome. */
  async recover(hold?: (berth: BerthProcess) => Promise<void>): Promise<StackStatus> {
    const berth = this.start();
    await berth.started();
    await hold?.(berth);
    const end = await this.waitFor(berth, 'the update to 2.0.0 to settle', settled('2.0.0'));
    assert.match(await berth.log(), /took over the state lock of a berth that is no longer running/, 'berth #3 did not take over the lock the SIGKILLed berth left');
    await berth.stop();
    return end;
  }

  /** Every container of the web service, in any state. */
  async webContainers(): Promise<Array<{ id: string; state: string; health: string; digests: string[] }>> {
    const list = await docker().listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${this.name}`, 'com.docker.compose.service=web'] },
    });
    return Promise.all(
      list.map(async (c) => {
        const info = await docker().getContainer(c.Id).inspect();
        const img = await docker().getImage(c.ImageID).inspect();
        return {
          id: c.Id,
          state: info.State.Status,
          health: info.State.Health?.Status ?? 'none',
          digests: (img.RepoDigests ?? []).map((d) => d.slice(d.indexOf('@') + 1)),
        };
      }),
    );
  }
}

function describeExit(s: ExitStatus): string {
  return s.signal !== null ? `was killed by ${s.signal}` : `exited with code ${String(s.code)}`;
}

async function exitWithin(berth: BerthProcess, ms: number, what: string): Promise<ExitStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const outcome = await Promise.race([berth.exited, timeout]).finally(() => clearTimeout(timer));
  if (outcome === 'timeout') assert.fail(`berth (pid ${berth.pid}) was still running ${ms} ms later, expected it to die ${what}; log tail:\n${await berth.logTail()}`);
  return outcome;
}

/** The operation for `version` is over, one way or the other: no operation in flight, and a verdict. */
const settled = (version: string) => (s: StackStatus) =>
  s.status.targetVersion === version &&
  s.status.operation === undefined &&
  condition(s, 'Progressing')?.status === 'False' &&
  (condition(s, 'Ready')?.status === 'True' || condition(s, 'Degraded')?.status === 'True');

const historyOf = (s: StackStatus) => (s.status.history ?? []).map((e) => `${e.operation} ${e.revision} ${e.outcome}`);

/** The good update went through once: 2.0.0 runs in one healthy container, proven, recorded once. */
async function assertUpdated(s: Scenario, end: StackStatus): Promise<void> {
  const show = `\nstatus:\n${stringify(end)}`;
  assert.equal(condition(end, 'Ready')?.status, 'True', `not Ready${show}`);
  assert.equal(end.status.currentVersion, '2.0.0', show);
  assert.equal(end.status.revision, 2, show);
  assert.equal(end.status.lastGoodRevision, 2, show);
  assert.equal(end.status.quarantine, undefined, show);
  assert.deepEqual(historyOf(end), ['update 2 Healthy', 'update 1 Healthy'], 'one history entry per operation, each settled');
  assert.deepEqual(await s.store.revisionNumbers(s.name), [1, 2], 'revisions on disk');
  const web = await s.webContainers();
  assert.equal(web.length, 1, `one web container, not ${web.length}: ${JSON.stringify(web)}`);
  assert.ok(web[0]!.digests.includes(image(v2).digest), `the web container runs ${JSON.stringify(web[0]!.digests)}, not 2.0.0's digest`);
  assert.deepEqual([web[0]!.state, web[0]!.health], ['running', 'healthy']);
}

/** The bad update was undone once: 1.0.0 runs again, healthy, and 2.0.0 is quarantined. */
async function assertRolledBack(s: Scenario, end: StackStatus): Promise<void> {
  const show = `\nstatus:\n${stringify(end)}`;
  assert.equal(condition(end, 'Degraded')?.status, 'True', show);
  assert.equal(condition(end, 'Degraded')?.reason, 'RolledBack', show);
  assert.equal(condition(end, 'Ready')?.status, 'False', show);
  assert.equal(end.status.currentVersion, '1.0.0', show);
  assert.equal(end.status.revision, 1, show);
  assert.equal(end.status.lastGoodRevision, 1, show);
  assert.equal(end.status.quarantine?.version, '2.0.0', show);
  assert.equal(end.status.quarantine?.revision, 2, show);
  assert.equal(end.status.quarantine?.reason, 'Unhealthy', show);
  assert.deepEqual(historyOf(end), ['rollback 1 Healthy', 'update 2 RolledBack', 'update 1 Healthy'], 'one history entry per operation, each settled');
  assert.deepEqual(await s.store.revisionNumbers(s.name), [1, 2], 'revisions on disk');
  const web = await s.webContainers();
  assert.equal(web.length, 1, `one web container, not ${web.length}: ${JSON.stringify(web)}`);
  assert.ok(web[0]!.digests.includes(image(v1).digest), `the web container runs ${JSON.stringify(web[0]!.digests)}, not 1.0.0's digest`);
  assert.deepEqual([web[0]!.state, web[0]!.health], ['running', 'healthy']);
}

/**
 * The dead berth's compose child is still running: freeze it (and whatever it spawns) so it
 * cannot finish, start berth #3, and show that berth #3 waits for it instead of running a
 * compose of its own beside it; then let it go on. Returns the hold for Scenario.recover.
 */
async function freezeLeftCompose(crashed: BerthProcess, composePid: number): Promise<{ hold: (berth: BerthProcess) => Promise<void> }> {
  const frozen = new Set<number>();
  // The docker CLI may fork its compose plugin after a scan: scan until nothing new appears.
  for (;;) {
    const left = (await crashed.leftovers()).filter((p) => !frozen.has(p));
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGSTOP');
      } catch (err) {
        // A short-lived child (the docker CLI's own helpers) can exit between the scan and
        // the signal; it cannot be the journaled compose, which the assertion below checks.
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue;
        throw err;
      }
      frozen.add(pid);
    }
  }
  assert.ok(frozen.has(composePid), `the compose process berth journaled (pid ${composePid}) no longer runs, so nothing shows berth #3 waits for it; processes berth #2 left: ${JSON.stringify([...frozen])}`);
  return {
    hold: async (berth) => {
      const line = await berth.waitForLog(/"msg":"waiting for a compose process of this project that berth did not start in this run"/);
      const { pids } = JSON.parse(line) as { pids: number[] };
      assert.ok(pids.includes(composePid), `berth #3 waits for ${JSON.stringify(pids)}, not for the journaled compose ${composePid}`);
      // While the old compose cannot finish, berth #3 must not have started one of its own.
      assert.deepEqual(await berth.leftovers(), [], 'berth #3 runs a compose process beside the one berth #2 left');
      assert.ok(await isAlive(composePid));
      for (const pid of frozen) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    },
  };
}

describe('berth SIGKILLed in the middle of a good update: a restarted berth finishes it, once', () => {
  test('killed after the pull: the update starts over under the same revision number and goes through', async () => {
    const s = await Scenario.create('c-pull');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    const { journal } = await s.crashAt('update:after-pull', good2());
    assert.deepEqual([journal.status.operation?.kind, journal.status.operation?.step, journal.status.operation?.revision], ['update', 'pull', 2]);
    assert.deepEqual(await s.store.revisionNumbers(s.name), [1], 'revision 2 is written only after the pull');
    await assertUpdated(s, await s.recover());
  });

  test('killed after the revision is written: the written revision is applied, no duplicate is written', async () => {
    const s = await Scenario.create('c-write');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    const { journal } = await s.crashAt('update:after-write-revision', good2());
    assert.deepEqual([journal.status.operation?.kind, journal.status.operation?.step, journal.status.operation?.revision], ['update', 'writeRevision', 2]);
    assert.deepEqual(await s.store.revisionNumbers(s.name), [1, 2]);
    await assertUpdated(s, await s.recover());
  });

  test('killed while compose up runs: the restarted berth waits for that compose before running its own, then finishes', async () => {
    const s = await Scenario.create('c-up');
    await s.deployV1(slowStopCompose());
    const { crashed, journal } = await s.crashAt('update:during-compose-up', good2());
    const op = journal.status.operation;
    assert.deepEqual([op?.kind, op?.step, op?.revision], ['update', 'composeUp', 2]);
    assert.ok(op?.composePid !== undefined, `the journal names no compose pid:\n${stringify(journal)}`);
    const { hold } = await freezeLeftCompose(crashed, op.composePid);
    await assertUpdated(s, await s.recover(hold));
  });

  test('killed after compose up: the applied revision is verified and recorded once', async () => {
    const s = await Scenario.create('c-upped');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    const { journal } = await s.crashAt('update:after-compose-up', good2());
    assert.deepEqual([journal.status.operation?.kind, journal.status.operation?.step, journal.status.revision], ['update', 'verify', 2]);
    await assertUpdated(s, await s.recover());
  });

  test('killed during verification: the restarted berth goes on verifying and records the revision as last-good', async () => {
    const s = await Scenario.create('c-verify');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    await s.write(good2());
    const berth = s.start();
    await berth.started();
    const journal = await s.waitFor(berth, 'revision 2 under verification', (st) => st.status.operation?.step === 'verify' && st.status.operation.revision === 2, WAIT_MS, 20);
    const exit = await berth.kill();
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(journal.status.revision, 2);
    await assertUpdated(s, await s.recover());
  });
});

describe('berth SIGKILLed while its first revision adopts an install a person started by hand', () => {
  /** Each container of the project as `service id startedAt`. */
  async function snapshot(project: string): Promise<string[]> {
    const cs = await docker().listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
    const rows = await Promise.all(cs.map(async (c) => `${c.Labels['com.docker.compose.service']} ${c.Id} ${(await docker().getContainer(c.Id).inspect()).State.StartedAt}`));
    return rows.sort();
  }

  test('killed while compose up runs: the restarted berth finishes revision 1, and the service it does not change is still the container the person started', async () => {
    const s = await Scenario.create('c-adopt');
    // The vendor's install as its docs say to start it; the Stack then moves web to 2.0.0 and leaves side alone.
    await writeFile(
      join(s.manifests, s.name, 'compose.yaml'),
      stringify({
        name: s.name,
        services: {
          web: { image: image(v1).ref, init: false, stop_signal: 'SIGUSR1', stop_grace_period: '3s' },
          side: { image: image(v1).ref, init: false },
        },
      }),
    );
    await execFileAsync('docker', ['compose', 'up', '-d'], { cwd: join(s.manifests, s.name), timeout: 120_000 });
    const byHand = await snapshot(s.name);
    const side = byHand.find((r) => r.startsWith('side '));
    assert.ok(side !== undefined && byHand.length === 2, `the hand-run install is not up: ${JSON.stringify(byHand)}`);

    const { journal } = await s.crashAt('update:during-compose-up', good2());
    const op = journal.status.operation;
    assert.deepEqual([op?.kind, op?.step, op?.revision], ['update', 'composeUp', 1], `journal:\n${stringify(journal)}`);

    const end = await s.recover();
    const show = `\nstatus:\n${stringify(end)}`;
    assert.equal(condition(end, 'Ready')?.status, 'True', `not Ready${show}`);
    assert.deepEqual([end.status.currentVersion, end.status.revision, end.status.lastGoodRevision], ['2.0.0', 1, 1], show);
    assert.deepEqual(historyOf(end), ['update 1 Healthy'], 'one history entry, settled');
    assert.deepEqual(await s.store.revisionNumbers(s.name), [1], 'revisions on disk');
    const web = await s.webContainers();
    assert.equal(web.length, 1, `one web container, not ${web.length}: ${JSON.stringify(web)}`);
    assert.ok(web[0]!.digests.includes(image(v2).digest), `web runs ${JSON.stringify(web[0]!.digests)}, not 2.0.0's digest`);
    const after = await snapshot(s.name);
    assert.ok(after.includes(side), `side was recreated or restarted across the crash: before ${side}, after ${JSON.stringify(after)}`);
    // The recovered revision still adopts side: compose's own hash is on record for it.
    const record = await s.store.readRevision(s.name, 1);
    assert.match(record?.services.find((x) => x.name === 'side')?.configHash ?? '', /^[0-9a-f]{64}$/, 'side is known by compose\'s config hash');
  });
});

describe('berth SIGKILLed while it rolls back a bad update: a restarted berth finishes the rollback', () => {
  test('killed after the rollback pulled last-good: the rollback goes on and 1.0.0 runs again', async () => {
    const s = await Scenario.create('r-pull');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    const { journal } = await s.crashAt('rollback:after-pull', sick2());
    assert.deepEqual([journal.status.operation?.kind, journal.status.operation?.step, journal.status.operation?.revision], ['rollback', 'pull', 1]);
    await assertRolledBack(s, await s.recover());
  });

  test("killed while the rollback's compose up runs: the restarted berth waits for that compose, then finishes the rollback", async () => {
    const s = await Scenario.create('r-up');
    await s.deployV1(slowStopCompose());
    const { crashed, journal } = await s.crashAt('rollback:during-compose-up', sick2());
    const op = journal.status.operation;
    assert.deepEqual([op?.kind, op?.step, op?.revision], ['rollback', 'composeUp', 1]);
    assert.ok(op?.composePid !== undefined, `the journal names no compose pid:\n${stringify(journal)}`);
    const { hold } = await freezeLeftCompose(crashed, op.composePid);
    await assertRolledBack(s, await s.recover(hold));
  });

  test("killed after the rollback's compose up: last-good is verified again and the rollback recorded once", async () => {
    const s = await Scenario.create('r-upped');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    const { journal } = await s.crashAt('rollback:after-compose-up', sick2());
    assert.deepEqual([journal.status.operation?.kind, journal.status.operation?.step, journal.status.revision], ['rollback', 'verify', 1]);
    await assertRolledBack(s, await s.recover());
  });

  test('killed from outside while the rollback is verified: the restarted berth verifies last-good again and finishes the rollback', async () => {
    const s = await Scenario.create('r-verify');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    await s.write(sick2());
    const berth = s.start();
    await berth.started();
    const rollbackVerifying = (st: StackStatus) => st.status.operation?.kind === 'rollback' && st.status.operation.step === 'verify';
    const journal = await s.waitFor(berth, 'the rollback to revision 1 under verification', rollbackVerifying, WAIT_MS, 20);
    const exit = await berth.kill();
    assert.equal(exit.signal, 'SIGKILL');
    assert.deepEqual([journal.status.operation?.revision, journal.status.revision], [1, 1]);
    await assertRolledBack(s, await s.recover());
  });
});

describe('a berth that keeps restarting while an update is verified', () => {
  test('keeps restarting: verification resumes with the journalled deadline, compose up is not run again, and the rollback comes at that deadline', async () => {
    const s = await Scenario.create('k-verify');
    await s.deployV1(composeFile({ web: 'placeholder' }));
    // Healthy, but never for long enough: the gate can only fail, and only at the deadline.
    await s.write({ version: '2.0.0', images: { web: image(v2).pinned }, health: { stableForSeconds: 600, progressDeadlineSeconds: 25 } });
    let berth = s.start();
    await berth.started();
    const verifying = await s.waitFor(berth, 'revision 2 under verification', (st) => st.status.operation?.step === 'verify' && st.status.operation.revision === 2, WAIT_MS, 20);
    const deadline = verifying.status.operation?.verifyDeadline;
    assert.ok(deadline !== undefined, `no deadline journalled:\n${stringify(verifying)}`);
    const logs: BerthProcess[] = [berth];
    for (let i = 0; i < 3; i++) {
      assert.equal((await berth.kill()).signal, 'SIGKILL');
      berth = s.start();
      logs.push(berth);
      await berth.started();
      // Verifying again (after a compose up of its own, if it ran one).
      await berth.waitForLog(/"reason":"Verifying"/);
      const journal = await s.status();
      assert.equal(journal?.status.operation?.verifyDeadline, deadline, `berth #${i + 3} moved the deadline:\n${stringify(journal)}`);
    }
    const end = await s.waitFor(berth, 'the update to 2.0.0 to settle', settled('2.0.0'));
    const show = `\nstatus:\n${stringify(end)}`;
    assert.equal(condition(end, 'Degraded')?.reason, 'RolledBack', show);
    assert.deepEqual([end.status.revision, end.status.lastGoodRevision, end.status.currentVersion], [1, 1, '1.0.0'], show);
    assert.deepEqual(historyOf(end), ['rollback 1 Healthy', 'update 2 RolledBack', 'update 1 Healthy'], 'one history entry per operation, each settled');
    assert.equal(end.status.quarantine?.reason, 'ProgressDeadlineExceeded', show);
    assert.match(end.status.quarantine?.message ?? '', new RegExp(`needed by ${deadline.replace(/[.]/g, '\\.')}`));
    let ups = 0;
    for (const b of logs) {
      ups += (await b.log()).split('\n').filter((l) => l.includes('"msg":"compose up finished"') && (JSON.parse(l) as { revision?: number }).revision === 2).length;
    }
    assert.equal(ups, 1, 'compose up of revision 2 ran again after a berth restart');
    await berth.stop();
  });
});

describe('the Docker engine restarts in the middle of an update', () => {
  /** Berth running, 1.0.0 up; 2.0.0 written with a gate long enough to restart the engine inside it. */
  async function updateUnderVerification(s: Scenario): Promise<BerthProcess> {
    await s.write({ ...at1, images: { web: image(v1).pinned } }, composeFile({ web: 'placeholder' }));
    const berth = s.start();
    await berth.started();
    await s.waitFor(berth, 'Ready at 1.0.0', (st) => isReady('1.0.0')(st) && st.status.operation === undefined);
    await s.write({ version: '2.0.0', images: { web: image(v2).pinned }, health: { stableForSeconds: 8, progressDeadlineSeconds: 40 } });
    await s.waitFor(berth, 'revision 2 under verification', (st) => st.status.operation?.step === 'verify' && st.status.operation.revision === 2, WAIT_MS, 50);
    return berth;
  }

  /** compose up runs berth logged for `revision`, in order. */
  async function composeUps(berth: BerthProcess, revision: number): Promise<number> {
    const lines = (await berth.log()).split('\n').filter((l) => l.includes('"msg":"compose up finished"'));
    return lines.filter((l) => (JSON.parse(l) as { revision?: number }).revision === revision).length;
  }

  test('with berth running: berth survives the outage, applies the revision again and proves it', async () => {
    const s = await Scenario.create('e-live');
    const berth = await updateUnderVerification(s);
    engineTouched = true;
    await restartEngine();
    const end = await s.waitFor(berth, 'the update to 2.0.0 to settle after the engine restart', settled('2.0.0'));
    await assertUpdated(s, end);
    // The engine stopped the container (no restart policy): only a second compose up could start it.
    assert.ok((await composeUps(berth, 2)) >= 2, `berth did not run compose up for revision 2 again after the engine restart; log tail:\n${await berth.logTail()}`);
    await berth.stop();
  });

  test('with berth down: the restarted berth finds the revision stopped by the engine, applies it again and proves it', async () => {
    const s = await Scenario.create('e-down');
    const killed = await updateUnderVerification(s);
    await killed.kill();
    engineTouched = true;
    await restartEngine();
    const web = await s.webContainers();
    assert.deepEqual(web.map((c) => c.state), ['exited'], 'the engine restart left the web container stopped');
    const end = await s.recover();
    await assertUpdated(s, end);
  });
});
