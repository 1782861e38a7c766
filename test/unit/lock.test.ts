// The state folder lock: one berth per folder, and a lock left by a dead berth is taken over.
// Real files and real processes: the holders in these tests are node processes that take
// the lock through the compiled module, and are killed the way a crash would kill them.
// Liveness comes from /proc, so these tests need Linux, like berth's CI.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  acquireStateLock,
  parseStartTime,
  StateLockedError,
  type LockHolder,
  type StateLock,
} from '../../src/store/lock.js';

// This file runs as dist/test/unit/lock.test.js; the module children import is beside it.
const LOCK_MODULE = new URL('../../src/store/lock.js', import.meta.url).href;

let dir: string;
let root: string;
let lockFile: string;
const children: ChildProcess[] = [];
const locks: StateLock[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-lock-'));
  root = join(dir, 'state');
  lockFile = join(root, '.lock');
});

afterEach(async () => {
  for (const proc of children.splice(0)) await kill(proc);
  for (const lock of locks.splice(0)) await lock.release();
  await rm(dir, { recursive: true, force: true });
});

async function acquire(opts?: { command?: string }): Promise<StateLock> {
  const lock = await acquireStateLock(root, opts);
  locks.push(lock);
  return lock;
}

async function ownStartTime(): Promise<string> {
  const start = parseStartTime(await readFile('/proc/self/stat', 'utf8'));
  assert.ok(start !== undefined, 'these tests need Linux /proc');
  return start;
}

async function ownBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

async function writeLock(holder: LockHolder): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeFile(lockFile, `${JSON.stringify(holder)}\n`);
}

/** The name lock.ts gives claim k on the file now at .lock: its inode and content, hashed. */
async function claimPath(k: number): Promise<string> {
  const [st, text] = await Promise.all([stat(lockFile), readFile(lockFile, 'utf8')]);
  const id = createHash('sha256').update(`${st.ino}\n${text}`).digest('hex').slice(0, 16);
  return join(root, `.lock.takeover-${id}.${k}`);
}

interface Child {
  proc: ChildProcess;
  pid: number;
  /** The child's next line of stdout; fails with its stderr if it exits first. */
  line(): Promise<string>;
}

function start(script: string, args: string[] = []): Child {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script, LOCK_MODULE, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return {
    proc,
    pid: proc.pid!,
    async line() {
      const next = await lines.next();
      if (next.done === true) throw new Error(`child ${proc.pid} ended its output (exit ${proc.exitCode ?? proc.signalCode}): ${stderr}`);
      return next.value;
    },
  };
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  await exited;
}

// argv[1] is the module URL, argv[2] the state folder. Holds the lock until killed.
const HOLD = `
const { acquireStateLock } = await import(process.argv[1]);
await acquireStateLock(process.argv[2], { command: 'child holder' });
console.log('locked');
setInterval(() => {}, 1 << 30);
`;

// Waits for a line on stdin so that several children start their attempt together, then
// prints what happened as JSON; a winner keeps the lock until killed.
const RACE = `
const { acquireStateLock } = await import(process.argv[1]);
process.stdin.once('data', async () => {
  try {
    const lock = await acquireStateLock(process.argv[2]);
    console.log(JSON.stringify({ won: true, pid: process.pid, tookOverFrom: lock.tookOverFrom }));
    setInterval(() => {}, 1 << 30);
  } catch (err) {
    console.log(JSON.stringify({ won: false, pid: process.pid, name: err.name, holderPid: err.holder?.pid, path: err.path, message: err.message }));
    process.exit(0);
  }
});
console.log('ready');
`;

async function lockedBy(promise: Promise<unknown>): Promise<StateLockedError> {
  const err = await promise.then(
    () => assert.fail('the lock was granted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StateLockedError, `expected StateLockedError, got ${String(err)}`);
  return err;
}

describe('parseStartTime', () => {
  test('reads field 22 even when the command name holds spaces and parentheses', () => {
    const rest = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 19 20';
    assert.equal(parseStartTime(`77 (a) b (c) ${rest}`), '424242');
    assert.equal(parseStartTime(`77 (plain) ${rest}`), '424242');
    assert.equal(parseStartTime('77 (short) S 1 2'), undefined);
    assert.equal(parseStartTime('no parenthesis'), undefined);
  });
});

describe('acquireStateLock', () => {
  test('acquires into a new folder, writes who holds it, releases, and acquires again', async () => {
    const lock = await acquire({ command: 'berth run' });
    assert.equal(lock.path, lockFile);
    assert.equal(lock.tookOverFrom, undefined);
    assert.equal(lock.holder.pid, process.pid);
    assert.equal(lock.holder.host, hostname());
    assert.equal(lock.holder.procStart, await ownStartTime());
    assert.equal(lock.holder.bootId, await ownBootId());
    assert.equal(lock.holder.command, 'berth run');
    assert.deepEqual(JSON.parse(await readFile(lockFile, 'utf8')), lock.holder);
    assert.deepEqual(await readdir(root), ['.lock'], 'no temp file beside the lock');

    await lock.release();
    await lock.release(); // idempotent
    assert.deepEqual(await readdir(root), []);

    const again = await acquire();
    assert.equal(again.holder.pid, process.pid);
    assert.deepEqual(await readdir(root), ['.lock']);
  });

  test('a second acquire in the same process is refused, naming the pid, and leaves the lock alone', async () => {
    const lock = await acquire({ command: 'berth run' });
    const before = await readFile(lockFile, 'utf8');
    const err = await lockedBy(acquireStateLock(root));
    assert.equal(err.holder.pid, process.pid);
    assert.equal(err.path, lockFile);
    assert.match(err.message, new RegExp(`pid ${process.pid}\\b`));
    assert.equal(await readFile(lockFile, 'utf8'), before);
    assert.deepEqual(await readdir(root), ['.lock']);
    await lock.release();
  });

  test('a lock held by another live process is refused; after SIGKILL it is taken over', async () => {
    const child = start(HOLD, [root]);
    assert.equal(await child.line(), 'locked');
    const childPid = child.pid;

    const err = await lockedBy(acquireStateLock(root));
    assert.equal(err.holder.pid, childPid);
    assert.equal(err.holder.command, 'child holder');
    assert.equal(
      err.message,
      `state folder ${root} is in use by berth pid ${childPid} on host ${hostname()} since ${err.holder.started} (child holder); stop that process first. If it is not running, delete ${lockFile}`,
    );

    await kill(child.proc);

    const lock = await acquire();
    assert.equal(lock.tookOverFrom?.pid, childPid);
    assert.equal(lock.tookOverFrom?.command, 'child holder');
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, process.pid);
    assert.deepEqual(await readdir(root), ['.lock'], 'the stale lock is gone, not set aside');
  });

  test('a lock naming a live pid that belongs to another process (wrong procStart) is taken over', async () => {
    // A live process that holds no lock: its pid went to it after the holder died.
    const other = start(`console.log('up'); setInterval(() => {}, 1 << 30);`);
    assert.equal(await other.line(), 'up');
    const stale: LockHolder = { pid: other.pid, host: hostname(), bootId: await ownBootId(), procStart: '1', started: '2026-01-01T00:00:00.000Z' };
    await writeLock(stale);

    const lock = await acquire();
    assert.deepEqual(lock.tookOverFrom, stale);
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, process.pid);
    assert.equal(other.proc.exitCode, null, 'the process that reused the pid is left alone');
  });

  test('a lock naming our own pid from an earlier process (berth restarted as pid 1 in a container) is taken over', async () => {
    const stale: LockHolder = { pid: process.pid, host: hostname(), bootId: await ownBootId(), procStart: '1', started: '2026-01-01T00:00:00.000Z' };
    await writeLock(stale);
    const lock = await acquire();
    assert.deepEqual(lock.tookOverFrom, stale);
  });

  test('a lock from before a reboot (other bootId) is taken over even though its pid is alive', async () => {
    const stale: LockHolder = { pid: process.pid, host: hostname(), bootId: 'another-boot', procStart: await ownStartTime(), started: '2026-01-01T00:00:00.000Z' };
    await writeLock(stale);
    const lock = await acquire();
    assert.deepEqual(lock.tookOverFrom, stale);
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).bootId, await ownBootId());
  });

  test('a lock from another host is refused, with how to clear it by hand', async () => {
    const foreign: LockHolder = { pid: 4242, host: 'nas-host', started: '2026-01-01T00:00:00.000Z', command: 'berth run' };
    await writeLock(foreign);
    const before = await readFile(lockFile, 'utf8');
    const err = await lockedBy(acquireStateLock(root));
    assert.deepEqual(err.holder, foreign);
    assert.match(err.message, /berth pid 4242 on host nas-host since 2026-01-01T00:00:00.000Z \(berth run\)/);
    assert.ok(err.message.endsWith(`If it is not running, delete ${lockFile}`), err.message);
    assert.equal(await readFile(lockFile, 'utf8'), before);
  });

  test('an unreadable lock file is refused while young and taken over once old', async () => {
    await mkdir(root);
    await writeFile(lockFile, '');

    const err = await acquireStateLock(root).then(
      () => assert.fail('the lock was granted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error);
    assert.match(err.message, /is not a berth lock \(0 bytes\)/);
    assert.equal(await readFile(lockFile, 'utf8'), '', 'left untouched');

    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile, old, old);
    const lock = await acquire();
    assert.equal(lock.tookOverFrom, undefined, 'a garbage file names nobody');
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, process.pid);
    assert.deepEqual(await readdir(root), ['.lock']);
  });

  test('release never deletes a lock someone else holds now', async () => {
    const lock = await acquire();
    const theirs = `${JSON.stringify({ pid: process.pid, host: hostname(), procStart: '1', started: '2026-02-02T00:00:00.000Z' })}\n`;
    await writeFile(lockFile, theirs);
    await lock.release();
    assert.equal(await readFile(lockFile, 'utf8'), theirs);
  });

  test('a takeover abandoned by a dead process does not block the next one, and its claim is cleaned up', async () => {
    const stale: LockHolder = { pid: process.pid, host: hostname(), bootId: 'another-boot', started: '2026-01-01T00:00:00.000Z' };
    await writeLock(stale);
    const deadClaimer: LockHolder = { pid: process.pid, host: hostname(), bootId: 'another-boot', started: '2026-01-01T00:00:01.000Z' };
    await writeFile(await claimPath(1), JSON.stringify(deadClaimer));

    const lock = await acquire();
    assert.deepEqual(lock.tookOverFrom, stale);
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, process.pid);
    assert.deepEqual(await readdir(root), ['.lock']);
  });

  test('a stale lock that a live process is taking over right now is refused, naming that process', async () => {
    const other = start(`console.log('up'); setInterval(() => {}, 1 << 30);`);
    assert.equal(await other.line(), 'up');
    const stale: LockHolder = { pid: process.pid, host: hostname(), bootId: 'another-boot', started: '2026-01-01T00:00:00.000Z' };
    await writeLock(stale);
    const procStart = parseStartTime(await readFile(`/proc/${other.pid}/stat`, 'utf8'));
    const claimer: LockHolder = { pid: other.pid, host: hostname(), bootId: await ownBootId(), procStart, started: '2026-01-01T00:00:01.000Z' };
    const claim = await claimPath(1);
    await writeFile(claim, JSON.stringify(claimer));

    const err = await lockedBy(acquireStateLock(root));
    assert.deepEqual(err.holder, claimer);
    assert.equal(err.path, claim);
    assert.match(err.message, new RegExp(`being taken over from a dead holder by berth pid ${other.pid}\\b`));
    assert.deepEqual(JSON.parse(await readFile(lockFile, 'utf8')), stale, 'the stale lock is left to its claimer');
  });

  // Two is the case the brief names; with four, a third process can slip in between one
  // racer's look at the stale lock and its removal, which a rename-and-put-back takeover
  // does not survive (measured: two or three winners in a third of rounds with six racers).
  for (const count of [2, 4]) {
    test(`${count} processes racing to take over one stale lock: exactly one wins, the others are refused naming a live racer`, async () => {
      for (let round = 0; round < 5; round++) {
        const stale: LockHolder = { pid: process.pid, host: hostname(), bootId: 'another-boot', started: '2026-01-01T00:00:00.000Z' };
        await writeLock(stale);
        const racers = Array.from({ length: count }, () => start(RACE, [root]));
        for (const c of racers) assert.equal(await c.line(), 'ready');
        for (const c of racers) c.proc.stdin!.write('go\n');
        const outcomes = await Promise.all(racers.map(async (c) => JSON.parse(await c.line()) as Record<string, unknown>));

        const winners = outcomes.filter((o) => o.won === true);
        const losers = outcomes.filter((o) => o.won !== true);
        assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(outcomes)}`);
        const winner = winners[0]!;
        // The winner names the stale holder when it saw that lock itself; it may instead
        // have found .lock already removed by a loser and simply taken the free name.
        if (winner.tookOverFrom !== undefined) assert.deepEqual(winner.tookOverFrom, stale);
        const pids = outcomes.map((o) => o.pid);
        for (const loser of losers) {
          assert.equal(loser.name, 'StateLockedError', String(loser.message));
          if (loser.path === lockFile) {
            assert.equal(loser.holderPid, winner.pid, String(loser.message));
          } else {
            // Refused while another racer held the claim on the stale lock; that racer
            // may have lost the link to the winner right after.
            assert.match(String(loser.path), /\/\.lock\.takeover-[0-9a-f]{16}\.1$/);
            assert.ok(pids.includes(loser.holderPid) && loser.holderPid !== loser.pid, String(loser.message));
          }
        }
        assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, winner.pid);
        assert.deepEqual(await readdir(root), ['.lock'], 'no temp or claim file is left');

        for (const proc of children.splice(0)) await kill(proc);
      }
    });
  }
});
