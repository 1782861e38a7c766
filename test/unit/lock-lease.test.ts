// The state lock across pid namespaces: a lease the holder keeps renewing. A berth in
// another container (another pid namespace, often pid 1 there too, same hostname with host
// networking) cannot be judged by its pid from here, so its lock is taken over only once it
// has stopped renewing for a whole lease. The holders are real processes, each in its own
// pid namespace (`unshare --pid`, so these tests run as root on Linux), killed with SIGKILL
// the way a crash or `docker kill` would.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireStateLock, leaseFromEnv, StateLockedError, type LockHolder, type StateLock } from '../../src/store/lock.js';

const LOCK_MODULE = new URL('../../src/store/lock.js', import.meta.url).href;
const LEASE_MS = 3_000;

let dir: string;
let root: string;
let lockFile: string;
const children: ChildProcess[] = [];
const locks: StateLock[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-lease-'));
  root = join(dir, 'state');
  lockFile = join(root, '.lock');
});

afterEach(async () => {
  for (const proc of children.splice(0)) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  }
  for (const lock of locks.splice(0)) await lock.release();
  await rm(dir, { recursive: true, force: true });
});

async function ownBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

interface Child {
  proc: ChildProcess;
  line(): Promise<string>;
}

/** node running `script` as pid 1 of a new pid namespace, like berth in a container. */
function startInPidNamespace(script: string, env: Record<string, string>): Child {
  const proc = spawn(
    'unshare',
    ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, '--input-type=module', '-e', script, LOCK_MODULE, root],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  children.push(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    proc,
    async line() {
      const next = await lines.next();
      if (next.done === true) throw new Error(`unshare ${proc.pid} ended its output (exit ${proc.exitCode ?? proc.signalCode}): ${stderr}`);
      return next.value;
    },
  };
}

/** SIGKILL for the node process inside the namespace (unshare's child), not just unshare. */
async function killInside(child: Child): Promise<void> {
  const pid = child.proc.pid!;
  const inner = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
  assert.equal(inner.length, 1, `unshare ${pid} has one child`);
  const exited = once(child.proc, 'exit');
  process.kill(inner[0]!, 'SIGKILL');
  await exited;
}

// Holds the lock until killed; prints its holder record.
const HOLD = `
const { acquireStateLock } = await import(process.argv[1]);
const lock = await acquireStateLock(process.argv[2], { command: 'holder in its own pid namespace' });
lock.signal?.addEventListener('abort', () => { console.log('lost'); });
console.log(JSON.stringify(lock.holder));
setInterval(() => {}, 1 << 30);
`;

// One attempt per line on stdin, each answered with a JSON line; a winner keeps the lock.
const TRY = `
const { acquireStateLock } = await import(process.argv[1]);
const { readlink } = await import('node:fs/promises');
let lock;
console.log(JSON.stringify({ pid: process.pid, pidNs: await readlink('/proc/self/ns/pid') }));
for await (const _ of (await import('node:readline')).createInterface({ input: process.stdin })) {
  if (lock !== undefined) { console.log(JSON.stringify({ won: true, holder: lock.holder, tookOverFrom: lock.tookOverFrom })); continue; }
  try {
    lock = await acquireStateLock(process.argv[2], { command: 'second berth' });
    console.log(JSON.stringify({ won: true, holder: lock.holder, tookOverFrom: lock.tookOverFrom }));
  } catch (err) {
    console.log(JSON.stringify({ won: false, name: err.name, holder: err.holder, message: err.message }));
  }
}
`;

/** Waits for the lock's signal; the renewal timer does not hold the process open, so this does. */
async function lost(lock: StateLock): Promise<Error> {
  const keepAlive = setInterval(() => {}, 1_000);
  try {
    if (!lock.signal.aborted) await once(lock.signal, 'abort');
    return lock.signal.reason as Error;
  } finally {
    clearInterval(keepAlive);
  }
}

async function mtimeMs(): Promise<number> {
  return (await stat(lockFile)).mtimeMs;
}

/** Waits until the lock file's mtime moves: the holder renewed its lease. */
async function nextRenewal(): Promise<void> {
  const before = await mtimeMs();
  for (let i = 0; i < 200; i++) {
    await sleep(50);
    if ((await mtimeMs()) !== before) return;
  }
  assert.fail(`the holder did not renew its lease (mtime of ${lockFile} unchanged for 10 s)`);
}

describe('state lock lease across pid namespaces', () => {
  test('a berth in another pid namespace (also pid 1) cannot take the lock while the holder renews; after SIGKILL it gets it once the lease ran out', async () => {
    const env = { BERTH_LOCK_LEASE_MS: String(LEASE_MS) };
    const first = startInPidNamespace(HOLD, env);
    const firstHolder = JSON.parse(await first.line()) as LockHolder;
    assert.equal(firstHolder.pid, 1, 'the holder is pid 1 in its namespace, as in a container');

    const second = startInPidNamespace(TRY, env);
    const me = JSON.parse(await second.line()) as { pid: number; pidNs: string };
    assert.equal(me.pid, 1, 'the second berth is pid 1 in its own namespace too');
    assert.notEqual(me.pidNs, firstHolder.pidNs);

    // Four renewals span more than one lease (one every lease/3): a holder that did not
    // renew would have expired by the last try.
    for (let i = 0; i <= 4; i++) {
      if (i > 0) await nextRenewal();
      second.proc.stdin!.write('try\n');
      const outcome = JSON.parse(await second.line()) as { won: boolean; name?: string; holder?: LockHolder; message?: string };
      assert.equal(outcome.won, false, `try ${i}: the second berth took the lock from a live holder: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.name, 'StateLockedError');
      assert.deepEqual(outcome.holder, firstHolder);
      assert.match(String(outcome.message), /another pid namespace/);
    }
    assert.deepEqual(JSON.parse(await readFile(lockFile, 'utf8')), firstHolder);
    assert.equal(firstHolder.leaseMs, LEASE_MS);
    assert.match(String(firstHolder.pidNs), /^pid:\[[0-9]+\]$/);

    await killInside(first);

    // Dead, but nothing in this namespace can tell: the second berth waits for the lease.
    let won: { won: boolean; holder?: LockHolder; tookOverFrom?: LockHolder } | undefined;
    for (let i = 0; i < 100 && won === undefined; i++) {
      second.proc.stdin!.write('try\n');
      const outcome = JSON.parse(await second.line()) as { won: boolean; holder?: LockHolder; tookOverFrom?: LockHolder };
      if (outcome.won) won = outcome;
      else await sleep(200);
    }
    assert.ok(won !== undefined, 'the second berth never got the lock of a dead holder');
    assert.deepEqual(won.tookOverFrom, firstHolder);
    assert.equal(won.holder?.pidNs, me.pidNs);
    assert.deepEqual(JSON.parse(await readFile(lockFile, 'utf8')), won.holder);
  });

  test('a lock from another pid namespace is refused while its lease runs, even when its pid is not alive here, and taken over once it expired', async () => {
    await mkdir(root, { recursive: true });
    const foreign: LockHolder = {
      pid: 2 ** 22 + 7, // above pid_max's default: no such process here
      host: hostname(),
      bootId: await ownBootId(),
      pidNs: 'pid:[1]',
      leaseMs: 60_000,
      started: '2026-01-01T00:00:00.000Z',
      command: 'berth run',
    };
    await writeFile(lockFile, `${JSON.stringify(foreign)}\n`);

    const err = await acquireStateLock(root).then(
      () => assert.fail('the lock was granted while its lease runs'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StateLockedError, String(err));
    assert.deepEqual(err.holder, foreign);
    assert.match(err.message, new RegExp(`state folder ${root} is in use by berth pid ${foreign.pid} on host ${hostname()}`));
    assert.match(err.message, /another pid namespace .*lease of 60000 ms/);

    const expired = new Date(Date.now() - 61_000);
    await utimes(lockFile, expired, expired);
    const lock = await acquireStateLock(root);
    locks.push(lock);
    assert.deepEqual(lock.tookOverFrom, foreign);
  });

  test('the holder records its pid namespace and lease, and renews by moving the mtime', async () => {
    const lock = await acquireStateLock(root, { leaseMs: 600 });
    locks.push(lock);
    assert.equal(lock.holder.pidNs, await readlink('/proc/self/ns/pid'));
    assert.equal(lock.holder.leaseMs, 600);
    const old = new Date(Date.now() - 3_600_000);
    await utimes(lockFile, old, old);
    await nextRenewal();
    assert.ok((await mtimeMs()) > old.getTime());
    assert.equal(lock.signal.aborted, false);
  });

  test('a holder whose lock file now names someone else aborts its signal, naming the folder and what to do', async () => {
    const lock = await acquireStateLock(root, { leaseMs: 600 });
    locks.push(lock);
    const theirs: LockHolder = { pid: 4242, host: 'other', pidNs: 'pid:[1]', leaseMs: 600, started: '2026-02-02T00:00:00.000Z' };
    await writeFile(lockFile, `${JSON.stringify(theirs)}\n`);
    const reason = await lost(lock);
    assert.match(reason.message, new RegExp(`lost the lock on state folder ${root}`));
    assert.match(reason.message, /berth pid 4242 on host other/);
    await lock.release();
    assert.deepEqual(JSON.parse(await readFile(lockFile, 'utf8')), theirs, 'release leaves the new holder alone');
  });

  test('a holder whose lock file was deleted aborts its signal', async () => {
    const lock = await acquireStateLock(root, { leaseMs: 600 });
    locks.push(lock);
    await rm(lockFile);
    assert.match((await lost(lock)).message, /lock file .* is gone/);
  });

  test('release stops the renewals and does not abort the signal', async () => {
    const lock = await acquireStateLock(root, { leaseMs: 600 });
    await lock.release();
    await sleep(700);
    assert.equal(lock.signal.aborted, false);
  });

  test('BERTH_LOCK_LEASE_MS below 300 ms, negative or fractional is refused; unset or empty is the 30 s default', () => {
    for (const raw of ['299', '-1000', '1500.5']) {
      assert.throws(() => leaseFromEnv({ BERTH_LOCK_LEASE_MS: raw }), new RegExp(`BERTH_LOCK_LEASE_MS.*"${raw.replace('.', '\\.')}"`), raw);
    }
    assert.equal(leaseFromEnv({ BERTH_LOCK_LEASE_MS: '300' }), 300);
    assert.equal(leaseFromEnv({}), 30_000);
    assert.equal(leaseFromEnv({ BERTH_LOCK_LEASE_MS: '' }), 30_000);
  });

  test('BERTH_LOCK_LEASE_MS that is not a whole number of at least 300 ms is refused, naming the variable', async () => {
    const saved = process.env['BERTH_LOCK_LEASE_MS'];
    process.env['BERTH_LOCK_LEASE_MS'] = '10s';
    try {
      await assert.rejects(acquireStateLock(root), /BERTH_LOCK_LEASE_MS.*"10s"/);
    } finally {
      if (saved === undefined) delete process.env['BERTH_LOCK_LEASE_MS'];
      else process.env['BERTH_LOCK_LEASE_MS'] = saved;
    }
  });
});
