// `berth run` as a separate process, for tests that crash it on purpose: start it, kill it
// (SIGKILL by default, as a failpoint or the kernel's OOM killer would), start it again,
// and stop it gracefully at the end. Its stdout and stderr are appended to a log file the
// test chooses, so a crashed run's log survives for the failure message.
//
// Every process started here carries a marker in its environment, which the `docker
// compose` children berth spawns inherit. A SIGKILLed berth leaves such children running
// (they are re-parented, not killed); killAllBerthProcesses() finds them by that marker so a
// test file leaves no process behind.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/support → dist/src/cli/main.js, as cli.test.ts resolves it. */
const BERTH_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** The environment variable the production failpoint hook reads (comma-separated names). */
export const FAILPOINTS_ENV = 'BERTH_FAILPOINTS';

/** Marks every process started here, and their descendants, for killAllBerthProcesses(). */
const MARKER_ENV = 'BERTH_TEST_PROCESS';

/** Matches the line berth logs once `berth run` is up and its SIGTERM/SIGINT handlers are installed. */
export const STARTED_LINE = /"msg":"berth operator started"/;

const DEFAULT_STOP_TIMEOUT_MS = 30_000;
const DEFAULT_LOG_WAIT_MS = 30_000;
const LEFTOVER_WAIT_MS = 10_000;
const LOG_TAIL_LINES = 20;

export interface BerthProcessOptions {
  /** Folder of Stack manifests (`--manifests`). */
  manifests: string;
  /** State folder (`--state`). */
  state: string;
  /** stdout and stderr are appended here (created if missing). */
  logFile: string;
  /** Sets BERTH_FAILPOINTS; without it the variable is removed, even if this process has it. */
  failpoints?: string[];
  /** Extra environment, applied over this process's environment. */
  env?: Record<string, string>;
  /** Extra arguments after `run --manifests M --state S --log-level debug`. */
  args?: string[];
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether `pid` names a running process. A zombie counts as gone: it has exited and only
 * waits for its parent to collect it (pid 1 of a container may never do so).
 */
export async function isAlive(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) S ...": comm may contain spaces and parentheses, so look after the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** The environment of a running process, from /proc (needs the same user or root). */
export async function environOf(pid: number): Promise<Map<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
  const env = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** Pids of live processes (other than this one) whose environment has name=value. */
async function processesWithEnv(name: string, value: string): Promise<number[]> {
  const needle = `${name}=${value}`;
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let raw: string;
    try {
      raw = await readFile(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (raw.split('\0').includes(needle) && (await isAlive(pid))) found.push(pid);
  }
  return found;
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch((err: unknown) => `(cannot read ${logFile}: ${String(err)})`);
  return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

function describeExit(s: ExitStatus): string {
  return s.signal !== null ? `was killed by ${s.signal}` : `exited with code ${String(s.code)}`;
}

/** Every BerthProcess this test file started and that has not exited yet. */
const running = new Set<BerthProcess>();
/** Markers of every BerthProcess this test file started, exited or not. */
const markers = new Set<string>();

// Last resort for a test file that ends (or crashes) without calling killAllBerthProcesses():
// an operator left running would go on reconciling on this machine. Only synchronous work is
// possible here, so it cannot reach the leftover compose children.
process.once('exit', () => {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export class BerthProcess {
  /** Resolves with {code, signal} when the process exits (whatever the cause). */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly logFile: string,
    private readonly marker: string,
  ) {
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        running.delete(this);
        resolve(this.exitStatus);
      });
    });
  }

  /**
   * Spawns `node dist/src/cli/main.js run --manifests M --state S --log-level debug ...args`
   * with stdout and stderr appended to `logFile`. Returns as soon as the process exists: wait
   * for started() before relying on berth's signal handlers.
   */
  static start(opts: BerthProcessOptions): BerthProcess {
    if (!existsSync(BERTH_MAIN)) {
      throw new Error(`${BERTH_MAIN} does not exist; run \`npm run build\` first`);
    }
    const marker = randomBytes(8).toString('hex');
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, [MARKER_ENV]: marker };
    // A BERTH_FAILPOINTS inherited from the shell that runs the tests would crash every berth
    // this file starts; only an explicit `failpoints` (or `env`) sets it.
    if (opts.failpoints !== undefined) env[FAILPOINTS_ENV] = opts.failpoints.join(',');
    else if (opts.env?.[FAILPOINTS_ENV] === undefined) delete env[FAILPOINTS_ENV];

    // Several berths run at once in the tests: each gets a free port unless the test names one
    // (the bound URL is in the log line "web console listening").
    const http = opts.args?.includes('--http') ? [] : ['--http', '127.0.0.1:0'];
    const args = [BERTH_MAIN, 'run', '--manifests', opts.manifests, '--state', opts.state, '--log-level', 'debug', ...http, ...(opts.args ?? [])];
    // The child writes straight into the file: its log is complete even when this process dies first.
    const fd = openSync(opts.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      // spawn() reports its failure asynchronously as well; it is thrown here instead.
      child.once('error', () => undefined);
      throw new Error(`could not start ${process.execPath} ${args.join(' ')}`);
    }
    const p = new BerthProcess(child, child.pid, opts.logFile, marker);
    running.add(p);
    markers.add(marker);
    return p;
  }

  /** The whole log file so far. */
  log(): Promise<string> {
    return readFile(this.logFile, 'utf8');
  }

  /** The last lines of the log file, for failure messages. */
  logTail(): Promise<string> {
    return logTail(this.logFile);
  }

  /** How the process ended, or undefined while it runs. */
  get exit(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /**
   * Waits until the log has a line matching `pattern` and returns that line. Fails, with the
   * log tail, when the process exits first or `timeoutMs` passes.
   */
  async waitForLog(pattern: RegExp, timeoutMs = DEFAULT_LOG_WAIT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Read the exit status before the log: a line written just before exiting is still seen.
      const exit = this.exitStatus;
      const line = (await this.log().catch(() => '')).split('\n').find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (exit !== undefined) {
        throw new Error(`berth (pid ${this.pid}) ${describeExit(exit)} before logging ${pattern}; log tail (${this.logFile}):\n${await logTail(this.logFile)}`);
      }
      if (Date.now() >= deadline) {
        throw new Error(`berth (pid ${this.pid}) did not log ${pattern} within ${timeoutMs} ms; log tail (${this.logFile}):\n${await logTail(this.logFile)}`);
      }
      await sleep(100);
    }
  }

  /** Waits until `berth run` is up: its operator started and its SIGTERM/SIGINT handlers installed. */
  async started(timeoutMs = DEFAULT_LOG_WAIT_MS): Promise<void> {
    await this.waitForLog(STARTED_LINE, timeoutMs);
  }

  /**
   * Sends `signal` (default SIGKILL) to berth alone, as the failpoint hook does, and waits for
   * it to exit. Its `docker compose` children, if any, keep running: see leftovers(). For a
   * signal berth handles this waits as long as berth takes; stop() is the bounded graceful stop.
   * On a process that has already exited it only reports how it ended.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus> {
    if (this.exitStatus === undefined) this.child.kill(signal);
    return this.exited;
  }

  /**
   * Graceful stop: SIGTERM, then wait for exit code 0. Past `timeoutMs` it SIGKILLs berth and
   * fails; it also fails if berth ends any other way (berth installs its SIGTERM handler only
   * once started: call started() first), or had already exited.
   */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    if (this.exitStatus !== undefined) {
      throw new Error(`berth (pid ${this.pid}) cannot be stopped: it already ${describeExit(this.exitStatus)}; log tail (${this.logFile}):\n${await logTail(this.logFile)}`);
    }
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited, timedOut]).finally(() => clearTimeout(timer));
    if (outcome === 'timeout') {
      await this.kill('SIGKILL');
      throw new Error(`berth (pid ${this.pid}) did not exit within ${timeoutMs} ms of SIGTERM, so it was SIGKILLed; a graceful stop waits for the running reconcile pass, so look for a stuck one in the log tail (${this.logFile}):\n${await logTail(this.logFile)}`);
    }
    if (outcome.code !== 0) {
      const hint = outcome.signal === 'SIGTERM' ? ' (SIGTERM arrived before berth installed its handler: wait for started() first)' : '';
      throw new Error(`berth (pid ${this.pid}) ${describeExit(outcome)} on SIGTERM, expected exit code 0${hint}; log tail (${this.logFile}):\n${await logTail(this.logFile)}`);
    }
  }

  /**
   * Live processes other than berth itself that berth started (directly or not), including
   * ones left running after berth was killed: e.g. a `docker compose up` cut off by a crash.
   */
  async leftovers(): Promise<number[]> {
    return (await processesWithEnv(MARKER_ENV, this.marker)).filter((pid) => pid !== this.pid);
  }
}

/**
 * For after hooks: SIGKILLs every BerthProcess this test file started that is still alive,
 * then every process they left behind (see BerthProcess.leftovers), and waits until all are
 * gone. Fails if some process survives.
 */
export async function killAllBerthProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill('SIGKILL')));
  const deadline = Date.now() + LEFTOVER_WAIT_MS;
  for (;;) {
    const left: number[] = [];
    for (const marker of markers) left.push(...(await processesWithEnv(MARKER_ENV, marker)));
    if (left.length === 0) return;
    if (Date.now() >= deadline) {
      throw new Error(`processes started by berth survive SIGKILL: pids ${left.join(', ')}; look at them with \`ps -o pid,stat,args -p ${left.join(',')}\``);
    }
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await sleep(100);
  }
}

/** A fresh, empty manifests folder, a state folder and a log file path under `dir`/`name`. */
export async function berthDirs(dir: string | undefined, name: string): Promise<{ manifests: string; state: string; logFile: string }> {
  assert.ok(dir, 'the before hook did not create the temp folder');
  const root = join(dir, name);
  await mkdir(join(root, 'manifests'), { recursive: true });
  return { manifests: join(root, 'manifests'), state: join(root, 'state'), logFile: join(root, 'berth.log') };
}
