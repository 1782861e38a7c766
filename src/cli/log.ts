// Logs: JSON lines for machines, pretty lines on a terminal; credentials redacted in both.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Writable } from 'node:stream';
import { redactingLogOptions } from '../util/redact.js';

/** `terminal`: where pretty lines go on a TTY instead of fd 2 (progress bars that keep log lines above them). */
export function createLogger(level: string, terminal?: Writable): Logger {
  if (process.stderr.isTTY) {
    return pino({ level, ...redactingLogOptions }, pretty({ destination: terminal ?? 2, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  }
  return pino({ level, ...redactingLogOptions }, pino.destination({ dest: 2, sync: true }));
}
