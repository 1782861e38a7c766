#!/usr/bin/env node
// berth: the command line. Parses arguments and hands over to commands.ts.
// First: V8 settings apply to what the modules below allocate.
import './v8-footprint.js';
import { writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeCommand, getCommand, runCommand, validateCommand } from './commands.js';
import { DIFF_USAGE, diffCommand } from './diff.js';
import { DEFAULT_HTTP_ADDR, parseAddr } from '../web/server.js';
import { RELEASE_USAGE, releaseCommand } from './release.js';
import { historyCommand, rollbackCommand } from './rollback.js';

const USAGE = `berth — an update operator for Docker Compose deployments

Usage:
  berth run --manifests DIR --state DIR [--once] [--workers N] [--log-level info] [--http ADDR]
      Converge every Stack in DIR (one per *.yaml file) and keep it converged.
      --http: where the web console, /metrics, /healthz and /readyz listen
      (default ${DEFAULT_HTTP_ADDR}; "off" serves nothing).
      --once: one pass over every stack, then exit (1 if any stack did not end on its target).
  berth validate FILE...
      Check Stack manifests against the schema.
  berth get [--state DIR]
      A table of stacks: name, mode, current and target version, readiness.
  berth describe NAME [--state DIR]
      One stack's status: versions, conditions, services.
  berth history NAME [--state DIR]
      Revisions berth applied to the stack, how each ended, and what is quarantined.
  berth rollback NAME [--to REVISION] [--force] [--state DIR]
      Set the Stack's version and images back to those of a revision (default: the last
      good one), by editing its manifest; berth then converges to it. A manifest inside a
      git checkout is refused: revert in git instead (or --force).
${DIFF_USAGE}
For vendors who publish releases on a channel:
${RELEASE_USAGE}
The state folder defaults to ./.berth/state.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Before the parse below: release has options of its own, which that strict parse refuses.
  if (command === 'release') return releaseCommand(rest);
  if (command === 'diff') return diffCommand(rest);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      manifests: { type: 'string' },
      state: { type: 'string', default: '.berth/state' },
      once: { type: 'boolean', default: false },
      to: { type: 'string' },
      force: { type: 'boolean', default: false },
      workers: { type: 'string', default: '2' },
      'log-level': { type: 'string', default: process.env['BERTH_LOG_LEVEL'] ?? 'info' },
      http: { type: 'string', default: process.env['BERTH_HTTP'] ?? DEFAULT_HTTP_ADDR },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (command === undefined || command === 'help' || command === '--help' || command === '-h' || values.help) {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'run': {
      if (values.manifests === undefined) {
        process.stderr.write('berth run: --manifests DIR is required (the folder of Stack manifests)\n');
        return 2;
      }
      const workers = Number(values.workers);
      if (!Number.isInteger(workers) || workers < 1) {
        process.stderr.write(`berth run: --workers must be a whole number ≥ 1, not "${values.workers}"\n`);
        return 2;
      }
      if (values.http !== 'off') {
        try {
          parseAddr(values.http);
        } catch (err) {
          process.stderr.write(`berth run: ${(err as Error).message}\n`);
          return 2;
        }
      }
      return runCommand({ manifests: values.manifests, state: values.state, once: values.once, logLevel: values['log-level'], workers, http: values.once ? 'off' : values.http });
    }
    case 'validate':
      return validateCommand(positionals);
    case 'get':
      return getCommand(values.state);
    case 'describe':
      if (positionals[0] === undefined) {
        process.stderr.write('berth describe: name the stack, e.g. berth describe shop\n');
        return 2;
      }
      return describeCommand(values.state, positionals[0]);
    case 'history':
      if (positionals[0] === undefined) {
        process.stderr.write('berth history: name the stack, e.g. berth history shop\n');
        return 2;
      }
      return historyCommand(values.state, positionals[0]);
    case 'rollback':
      if (positionals[0] === undefined) {
        process.stderr.write('berth rollback: name the stack, e.g. berth rollback shop [--to 3]\n');
        return 2;
      }
      return rollbackCommand({ state: values.state, name: positionals[0], force: values.force, ...(values.to !== undefined ? { to: values.to } : {}) });
    default:
      process.stderr.write(`berth: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

// What nobody handled, decided here and nowhere else: berth logs it as fatal, with what it
// was, and exits with FATAL_EXIT. Running on after an unknown failure could leave a worker,
// a timer or the lease half-dead while berth looks alive; the state folder is crash-safe (the
// journal, atomic writes, a lock a successor takes over), so a supervisor's restart (Docker's
// restart policy, systemd's Restart=) resumes from a known state. The line is written
// synchronously, in pino's format, so it is in the log even though the process ends now.
const FATAL_EXIT = 70; // EX_SOFTWARE (sysexits.h): an internal error, distinct from 1 (a stack failed) and 2 (usage)
function fatal(origin: string, reason: unknown): void {
  const err = reason instanceof Error ? reason : new Error(String(reason));
  const line = {
    level: 60,
    time: Date.now(),
    pid: process.pid,
    origin,
    err: { type: err.name, message: err.message, stack: err.stack },
    msg: `berth stops on ${origin}: ${err.message}; exiting with code ${FATAL_EXIT} so its supervisor restarts it (the state folder is crash-safe: the next start finishes what was in flight). Please report this with the stack trace.`,
  };
  try {
    writeSync(2, `${JSON.stringify(line)}\n`);
  } finally {
    process.exit(FATAL_EXIT);
  }
}
process.on('unhandledRejection', (reason) => fatal('an unhandled promise rejection', reason));
process.on('uncaughtException', (err) => fatal('an uncaught exception', err));

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
