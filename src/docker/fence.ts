// A berth that was SIGKILLed leaves its compose child running, reparented to init. A new
// berth on the same state must not run compose for that project until the old one is
// gone: it waits for it, and past a bound fences it (SIGTERM, then SIGKILL). Only what
// berth started is fenced: the compose process the journal names, by pid AND start time
// (a pid may have been reused since), the processes it spawned (the docker CLI runs the
// compose plugin as its child), and any process carrying berth's tag for the project in its
// environment. The tag matters because the docker CLI often dies with the berth that
// started it (its output pipe breaks) while its compose plugin runs on, reparented: then
// neither its pid nor its parent names it. A person's own `docker compose -p shop logs -f`
// carries no tag and is never waited for nor killed, however its argv reads.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** The environment variable berth gives every compose it runs, inherited by what compose spawns. */
export const COMPOSE_TAG_VAR = 'BERTH_COMPOSE_RUN';

/** The environment that marks a compose process as berth's, for one instance and project. */
export function composeTagEnv(tag: string): Record<string, string> {
  return { [COMPOSE_TAG_VAR]: tag };
}

/** Whether the process's environment carries the tag; a process berth cannot read (another user's) is not berth's. */
async function carriesTag(pid: number, tag: string): Promise<boolean> {
  try {
    const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
    return raw.split('\0').includes(`${COMPOSE_TAG_VAR}=${tag}`);
  } catch {
    return false;
  }
}

export interface ComposeProcess {
  pid: number;
  argv: string[];
}

export interface FenceResult {
  /** Every process berth started for the project that was seen while fencing; the wait covered all of them. */
  waitedFor: number[];
  /** Those of them that outlived the bound and were sent SIGTERM (and SIGKILL if they outlived the grace too). */
  killed: number[];
}

export interface FenceOptions {
  /** How long compose may go on by itself before it is fenced. */
  timeoutMs: number;
  /** How long SIGTERM has before SIGKILL, and SIGKILL before giving up. */
  graceMs?: number;
  pollMs?: number;
  /** Called whenever the set of processes waited for changes, so the caller can say why it is not starting yet. */
  onWait?: (procs: ComposeProcess[]) => void;
  /** berth's tag for this project (see composeTagEnv): processes carrying it are fenced too. */
  tag?: string;
}

export class FenceError extends Error {
  readonly project: string;
  readonly pids: number[];
  constructor(message: string, project: string, pids: number[]) {
    super(message);
    this.name = 'FenceError';
    this.project = project;
    this.pids = pids;
  }
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/** The argv of a process, or undefined when it has exited or is a zombie (whose cmdline is empty). */
async function argvOf(pid: number): Promise<string[] | undefined> {
  let raw: string;
  try {
    raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw new Error(
      `could not read /proc/${pid}/cmdline (${(err as Error).message}), so berth cannot tell whether pid ${pid} is a compose process it must wait for; check how /proc is mounted (hidepid) and which user berth runs as`,
      { cause: err },
    );
  }
  if (raw === '') return undefined;
  const argv = raw.split('\0');
  if (argv[argv.length - 1] === '') argv.pop();
  return argv;
}

/** A process berth started, as journalled: its pid and its start time, which together name it for good. */
export interface StartedProcess {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot. A reused pid has another. */
  startTime: number;
}

/** pid, parent pid and start time from the text of /proc/<pid>/stat (the name in parentheses may hold spaces and ')'). */
export function parseStat(text: string): { ppid: number; startTime: number } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After the name: state (field 3), ppid (4), ... starttime (22).
  const fields = text.slice(close + 2).trim().split(/\s+/);
  const ppid = Number(fields[1]);
  const startTime = Number(fields[19]);
  return Number.isInteger(ppid) && Number.isInteger(startTime) ? { ppid, startTime } : undefined;
}

/**
 * The start time of a process that runs now, read at once (berth calls this the moment it
 * spawned compose, before the child can have been reaped); undefined once it is gone or
 * where there is no /proc.
 */
export function startTimeOf(pid: number): number | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.startTime;
  } catch {
    return undefined;
  }
}

interface ProcEntry {
  pid: number;
  ppid: number;
  startTime: number;
}

async function processTable(): Promise<ProcEntry[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`could not list /proc to look for the compose processes berth started: ${(err as Error).message}`, { cause: err });
  }
  const rows = await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e): Promise<ProcEntry | undefined> => {
        const pid = Number(e);
        try {
          const st = parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
          return st === undefined ? undefined : { pid, ...st };
        } catch (err) {
          if (isGone(err)) return undefined;
          throw err;
        }
      }),
  );
  return rows.filter((r): r is ProcEntry => r !== undefined);
}

/**
 * The processes of `started` that still run (same pid, same start time) and everything they
 * spawned, as found right now; never the calling process.
 */
export async function startedProcesses(started: readonly StartedProcess[], tag?: string): Promise<ComposeProcess[]> {
  if (started.length === 0 && tag === undefined) return [];
  const table = await processTable();
  const ours = new Set<number>();
  for (const p of table) if (started.some((s) => s.pid === p.pid && s.startTime === p.startTime)) ours.add(p.pid);
  if (tag !== undefined) {
    const tagged = await Promise.all(table.map(async (p) => (p.pid !== process.pid && (await carriesTag(p.pid, tag)) ? p.pid : undefined)));
    for (const pid of tagged) if (pid !== undefined) ours.add(pid);
  }
  // Children are found by parent pid; a child starts after its parent, which rules out a
  // parent pid reused by an unrelated process that later took the dead parent's number.
  let grew = ours.size > 0;
  while (grew) {
    grew = false;
    for (const p of table) {
      const parent = table.find((q) => q.pid === p.ppid);
      if (!ours.has(p.pid) && ours.has(p.ppid) && parent !== undefined && p.startTime >= parent.startTime) {
        ours.add(p.pid);
        grew = true;
      }
    }
  }
  ours.delete(process.pid);
  const found = await Promise.all(
    [...ours].map(async (pid): Promise<ComposeProcess | undefined> => {
      const argv = await argvOf(pid);
      return argv === undefined ? undefined : { pid, argv };
    }),
  );
  return found.filter((p): p is ComposeProcess => p !== undefined).sort((a, b) => a.pid - b.pid);
}

/**
 * Signals berth's compose processes as found right now, not as found earlier: a pid seen a
 * poll ago may since have exited and been reused by something else.
 */
async function signalAll(
  project: string,
  started: readonly StartedProcess[],
  tag: string | undefined,
  signal: NodeJS.Signals,
  killed: Set<number>,
  seen: Set<number>,
): Promise<void> {
  for (const { pid } of await startedProcesses(started, tag)) {
    seen.add(pid);
    try {
      process.kill(pid, signal);
      killed.add(pid);
    } catch (err) {
      if (isGone(err)) continue;
      throw new FenceError(
        `could not send ${signal} to compose process ${pid} of project ${project} (${(err as Error).message}); berth must not run compose while it runs: stop it by hand, or run berth as the user that owns it`,
        project,
        [pid],
      );
    }
  }
}

/** Polls until none of berth's compose processes runs; false when some still do after `withinMs`. */
async function waitGone(
  started: readonly StartedProcess[],
  tag: string | undefined,
  withinMs: number,
  pollMs: number,
  seen: Set<number>,
  onWait?: (procs: ComposeProcess[]) => void,
): Promise<boolean> {
  const start = performance.now();
  let reported = '';
  for (;;) {
    const procs = await startedProcesses(started, tag);
    if (procs.length === 0) return true;
    for (const p of procs) seen.add(p.pid);
    const key = procs.map((p) => p.pid).join(',');
    if (onWait && key !== reported) onWait(procs);
    reported = key;
    const left = withinMs - (performance.now() - start);
    if (left <= 0) return false;
    await sleep(Math.min(pollMs, left));
  }
}

const sorted = (pids: Set<number>) => [...pids].sort((a, b) => a - b);

/**
 * Waits until none of the compose processes berth started for `project` (`started`, from
 * the journal, and what they spawned) runs; after timeoutMs sends SIGTERM, then SIGKILL
 * after graceMs, and reports what it did. Any other process is left alone.
 */
export async function fenceCompose(project: string, started: readonly StartedProcess[], opts: FenceOptions): Promise<FenceResult> {
  const graceMs = opts.graceMs ?? 10_000;
  const pollMs = opts.pollMs ?? 200;
  const seen = new Set<number>();
  const killed = new Set<number>();
  const result = () => ({ waitedFor: sorted(seen), killed: sorted(killed) });

  const { tag } = opts;
  if (await waitGone(started, tag, opts.timeoutMs, pollMs, seen, opts.onWait)) return result();
  // compose forwards SIGTERM to what it runs and winds down; SIGKILL is for a hung one.
  await signalAll(project, started, tag, 'SIGTERM', killed, seen);
  if (await waitGone(started, tag, graceMs, pollMs, seen)) return result();
  await signalAll(project, started, tag, 'SIGKILL', killed, seen);
  // SIGKILL cannot be caught, but a process stuck in the kernel (uninterruptible I/O) outlives it.
  if (await waitGone(started, tag, graceMs, pollMs, seen)) return result();
  const left = (await startedProcesses(started, tag)).map((p) => p.pid);
  if (left.length === 0) return result();
  throw new FenceError(
    `compose processes ${left.join(', ')} of project ${project} still run ${graceMs} ms after SIGKILL; berth will not run compose beside them: find out what they are stuck on (cat /proc/PID/stack) and restart berth once they are gone`,
    project,
    left,
  );
}
