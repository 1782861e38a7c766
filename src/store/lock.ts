// One berth per state folder. Two operators converging the same stacks would fight over
// revisions and status files, so the second one refuses to start. The lock is a file,
// `<state>/.lock`, naming its holder; a holder that died (crash, SIGKILL, reboot, a
// container restarted as pid 1 again) cannot remove it, so a lock whose holder is
// provably gone is taken over instead of blocking berth forever.
//
// Node has no flock(2), and file systems have no compare-and-delete, so everything rests
// on link(2): it creates a name only if the name does not exist yet. Taking a free lock is
// one link. Removing a stale one is the dangerous step, since between "this lock is stale"
// and the removal another process may have replaced it with a live lock. So a stale lock is
// removed only by the one process that first links a claim file named after that very lock
// (see takeOver), after it has checked once more that the lock is still that one.
//
// A pid means something only inside its own pid namespace, and two containers with host
// networking share the hostname and the boot id while each runs berth as pid 1. So the lock
// is also a lease, as in Kubernetes' leader election: the holder records its pid namespace
// and lease duration and renews the lease by touching the lock's mtime every lease/3. A
// checker that shares the holder's pid namespace and boot judges it by its pid, as before;
// any other checker waits until the lease has gone unrenewed for a whole lease. A holder
// that finds its lock gone or naming someone else aborts `signal` and must stop acting.
import { link, mkdir, open, readFile, readlink, rm, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fsyncDir, PRIVATE } from '../util/atomic.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id: tells a pid from before a reboot from one after it. */
  bootId?: string;
  /** Field 22 of /proc/<pid>/stat: tells the holder from another process that got its pid. */
  procStart?: string;
  /** readlink /proc/self/ns/pid: a pid can be judged only by a checker in this namespace. */
  pidNs?: string;
  /** How long the lease lasts after each renewal (the lock's mtime). Absent in locks from before leases. */
  leaseMs?: number;
  /** ISO 8601 time the lock was taken. */
  started: string;
  command?: string;
}

export const DEFAULT_LEASE_MS = 30_000;
// Renewals every lease/3 must still be far apart enough not to be busy work.
const MIN_LEASE_MS = 300;

/** The lease duration: `BERTH_LOCK_LEASE_MS`, or 30 s. */
export function leaseFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['BERTH_LOCK_LEASE_MS'];
  if (raw === undefined || raw === '') return DEFAULT_LEASE_MS;
  const ms = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(ms) || ms < MIN_LEASE_MS) {
    throw new Error(`BERTH_LOCK_LEASE_MS must be a whole number of milliseconds, at least ${MIN_LEASE_MS}, not "${raw}"; unset it for the default of ${DEFAULT_LEASE_MS}`);
  }
  return ms;
}

export const LOCK_FILE = '.lock';

// An unreadable lock file this young may belong to a writer that is not done with it.
// link() makes a half-written lock impossible, but a lock someone copied in by hand, or a
// file system that lies, is not worth running two writers for.
const GARBAGE_GRACE_MS = 10_000;
// Every retry means another process changed the lock under us, and every further claim
// means a process died in the middle of a takeover; a few in a row means something keeps
// doing it, and guessing further would be worse than stopping.
const MAX_ATTEMPTS = 5;

export class StateLockedError extends Error {
  /** The file that names the holder: the lock, or a claim on a stale lock it is taking over. */
  readonly path: string;
  readonly holder: LockHolder;

  constructor(path: string, holder: LockHolder, message: string) {
    super(message);
    this.name = 'StateLockedError';
    this.path = path;
    this.holder = holder;
  }
}

export interface StateLock {
  /** The lock file. */
  readonly path: string;
  readonly holder: LockHolder;
  /** the dead holder whose lock was taken over, if any */
  readonly tookOverFrom?: LockHolder;
  /**
   * Aborted when this process lost the lock: the file was removed or names another holder
   * (someone took it over after our lease ran out unrenewed), or renewing kept failing
   * until the lease was about to run out. Its reason is an Error that says what to do.
   */
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return undefined;
    throw err;
  }
}

/** Field 22 (starttime, in clock ticks since boot) of a /proc/<pid>/stat text. */
export function parseStartTime(stat: string): string | undefined {
  // Field 2 is the command name in parentheses and may itself hold spaces and ')'.
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  // What follows starts at field 3, so field 22 is the 20th.
  const value = stat.slice(end + 1).trim().split(/\s+/)[19];
  return value !== undefined && /^[0-9]+$/.test(value) ? value : undefined;
}

async function startTimeOf(pid: number | 'self'): Promise<string | undefined> {
  const stat = await readOptional(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : parseStartTime(stat);
}

async function pidNamespace(): Promise<string | undefined> {
  try {
    return await readlink('/proc/self/ns/pid');
  } catch {
    // Without it every other holder is judged by its lease alone, which is the safe side.
    return undefined;
  }
}

async function bootId(): Promise<string | undefined> {
  const text = await readOptional('/proc/sys/kernel/random/boot_id');
  const id = text?.trim();
  return id === undefined || id === '' ? undefined : id;
}

function isOptionalString(v: unknown): boolean {
  return v === undefined || typeof v === 'string';
}

function parseHolder(text: string): LockHolder | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  // pid 0 and negative pids address process groups in kill(2); never probe those.
  if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid <= 0) return undefined;
  if (typeof o.host !== 'string' || o.host === '' || typeof o.started !== 'string') return undefined;
  if (!isOptionalString(o.bootId) || !isOptionalString(o.procStart) || !isOptionalString(o.command) || !isOptionalString(o.pidNs)) return undefined;
  if (o.leaseMs !== undefined && (typeof o.leaseMs !== 'number' || !Number.isSafeInteger(o.leaseMs) || o.leaseMs <= 0)) return undefined;
  const holder: LockHolder = { pid: o.pid, host: o.host, started: o.started };
  if (typeof o.bootId === 'string') holder.bootId = o.bootId;
  if (typeof o.procStart === 'string') holder.procStart = o.procStart;
  if (typeof o.pidNs === 'string') holder.pidNs = o.pidNs;
  if (typeof o.leaseMs === 'number') holder.leaseMs = o.leaseMs;
  if (typeof o.command === 'string') holder.command = o.command;
  return holder;
}

/** What sits at `.lock` right now. `ino` and `text` identify this very file later. */
type Found =
  | { kind: 'missing' }
  | { kind: 'holder'; holder: LockHolder; text: string; ino: number; mtimeMs: number }
  | { kind: 'garbage'; text: string; ino: number; mtimeMs: number };

async function inspect(path: string): Promise<Found> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  // Stat and read through one handle, so both describe the same file even if .lock is
  // replaced meanwhile.
  let ino: number;
  let mtimeMs: number;
  let text: string;
  try {
    ({ ino, mtimeMs } = await handle.stat());
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  const holder = parseHolder(text);
  return holder === undefined ? { kind: 'garbage', text, ino, mtimeMs } : { kind: 'holder', holder, text, ino, mtimeMs };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // EPERM: it exists, it just belongs to another user.
    if (code === 'EPERM') return true;
    throw err;
  }
}

type Verdict = { stale: true; why: string } | { stale: false; why: Refusal };

async function judge(holder: LockHolder, self: LockHolder, mtimeMs: number): Promise<Verdict> {
  if (holder.leaseMs !== undefined) {
    const samePidView =
      holder.pidNs !== undefined && holder.pidNs === self.pidNs && holder.bootId !== undefined && holder.bootId === self.bootId && holder.host === self.host;
    if (!samePidView) {
      if (holder.host === self.host && holder.bootId !== undefined && self.bootId !== undefined && holder.bootId !== self.bootId) {
        return { stale: true, why: 'the host rebooted since' };
      }
      // Its pid means nothing here (another container, another host): only a lease that
      // went unrenewed for a whole lease tells that it is gone.
      if (Date.now() - mtimeMs > holder.leaseMs) return { stale: true, why: 'its lease expired' };
      return { stale: false, why: 'leased' };
    }
  } else if (holder.host !== self.host) {
    // A lock from before leases, by a berth that never renews: nothing can tell it is gone.
    // On this host it is judged by pid as it always was (only during an upgrade).
    return { stale: false, why: 'foreign-host' };
  }
  if (holder.bootId !== undefined && self.bootId !== undefined && holder.bootId !== self.bootId) {
    return { stale: true, why: 'the host rebooted since' };
  }
  if (!pidExists(holder.pid)) return { stale: true, why: 'its pid is gone' };
  if (holder.procStart !== undefined) {
    const now = await startTimeOf(holder.pid);
    if (now !== undefined && now !== holder.procStart) return { stale: true, why: 'its pid now belongs to another process' };
    // No stat although kill() saw the pid: it exited in between, or /proc hides other
    // users' processes (hidepid). Only the first is proof of death.
    if (now === undefined && !pidExists(holder.pid)) return { stale: true, why: 'its pid is gone' };
  }
  if (holder.pid === self.pid && holder.procStart === self.procStart) return { stale: false, why: 'same-process' };
  return { stale: false, why: 'alive' };
}

type Refusal = 'foreign-host' | 'same-process' | 'alive' | 'leased';

/** `path` is the file that names the holder: the lock, or a claim on a stale lock. */
function lockedError(root: string, path: string, holder: LockHolder, why: Refusal, claim = false): StateLockedError {
  const what = claim ? `being taken over from a dead holder by` : `in use by`;
  const who = describeHolder(holder);
  switch (why) {
    case 'same-process':
      return new StateLockedError(
        path,
        holder,
        `state folder ${root} is already ${what} this process (${who}); a second writer in one process is refused too. Release the first lock before acquiring it again`,
      );
    case 'foreign-host':
      return new StateLockedError(
        path,
        holder,
        `state folder ${root} is ${what} ${who}; berth cannot tell from here whether a process on another host still runs, so stop it there first. If it is not running, delete ${path}`,
      );
    case 'alive':
      return new StateLockedError(path, holder, `state folder ${root} is ${what} ${who}; stop that process first. If it is not running, delete ${path}`);
    case 'leased':
      return new StateLockedError(
        path,
        holder,
        `state folder ${root} is ${what} ${who}, in another pid namespace (another container) or on another host, so its pid cannot be checked from here; it holds a lease of ${holder.leaseMs} ms that it renews while it runs. Stop that berth first; if it is gone, its lock is taken over once the lease has run out unrenewed, or delete ${path}`,
      );
  }
}

/** Writes our holder record to a temp file once, so every attempt can link it into place. */
async function writeTemp(root: string, text: string): Promise<string> {
  const tmp = join(root, `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', PRIVATE.file);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  return tmp;
}

async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

// The mtime too: a holder that renewed its lease since it was judged stale is alive after all.
function sameFile(a: Found, b: Exclude<Found, { kind: 'missing' }>): boolean {
  return a.kind !== 'missing' && a.ino === b.ino && a.text === b.text && a.mtimeMs === b.mtimeMs;
}

/**
 * Removes the lock `stale` if it is still at `.lock`; if it is not, another process took it
 * over first, and the caller's next look finds out what is there now. Throws
 * StateLockedError when a live process is taking it over right now.
 *
 * Why this is safe: the claim `.lock.takeover-<id>.<k>` names this one stale file (inode
 * and content), and link() lets one process create it. Claim k+1 is tried only when the
 * holder of claim k is provably dead, so at most one live process ever holds a claim on a
 * given stale file. Only that process deletes the file, and a file that is still there
 * cannot change under it: nobody else deletes it, and nobody can link over it.
 */
async function takeOver(
  root: string,
  path: string,
  stale: Exclude<Found, { kind: 'missing' }>,
  self: LockHolder,
  tmp: string,
): Promise<void> {
  const id = createHash('sha256').update(`${stale.ino}\n${stale.text}`).digest('hex').slice(0, 16);
  const claimOf = (k: number): string => join(root, `${LOCK_FILE}.takeover-${id}.${k}`);
  let k = 1;
  for (let tries = 0; ; tries++) {
    if (k > MAX_ATTEMPTS || tries > 2 * MAX_ATTEMPTS) {
      throw new Error(
        `could not take over the stale lock ${path}: ${k - 1} processes died while taking it over, or claims keep changing. Stop all berth processes on ${root}, delete ${path} and ${join(root, `${LOCK_FILE}.takeover-*`)}, and start one`,
      );
    }
    try {
      // Our temp file already holds our record, so the claim names us like a lock would.
      await link(tmp, claimOf(k));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const claim = await inspect(claimOf(k));
    if (claim.kind === 'missing') continue;
    if (claim.kind === 'garbage') {
      if (Date.now() - claim.mtimeMs < GARBAGE_GRACE_MS) {
        throw new Error(`${claimOf(k)} is not a berth claim and was written moments ago; if no berth is running on ${root}, delete it and start again`);
      }
    } else {
      // A claim is never renewed: its mtime tells when it was made, and a claimer that
      // holds it longer than a lease is as good as dead.
      const verdict = await judge(claim.holder, self, claim.mtimeMs);
      if (!verdict.stale) throw lockedError(root, claimOf(k), claim.holder, verdict.why, true);
    }
    k++;
  }
  try {
    if (sameFile(await inspect(path), stale)) await unlink(path);
  } finally {
    // Ours is done with, and those below it belong to the dead.
    for (let j = k; j >= 1; j--) await unlinkIfThere(claimOf(j));
  }
}

/**
 * Takes the lock on a state folder, creating the folder if needed. Throws StateLockedError
 * when a live berth holds it; takes it over when its holder is provably dead, or, for a
 * holder whose pid cannot be judged from here, when its lease went unrenewed for a whole
 * lease. `leaseMs` defaults to BERTH_LOCK_LEASE_MS, else 30 s.
 */
export async function acquireStateLock(root: string, opts: { command?: string; leaseMs?: number } = {}): Promise<StateLock> {
  const leaseMs = opts.leaseMs ?? leaseFromEnv();
  const dir = resolve(root);
  const path = join(dir, LOCK_FILE);
  await mkdir(dir, { recursive: true, mode: PRIVATE.dir });

  const self: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const [boot, start, ns] = await Promise.all([bootId(), startTimeOf('self'), pidNamespace()]);
  if (boot !== undefined) self.bootId = boot;
  if (start !== undefined) self.procStart = start;
  if (ns !== undefined) self.pidNs = ns;
  self.leaseMs = leaseMs;
  if (opts.command !== undefined) self.command = opts.command;

  const text = `${JSON.stringify(self)}\n`;
  const tmp = await writeTemp(dir, text);
  let tookOverFrom: LockHolder | undefined;
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        await link(tmp, path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          throw new Error(
            `cannot create the lock ${path}: ${(err as Error).message}; the state folder must be writable and on a file system with hard links`,
            { cause: err },
          );
        }
        const found = await inspect(path);
        if (found.kind === 'missing') continue;
        if (found.kind === 'garbage') {
          if (Date.now() - found.mtimeMs < GARBAGE_GRACE_MS) {
            throw new Error(
              `state folder ${dir} has a lock file ${path} that is not a berth lock (${found.text.length} bytes) and was written moments ago; if no berth is running on this folder, delete it and start again`,
            );
          }
          // Nobody to name in tookOverFrom: the file never said who wrote it.
          await takeOver(dir, path, found, self, tmp);
          continue;
        }
        const verdict = await judge(found.holder, self, found.mtimeMs);
        if (!verdict.stale) throw lockedError(dir, path, found.holder, verdict.why);
        // Whoever removed it in the end, it is this dead holder's lock that ours replaces if
        // the next link succeeds.
        await takeOver(dir, path, found, self, tmp);
        tookOverFrom = found.holder;
        continue;
      }
      await fsyncDir(dir);
      return makeLock(path, dir, self, text, tookOverFrom, leaseMs);
    }
  } finally {
    await rm(tmp, { force: true });
  }
  throw new Error(
    `could not lock ${path} after ${MAX_ATTEMPTS} attempts: other processes kept changing it. Check which berth processes use ${dir} and start again`,
  );
}

function describeHolder(holder: LockHolder): string {
  return `berth pid ${holder.pid} on host ${holder.host} since ${holder.started}${holder.command ? ` (${holder.command})` : ''}`;
}

function makeLock(path: string, dir: string, holder: LockHolder, text: string, tookOverFrom: LockHolder | undefined, leaseMs: number): StateLock {
  const controller = new AbortController();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let lastRenewed = performance.now();
  const advice = `Another berth may be acting on these stacks now, so this one stops. Run one berth per state folder (across containers and hosts), then start it again`;

  const lose = (message: string, cause?: unknown): void => {
    if (stopped || controller.signal.aborted) return;
    clearTimeout(timer);
    controller.abort(new Error(`berth lost the lock on state folder ${dir}: ${message}. ${advice}`, cause === undefined ? undefined : { cause }));
  };

  const renew = async (): Promise<void> => {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return lose(`its lock file ${path} is gone (removed by hand, or taken over after the lease of ${leaseMs} ms went unrenewed)`);
      throw err;
    }
    try {
      // Touch the very file that says it is ours, through one handle: had .lock been
      // replaced after the read, we would only touch the replaced file.
      const current = await handle.readFile('utf8');
      if (current !== text) {
        const other = parseHolder(current);
        return lose(`${path} now names ${other === undefined ? 'no berth' : describeHolder(other)} (taken over after the lease of ${leaseMs} ms went unrenewed, or rewritten by hand)`);
      }
      const now = new Date();
      await handle.utimes(now, now);
      lastRenewed = performance.now();
    } finally {
      await handle.close();
    }
  };

  const schedule = (): void => {
    timer = setTimeout(() => {
      renew()
        .catch((err: unknown) => {
          // A passing I/O error is retried at the next tick; giving up only before the lease
          // can run out leaves another berth no window in which both act.
          if (performance.now() - lastRenewed > (leaseMs * 2) / 3) lose(`renewing its lease on ${path} keeps failing: ${(err as Error).message}`, err);
        })
        .finally(() => {
          if (!stopped && !controller.signal.aborted) schedule();
        });
    }, leaseMs / 3);
    // The lease alone never keeps a process alive; whatever berth is doing does.
    timer.unref();
  };
  schedule();

  let released: Promise<void> | undefined;
  const release = async (): Promise<void> => {
    stopped = true;
    clearTimeout(timer);
    // Read, then unlink, is not atomic. That is safe: only a takeover removes another's lock,
    // and a takeover needs us dead or our lease expired (and then we stopped), so while we
    // run a .lock with our content is still ours.
    if ((await readOptional(path)) !== text) return;
    await unlinkIfThere(path);
    await fsyncDir(dir);
  };
  const lock: StateLock = {
    path,
    holder,
    signal: controller.signal,
    // One removal however often it is called; after a failure, a later call tries again.
    release: () =>
      (released ??= release().catch((err: unknown) => {
        released = undefined;
        throw err;
      })),
  };
  return tookOverFrom === undefined ? lock : { ...lock, tookOverFrom };
}
