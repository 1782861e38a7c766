// Logs: JSON lines for machines, pretty lines on a terminal; credentials redacted in both.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redactingLogOptions } from '../util/redact.js';

export function createLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino({ level, ...redactingLogOptions }, pretty({ destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  }
  return pino({ level, ...redactingLogOptions }, pino.destination({ dest: 2, sync: true }));
}
