// Logs: JSON lines for machines, pretty lines on a terminal.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino({ level }, pretty({ destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  }
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}
