// Logs: JSON lines for machines, pretty lines on a terminal; credentials redacted in both.
// With a log file (`berth run --log-file PATH`) every line is appended there as JSON, and
// SIGHUP reopens the file, so logrotate (or a person) can rename it away: berth then writes
// a new file at PATH instead of going on into the renamed one.
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { registerEnvSecrets, redactingLogOptions } from '../util/redact.js';

export interface LoggerOptions {
  /** Append JSON lines to this file instead of writing to stderr. */
  file?: string;
  /** Where pretty lines go on a TTY instead of fd 2 (progress bars that keep log lines above them). */
  terminal?: Writable;
}

/** Mode of a log file berth creates: its lines are redacted, but still only for the admins' group. */
const LOG_FILE_MODE = 0o640;

// pino-pretty (and its dependencies) is loaded only for a terminal: a service's berth logs
// JSON and should not carry a formatter it never calls (bench idle, issue 10 item 6). A
// require, not an import(), so creating a logger stays synchronous.
const requireHere = createRequire(import.meta.url);

let fatalTarget: () => number = () => 2;

/**
 * Where a last fatal line is written synchronously before berth exits (main.ts): the log
 * file when there is one (as reopened last), else stderr, so the reason is where the rest is.
 */
export function fatalFd(): number {
  return fatalTarget();
}

export function createLogger(level: string, opts: LoggerOptions = {}): Logger {
  // Tokens and passwords berth was given in its environment are hidden wherever they appear.
  registerEnvSecrets(process.env);
  if (opts.file !== undefined) {
    let dest: ReturnType<typeof pino.destination>;
    try {
      dest = pino.destination({ dest: opts.file, append: true, sync: true, mkdir: true, mode: LOG_FILE_MODE });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`cannot open the log file ${opts.file} for appending (${code}): make it and its folder writable by berth's user, or name another file with --log-file`, { cause: err });
    }
    const log = pino({ level, ...redactingLogOptions }, dest);
    // sonic-boom keeps the descriptor of the file it has open (a new one after reopen) in `fd`;
    // pino's bundled types leave it out. Opened with sync: true, it is a number at once.
    fatalTarget = () => (dest as unknown as { fd: number }).fd;
    process.on('SIGHUP', () => {
      dest.reopen();
      log.info({ file: opts.file }, 'reopened the log file (SIGHUP)');
    });
    return log;
  }
  if (process.stderr.isTTY) {
    const pretty = requireHere('pino-pretty') as typeof import('pino-pretty');
    return pino({ level, ...redactingLogOptions }, pretty({ destination: opts.terminal ?? 2, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  }
  return pino({ level, ...redactingLogOptions }, pino.destination({ dest: 2, sync: true }));
}
