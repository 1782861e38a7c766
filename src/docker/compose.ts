// The one wrapper around the compose CLI: found and version-checked once, always run
// non-interactively with captured output and a deadline, and every failure turned into a
// typed error in one place (the shape of Pulumi's automation API around its CLI).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeTagEnv } from './fence.js';

export type ComposeFlavour = 'v2' | 'v1';

export class ComposeError extends Error {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(message: string, command: string, exitCode: number | null, stderr: string) {
    super(message);
    this.name = 'ComposeError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}
export class ComposeNotFoundError extends ComposeError {
  override name = 'ComposeNotFoundError';
}
export class ComposeTimeoutError extends ComposeError {
  override name = 'ComposeTimeoutError';
}

export interface ComposeResult {
  stdout: string;
  stderr: string;
}

interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once the child runs, so its pid can be journaled; a throw kills the child and rejects. */
  onSpawn?: (pid: number) => void;
  /** Added to the child's environment (and so to whatever it spawns). */
  env?: Record<string, string>;
  /**
   * Output goes to files, not pipes: a compose that outlives berth (SIGKILLed, OOM-killed)
   * must not die half-way on its next write to a pipe nobody reads any more. It finishes
   * its run, and the next berth waits for it (see fence.ts).
   */
  outputToFiles?: boolean;
}

/** Last lines of compose's stderr: enough to say what went wrong without flooding a status. */
function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function exec(file: string, args: string[], opts: RunOptions): Promise<ComposeResult> {
  if (!opts.outputToFiles) return execPiped(file, args, opts, undefined);
  // Made synchronously, so the child is spawned (and onSpawn called) before exec returns.
  const dir = mkdtempSync(join(tmpdir(), 'berth-compose-'));
  return execPiped(file, args, opts, dir).finally(() => rm(dir, { recursive: true, force: true }));
}

function execPiped(file: string, args: string[], opts: RunOptions, outputDir: string | undefined): Promise<ComposeResult> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const fds = outputDir !== undefined ? [openSync(join(outputDir, 'stdout'), 'w', 0o600), openSync(join(outputDir, 'stderr'), 'w', 0o600)] : undefined;
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        stdio: fds !== undefined ? ['ignore', fds[0]!, fds[1]!] : ['ignore', 'pipe', 'pipe'],
        // Plain, colourless output that never waits for a terminal.
        env: { ...process.env, COMPOSE_ANSI: 'never', COMPOSE_INTERACTIVE_NO_CLI: '1', NO_COLOR: '1', ...opts.env },
      });
    } finally {
      // The child holds its own copies; berth's are not needed once it runs.
      for (const fd of fds ?? []) closeSync(fd);
    }
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const collect = async (): Promise<void> => {
      if (outputDir === undefined) return;
      stdout = await readFile(join(outputDir, 'stdout'), 'utf8').catch(() => '');
      stderr = await readFile(join(outputDir, 'stderr'), 'utf8').catch(() => '');
    };
    let timedOut = false;
    const kill = () => {
      child.kill('SIGTERM');
      // compose forwards SIGTERM and winds down; a hung one is killed outright.
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    const onAbort = () => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err.code === 'ENOENT') {
        reject(new ComposeNotFoundError(`${file} is not installed`, command, null, ''));
      } else reject(new ComposeError(`${command} could not start: ${err.message}`, command, null, ''));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      void collect().then(() => settle(code, signal));
    });
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      if (timedOut) {
        reject(new ComposeTimeoutError(`${command} did not finish within ${opts.timeoutMs} ms and was killed`, command, code, tail(stderr)));
      } else if (code === 0) {
        resolve({ stdout, stderr });
      } else {
        const why = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new ComposeError(`${command} ${why}: ${tail(stderr) || '(no output)'}`, command, code, stderr));
      }
    };
    if (opts.onSpawn && child.pid !== undefined) {
      try {
        opts.onSpawn(child.pid);
      } catch (err) {
        // Better no compose run at all than one the caller lost track of.
        kill();
        reject(err);
      }
    }
  });
}

export interface UpOptions {
  project: string;
  projectDirectory: string;
  file: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the compose child's pid as soon as it runs (the controller journals it). */
  onSpawn?: (pid: number) => void;
  /** berth's tag for the project (see fence.ts), so a later berth can fence this run even once it is orphaned. */
  tag?: string;
}

export class ComposeCli {
  readonly flavour: ComposeFlavour;
  readonly version: string;
  /** Compose invocations made so far (benchmarks read this). */
  invocations = 0;
  private readonly file: string;
  private readonly prefix: string[];

  private constructor(file: 'docker' | 'docker-compose', version: string) {
    this.version = version;
    // `docker-compose` may be v1 (Python) or the v2 binary installed standalone; the
    // version, not the name, says which flags it takes.
    this.flavour = Number(version.split('.')[0]) >= 2 ? 'v2' : 'v1';
    this.file = file;
    const ansi = this.flavour === 'v2' ? ['--ansi', 'never'] : ['--no-ansi'];
    this.prefix = file === 'docker' ? ['compose', ...ansi] : ansi;
  }

  /** Finds compose: the v2 plugin (`docker compose`) first, then a `docker-compose` binary (v2 standalone or v1). */
  static async detect(timeoutMs = 20_000): Promise<ComposeCli> {
    const attempts: string[] = [];
    for (const [file, args] of [
      ['docker', ['compose', 'version', '--short']],
      ['docker-compose', ['version', '--short']],
    ] as const) {
      try {
        const { stdout } = await exec(file, [...args], { timeoutMs });
        return new ComposeCli(file, stdout.trim().replace(/^v/, ''));
      } catch (err) {
        attempts.push(`${file} ${args.join(' ')}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    throw new ComposeNotFoundError(
      `no compose CLI found (${attempts.join('; ')}); install the compose v2 plugin (docker compose) or docker-compose v1`,
      'docker compose version',
      null,
      '',
    );
  }

  async run(args: string[], opts: RunOptions): Promise<ComposeResult> {
    this.invocations++;
    return exec(this.file, [...this.prefix, ...args], opts);
  }

  /** `up -d --remove-orphans` of one rendered file, with relative paths resolved from the user's folder. */
  up(opts: UpOptions): Promise<ComposeResult> {
    return this.run(
      ['-p', opts.project, '--project-directory', opts.projectDirectory, '-f', opts.file, 'up', '-d', '--remove-orphans'],
      {
        timeoutMs: opts.timeoutMs ?? 10 * 60_000,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onSpawn ? { onSpawn: opts.onSpawn } : {}),
        ...(opts.tag !== undefined ? { env: composeTagEnv(opts.tag) } : {}),
        outputToFiles: true,
      },
    );
  }
}
