// Fencing a compose run that outlived the berth that started it: real processes whose argv
// looks like compose, found through /proc, waited for or killed.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { composeProjectOf, fenceCompose, findComposeProcesses, type ComposeProcess } from '../../src/docker/fence.js';
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

const pids = (procs: ComposeProcess[]) => procs.map((p) => p.pid);

describe('composeProjectOf', () => {
  test('reads the project of every shape compose runs as, and of nothing else', () => {
    assert.equal(composeProjectOf(['docker', 'compose', '--ansi', 'never', '-p', 'a', 'up', '-d']), 'a');
    assert.equal(composeProjectOf(['/usr/libexec/docker/cli-plugins/docker-compose', 'compose', '-p', 'a', 'up']), 'a');
    assert.equal(composeProjectOf(['docker-compose', '--no-ansi', '--project-name', 'a', 'up']), 'a');
    assert.equal(composeProjectOf(['/usr/bin/python3', '/usr/bin/docker-compose', '--project-name=a', 'up']), 'a');
    assert.equal(composeProjectOf(['docker', 'compose', 'run', 'web']), undefined);
    assert.equal(composeProjectOf(['ssh', '-p', 'a', 'host']), undefined);
    // The global flag names the project; a later -p belongs to the subcommand.
    assert.equal(composeProjectOf(['docker', 'compose', '-p', 'a', 'run', '-p', '8080:80', 'web']), 'a');
  });
});

describe('findComposeProcesses', () => {
  test('finds a compose process named by -p', async () => {
    const proc = await start(FOREVER, ['compose', '-p', project, 'up']);
    const found = await findComposeProcesses(project);
    assert.deepEqual(pids(found), [proc.pid]);
    assert.deepEqual(found[0]?.argv.slice(-4), ['compose', '-p', project, 'up']);
  });

  test('finds one named by --project-name and one by --project-name=', async () => {
    const spaced = await start(FOREVER, ['compose', '--project-name', project, 'up']);
    const joined = await start(FOREVER, ['compose', `--project-name=${project}`, 'up']);
    assert.deepEqual(pids(await findComposeProcesses(project)), [spaced.pid, joined.pid].sort((a, b) => a - b));
  });

  test('does not find a compose process of another project', async () => {
    const mine = await start(FOREVER, ['compose', '-p', project, 'up']);
    await start(FOREVER, ['compose', '-p', other, 'up']);
    assert.deepEqual(pids(await findComposeProcesses(project)), [mine.pid]);
  });

  test('never finds the calling process, even when its own argv names compose and the project', async () => {
    const fence = new URL('../../src/docker/fence.js', import.meta.url).href;
    const script = `import { findComposeProcesses } from ${JSON.stringify(fence)};
      console.log(JSON.stringify({ self: process.pid, found: await findComposeProcesses(${JSON.stringify(project)}) }))`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', 'compose', '-p', project, 'up'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const [code] = await once(child, 'exit');
    children.delete(child);
    assert.equal(code, 0, `the probe process failed: ${out}`);
    const { self, found } = JSON.parse(out) as { self: number; found: ComposeProcess[] };
    assert.ok(self > 0);
    assert.deepEqual(found, []);
  });

  test('does not find a process that is not compose, even with -p and the project', async () => {
    const proc = await start(FOREVER, ['rsync', '-p', project]);
    assert.ok(readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').includes(project), 'the decoy must carry the project in its argv');
    assert.deepEqual(await findComposeProcesses(project), []);
  });
});

describe('fenceCompose', () => {
  test('returns at once, with nothing done, when no compose process of the project runs', async () => {
    const waits: ComposeProcess[][] = [];
    const result = await fenceCompose(project, { timeoutMs: 60_000, onWait: (p) => waits.push(p) });
    assert.deepEqual(result, { waitedFor: [], killed: [] });
    assert.deepEqual(waits, []);
  });

  test('waits for a compose process that ends by itself, and kills nothing', async () => {
    const proc = await start('setTimeout(() => {}, 500)', ['compose', '-p', project, 'up']);
    const waits: ComposeProcess[][] = [];
    const result = await fenceCompose(project, { timeoutMs: 60_000, pollMs: 50, onWait: (p) => waits.push(p) });
    assert.deepEqual(result, { waitedFor: [proc.pid], killed: [] });
    assert.deepEqual(waits.map(pids), [[proc.pid]]);
    // It ended on its own: exit code 0, not a signal.
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
    assertGone(proc.pid);
  });

  test('terminates a compose process that outlives the bound', async () => {
    const proc = await start(FOREVER, ['compose', '-p', project, 'up']);
    const result = await fenceCompose(project, { timeoutMs: 100, graceMs: 10_000, pollMs: 50 });
    assert.deepEqual(result, { waitedFor: [proc.pid], killed: [proc.pid] });
    assert.deepEqual(await proc.exited, { code: null, signal: 'SIGTERM' });
    assertGone(proc.pid);
  });

  test('kills with SIGKILL a compose process that ignores SIGTERM', async () => {
    const proc = await start(`process.on('SIGTERM', () => {}); ${FOREVER}`, ['compose', '-p', project, 'up']);
    const bystander = await start(FOREVER, ['compose', '-p', other, 'up']);
    const result = await fenceCompose(project, { timeoutMs: 100, graceMs: 200, pollMs: 50 });
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
