// A berth that was SIGKILLed leaves its compose child running, reparented to init. A new
// berth on the same state must not run compose for that project until the old one is
// gone: it waits for it, and past a bound fences it (SIGTERM, then SIGKILL). Processes
// are found through /proc by what their argv names, because the pid a dead berth may
// have journaled can have been reused since.
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ComposeProcess {
  pid: number;
  argv: string[];
}

export interface FenceResult {
  /** Every compose process of the project seen while fencing; the wait covered all of them. */
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

/**
 * The project a compose argv names, or undefined when the argv is not compose or names no
 * project. Compose is an element `compose` (`docker compose`, and the v2 plugin re-executed
 * as `.../cli-plugins/docker-compose compose`) or one whose basename is `docker-compose`
 * (v1, also as `python3 /usr/bin/docker-compose`); the project is the first `-p X`,
 * `--project-name X` or `--project-name=X` after it. Only the first counts: a later `-p`
 * belongs to a subcommand (`run -p 8080:80`), and a project given through
 * COMPOSE_PROJECT_NAME is invisible here (berth always passes -p).
 */
export function composeProjectOf(argv: readonly string[]): string | undefined {
  const marker = argv.findIndex((a) => a === 'compose' || basename(a) === 'docker-compose');
  if (marker < 0) return undefined;
  for (let i = marker + 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return undefined;
    if (arg === '-p' || arg === '--project-name') return argv[i + 1];
    if (arg.startsWith('--project-name=')) return arg.slice('--project-name='.length);
  }
  return undefined;
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

/**
 * Running compose processes (v2 plugin `docker compose ...`, the plugin binary
 * `.../cli-plugins/docker-compose compose ...`, or v1 `docker-compose`) whose project is
 * `project`, found through /proc; [] where /proc does not exist. Never the calling process.
 * Both the `docker` parent and the plugin it runs match: both have to end.
 */
export async function findComposeProcesses(project: string): Promise<ComposeProcess[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`could not list /proc to look for compose processes of project ${project}: ${(err as Error).message}`, { cause: err });
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => pid !== process.pid);
  const found = await Promise.all(
    pids.map(async (pid): Promise<ComposeProcess | undefined> => {
      const argv = await argvOf(pid);
      return argv !== undefined && composeProjectOf(argv) === project ? { pid, argv } : undefined;
    }),
  );
  return found.filter((p): p is ComposeProcess => p !== undefined).sort((a, b) => a.pid - b.pid);
}

/**
 * Signals the project's compose processes as found right now, not as found earlier: a pid
 * seen a poll ago may since have exited and been reused by something else.
 */
async function signalAll(project: string, signal: NodeJS.Signals, killed: Set<number>, seen: Set<number>): Promise<void> {
  for (const { pid } of await findComposeProcesses(project)) {
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

/** Polls until no compose process of the project runs; false when some still do after `withinMs`. */
async function waitGone(project: string, withinMs: number, pollMs: number, seen: Set<number>, onWait?: (procs: ComposeProcess[]) => void): Promise<boolean> {
  const start = performance.now();
  let reported = '';
  for (;;) {
    const procs = await findComposeProcesses(project);
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

/** Waits until no compose process of `project` runs; after timeoutMs sends SIGTERM, then SIGKILL after graceMs, and reports what it did. */
export async function fenceCompose(project: string, opts: FenceOptions): Promise<FenceResult> {
  const graceMs = opts.graceMs ?? 10_000;
  const pollMs = opts.pollMs ?? 200;
  const seen = new Set<number>();
  const killed = new Set<number>();
  const result = () => ({ waitedFor: sorted(seen), killed: sorted(killed) });

  if (await waitGone(project, opts.timeoutMs, pollMs, seen, opts.onWait)) return result();
  // compose forwards SIGTERM to what it runs and winds down; SIGKILL is for a hung one.
  await signalAll(project, 'SIGTERM', killed, seen);
  if (await waitGone(project, graceMs, pollMs, seen)) return result();
  await signalAll(project, 'SIGKILL', killed, seen);
  // SIGKILL cannot be caught, but a process stuck in the kernel (uninterruptible I/O) outlives it.
  if (await waitGone(project, graceMs, pollMs, seen)) return result();
  const left = (await findComposeProcesses(project)).map((p) => p.pid);
  if (left.length === 0) return result();
  throw new FenceError(
    `compose processes ${left.join(', ')} of project ${project} still run ${graceMs} ms after SIGKILL; berth will not run compose beside them: find out what they are stuck on (cat /proc/PID/stack) and restart berth once they are gone`,
    project,
    left,
  );
}
