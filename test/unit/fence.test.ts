// Fencing a compose run that outlived the berth that started it: real processes, named by
// the pid and start time berth journalled, found through /proc with what they spawned,
// waited for or killed; any other process, however much it looks like compose, left alone.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { composeTagEnv, fenceCompose, parseStat, startTimeOf, startedProcesses, type ComposeProcess, type StartedProcess } from '../../src/docker/fence.js';
import { ComposeCli, ComposeError } from '../../src/docker/compose.js';

// Per test-process names, so a concurrent run of this file elsewhere on the machine is not found.
const project = `fence-x-${process.pid}`;
const other = `fence-y-${process.pid}`;

const FOREVER = 'setTimeout(() => {}, 60_000)';
const children = new Set<ChildProcess>();

interface Running {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A real node process with `args` after `--` in its argv; resolves once `script` has run (it prints "ready"). */
async function start(script: string, args: string[]): Promise<Running> {
  const child = spawn(process.execPath, ['-e', `${script}; console.log('ready')`, '--', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  // Listen for the exit now: a child that dies before the test awaits it must not be missed.
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  assert.ok(child.pid !== undefined, `${process.execPath} did not start`);
  child.stdout!.setEncoding('utf8');
  const ready = await Promise.race([
    once(child.stdout!, 'data').then(([line]) => String(line).trim()),
    exited.then(({ code, signal }) => `exited early (code ${code}, signal ${signal})`),
  ]);
  assert.equal(ready, 'ready', `test process ${args.join(' ')} did not come up`);
  return { child, pid: child.pid, exited };
}

function assertGone(pid: number): void {
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} still exists after its exit was reaped`);
}

afterEach(async () => {
  // Whatever a failed test left running: killed and reaped, never left to linger as a zombie.
  await Promise.all(
    [...children].map(async (child) => {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      children.delete(child);
    }),
  );
});

/** Exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const pids = (procs: ComposeProcess[]) => procs.map((p) => p.pid);

/** What berth journals when it starts a compose process. */
function journalled(proc: Running): StartedProcess {
  const startTime = startTimeOf(proc.pid);
  assert.ok(startTime !== undefined, `no start time for running pid ${proc.pid}`);
  return { pid: proc.pid, startTime };
}

/** Spawns a child (which runs forever too, with the same args after `--`), then runs forever. */
const SPAWNS_CHILD = `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(FOREVER)}, '--', ...process.argv.slice(1)], { stdio: 'ignore' }); void c; ${FOREVER}`;

describe('parseStat', () => {
  test('reads the parent pid and start time, whatever the command name holds', () => {
    const rest = 'S 41 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10';
    assert.deepEqual(parseStat(`42 (node) ${rest}`), { ppid: 41, startTime: 987654 });
    assert.deepEqual(parseStat(`42 (a ) b (c) ${rest}`), { ppid: 41, startTime: 987654 });
    assert.equal(parseStat('garbage'), undefined);
  });

  test('startTimeOf is the start time of a running process, and nothing for one that is gone', async () => {
    const proc = await start(FOREVER, ['compose', '-p', project, 'up']);
    assert.equal(startTimeOf(proc.pid), parseStat(readFileSync(`/proc/${proc.pid}/stat`, 'utf8'))?.startTime);
    proc.child.kill('SIGKILL');
    await proc.exited;
    assert.equal(startTimeOf(proc.pid), undefined);
  });
});

describe('startedProcesses', () => {
  test('finds the journalled process and the child it spawned', async () => {
    const proc = await start(`${SPAWNS_CHILD}`, ['compose', '-p', project, 'up']);
    const found = await startedProcesses([journalled(proc)]);
    assert.equal(found.length, 2, `found ${JSON.stringify(found)}`);
    assert.ok(found.some((p) => p.pid === proc.pid));
    assert.deepEqual(found.find((p) => p.pid === proc.pid)?.argv.slice(-4), ['compose', '-p', project, 'up']);
  });

  test('does not take a process under the journalled pid that started at another time (a reused pid)', async () => {
    const proc = await start(FOREVER, ['compose', '-p', project, 'up']);
    const { pid, startTime } = journalled(proc);
    assert.deepEqual(await startedProcesses([{ pid, startTime: startTime - 1 }]), []);
  });

  test('finds what the journalled process spawned after it died: the docker CLI exits on the dead berth\'s broken pipe, its compose plugin runs on, orphaned', async () => {
    const tag = `test-instance/${project}`;
    // The parent spawns a detached child that inherits berth's tag, then exits: the child is
    // reparented away, so only the tag (not the parent pid) still names it as berth's.
    const parent = spawn(
      process.execPath,
      ['-e', `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(FOREVER)}], { stdio: 'ignore', detached: true }); console.log(c.pid); c.unref();`],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...composeTagEnv(tag) } },
    );
    const started: StartedProcess = { pid: parent.pid!, startTime: startTimeOf(parent.pid!)! };
    parent.stdout!.setEncoding('utf8');
    const [line] = (await once(parent.stdout!, 'data')) as [string];
    const orphan = Number(line.trim());
    await once(parent, 'exit');
    try {
      assert.ok(isRunning(orphan), 'the orphaned child should still run');
      assert.deepEqual(pids(await startedProcesses([started], tag)), [orphan], 'the orphan carrying the tag is berth\'s');
      assert.deepEqual(pids(await startedProcesses([started], `other-instance/${project}`)), [], 'another tag is not this berth\'s');
    } finally {
      process.kill(orphan, 'SIGKILL');
    }
  });

  test("never finds a person's compose of the same project that berth did not start", async () => {
    await start(FOREVER, ['docker', 'compose', '-p', project, 'logs', '-f']);
    const mine = await start(FOREVER, ['compose', '-p', project, 'up']);
    assert.deepEqual(pids(await startedProcesses([journalled(mine)])), [mine.pid]);
    assert.deepEqual(await startedProcesses([]), []);
  });
});

describe('fenceCompose', () => {
  test("returns at once, with nothing done, when berth journalled no compose, and leaves a person's compose session running", async () => {
    const person = await start(FOREVER, ['docker', 'compose', '-p', project, 'logs', '-f']);
    const waits: ComposeProcess[][] = [];
    const result = await fenceCompose(project, [], { timeoutMs: 100, graceMs: 100, pollMs: 20, onWait: (p) => waits.push(p) });
    assert.deepEqual(result, { waitedFor: [], killed: [] });
    assert.deepEqual(waits, []);
    process.kill(person.pid, 0);
  });

  test('waits for a journalled compose process that ends by itself, and kills nothing', async () => {
    const proc = await start('setTimeout(() => {}, 500)', ['compose', '-p', project, 'up']);
    const waits: ComposeProcess[][] = [];
    const result = await fenceCompose(project, [journalled(proc)], { timeoutMs: 60_000, pollMs: 50, onWait: (p) => waits.push(p) });
    assert.deepEqual(result, { waitedFor: [proc.pid], killed: [] });
    assert.deepEqual(waits.map(pids), [[proc.pid]]);
    // It ended on its own: exit code 0, not a signal.
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
    assertGone(proc.pid);
  });

  test("terminates a journalled compose process and its child once they outlive the bound, and only them", async () => {
    const proc = await start(SPAWNS_CHILD, ['compose', '-p', project, 'up']);
    const person = await start(FOREVER, ['docker', 'compose', '-p', project, 'logs', '-f']);
    const result = await fenceCompose(project, [journalled(proc)], { timeoutMs: 100, graceMs: 10_000, pollMs: 50 });
    assert.equal(result.killed.length, 2, `killed ${JSON.stringify(result)}`);
    assert.ok(result.killed.includes(proc.pid));
    assert.deepEqual(result.waitedFor, result.killed);
    assert.deepEqual(await proc.exited, { code: null, signal: 'SIGTERM' });
    assertGone(proc.pid);
    // The orphaned child may linger as a zombie where nothing reaps orphans (pid 1 in a container): dead all the same.
    for (const pid of result.killed) assert.ok(!isRunning(pid), `child ${pid} outlived the fence`);
    process.kill(person.pid, 0);
  });

  test('kills with SIGKILL a journalled compose process that ignores SIGTERM', async () => {
    const proc = await start(`process.on('SIGTERM', () => {}); ${FOREVER}`, ['compose', '-p', project, 'up']);
    const bystander = await start(FOREVER, ['compose', '-p', other, 'up']);
    const result = await fenceCompose(project, [journalled(proc)], { timeoutMs: 100, graceMs: 200, pollMs: 50 });
    assert.deepEqual(result, { waitedFor: [proc.pid], killed: [proc.pid] });
    assert.deepEqual(await proc.exited, { code: null, signal: 'SIGKILL' });
    assertGone(proc.pid);
    // Another project's compose is none of its business.
    process.kill(bystander.pid, 0);
  });
});

describe('ComposeCli.up onSpawn', () => {
  test('reports the pid of the compose child it runs before the run settles', async () => {
    let cli: ComposeCli;
    try {
      cli = await ComposeCli.detect();
    } catch (err) {
      assert.fail(`no compose CLI (${(err as Error).message}); run \`bash scripts/setup-engine.sh\` as root to install it`);
    }
    let spawned: number | undefined;
    let parentAtSpawn: number | undefined;
    const run = cli.up({
      project: `fence-onspawn-${process.pid}`,
      // A folder that does not exist: compose fails at once, touching nothing.
      projectDirectory: `/nonexistent/berth-fence-${process.pid}`,
      file: `/nonexistent/berth-fence-${process.pid}/compose.yaml`,
      timeoutMs: 60_000,
      onSpawn: (pid) => {
        spawned = pid;
        // The child is unreaped until this turn of the event loop ends, so even a compose that
        // already exited still has its /proc entry: its parent must be this process.
        parentAtSpawn = Number(/^PPid:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      },
    });
    // Called synchronously, before up() even returned its promise.
    assert.ok(spawned !== undefined && Number.isInteger(spawned) && spawned > 0, `onSpawn got ${spawned}`);
    assert.equal(parentAtSpawn, process.pid);
    await assert.rejects(run, ComposeError);
  });
});
