// Logs: JSON lines for machines, pretty lines on a terminal; credentials redacted in both.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import { redactingLogOptions } from '../util/redact.js';

// pino-pretty (and its dependencies) is loaded only for a terminal: a service's berth logs
// JSON and should not carry a formatter it never calls (bench idle, issue 10 item 6). A
// require, not an import(), so creating a logger stays synchronous.
const requireHere = createRequire(import.meta.url);

export function createLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    const pretty = requireHere('pino-pretty') as typeof import('pino-pretty');
    return pino({ level, ...redactingLogOptions }, pretty({ destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  }
  return pino({ level, ...redactingLogOptions }, pino.destination({ dest: 2, sync: true }));
}
