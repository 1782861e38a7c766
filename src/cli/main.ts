#!/usr/bin/env node
// berth: the command line, on commander. This file declares the commands, their options and
// their help; each command's work is in its own module (commands.ts, get.ts, ...), which
// returns the exit code.
// First: V8 settings apply to what the modules below allocate.
import './v8-footprint.js';
import { readFileSync, writeSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_HTTP_ADDR, parseAddr } from '../web/server.js';
import { APPROVE_HELP, approveCommand } from './approve.js';
import { runCommand, type RunOptions } from './commands.js';
import { fatalFd } from './log.js';
import { DIFF_HELP, diffCommand, RENDER_HELP, renderCommand } from './diff.js';
import { DEFAULT_MANIFESTS, DEFAULT_STATE, dirOf, existingDirOf, MissingDirError } from './dirs.js';
import { AGE_HELP, describeCommand, getCommand } from './get.js';
import { outputOption, type OutputFormat } from './output.js';
import { RELEASE_HELP, releaseCommand } from './release.js';
import { historyCommand, rollbackCommand } from './rollback.js';
import { STATUS_HELP, statusCommand } from './status.js';
import { validateCommand, VALIDATE_KINDS } from './validate.js';

// sysexits.h's EX_SOFTWARE: an internal error, distinct from 1 (a stack failed) and 2 (usage).
const FATAL_EXIT = 70;
const USAGE_EXIT = 2;

const EXIT_CODES = `Exit codes:
  0   done (for run --once and status: every stack runs its target and passed its health gate)
  1   failed: a stack did not converge or was rolled back, an action was refused, a check found problems
  2   usage: unknown command or option, missing argument, a folder that does not exist
  70  internal error: berth logs it as fatal (a supervisor restarts berth run; its state folder is crash-safe)`;

const FOLDERS = `Folders: every command finds the Stack manifests and berth's state folder by its flag
(--manifests DIR, --state DIR), else by $BERTH_MANIFESTS / $BERTH_STATE, else at
${DEFAULT_MANIFESTS} and ${DEFAULT_STATE} (what berth run uses without flags).`;

function packageVersion(): string {
  // dist/src/cli/main.js -> the package's own package.json, in a checkout and in the image.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** The exit code the command's action decided. */
let exitCode = 0;
const act =
  <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
  async (...args: A): Promise<void> => {
    exitCode = await fn(...args);
  };

const positiveInt = (what: string) => (value: string) => {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a whole number ≥ 1`);
  return n;
};

const httpAddr = (value: string) => {
  if (value === 'off') return value;
  try {
    parseAddr(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
};

const stateOption = () => new Option('--state <dir>', `berth's state folder (else $BERTH_STATE, else ${DEFAULT_STATE})`);
const manifestsOption = () => new Option('--manifests <dir>', `the folder of Stack manifests (else $BERTH_MANIFESTS, else ${DEFAULT_MANIFESTS})`);

/**
 * berth run's options, in one place: a new one is a line here plus the field of the same
 * (camelCase) name in RunOptions (commands.ts); the action passes them through as they are.
 */
function runOptions(): Option[] {
  return [
    manifestsOption(),
    stateOption(),
    new Option('--once', 'one pass over every stack, then exit (1 if any stack did not end on its target)').default(false),
    new Option('--workers <n>', 'stacks reconciled at the same time').default(2).argParser(positiveInt('--workers')),
    new Option('--log-level <level>', 'trace, debug, info, warn, error').default(process.env['BERTH_LOG_LEVEL'] ?? 'info'),
    new Option('--http <addr>', `where the web console, /metrics, /healthz and /readyz listen ("off": nowhere; --once serves nothing)`)
      .default(process.env['BERTH_HTTP'] ?? DEFAULT_HTTP_ADDR)
      .argParser(httpAddr),
    new Option('--log-file <path>', 'append the log to PATH (JSON lines) instead of stderr; SIGHUP reopens it (logrotate)').env('BERTH_LOG_FILE'),
    new Option('--notify-config <file>', 'webhooks for every stack without spec.notify (see the README, Notifications)').env('BERTH_NOTIFY_CONFIG'),
  ];
}

function buildProgram(): Command {
  const program = new Command('berth')
    .description('berth — an update operator for Docker Compose deployments')
    .version(packageVersion(), '-V, --version', "print berth's version")
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .addHelpText('after', `\n${FOLDERS}\n\n${EXIT_CODES}\n`);

  const run = program
    .command('run')
    .description('Converge every Stack in the manifests folder (one per *.yaml file) and keep it converged; serves the web console on --http.')
    .addHelpText('after', '\nExample:\n  berth run                       # ./.berth/manifests, ./.berth/state, console on http://127.0.0.1:8420\n  berth run --once --manifests stacks --state /var/lib/berth');
  for (const o of runOptions()) run.addOption(o);
  run.action(
    act(async (o: Omit<RunOptions, 'manifests' | 'state'> & { manifests?: string; state?: string }) => {
      // A default from BERTH_HTTP did not pass through the option's parser.
      if (!o.once && o.http !== 'off') {
        try {
          parseAddr(o.http);
        } catch (err) {
          process.stderr.write(`berth run: --http / BERTH_HTTP: ${(err as Error).message}\n`);
          return USAGE_EXIT;
        }
      }
      const manifests = await existingDirOf('manifests', o.manifests);
      return runCommand({ ...o, manifests: manifests.path, state: dirOf('state', o.state).path, http: o.once ? 'off' : o.http });
    }),
  );

  program
    .command('get')
    .description('A table of stacks: mode, current, target and available version, readiness.')
    .argument('[name]', 'show only this stack')
    .addOption(stateOption())
    .addOption(outputOption())
    .addHelpText(
      'after',
      `\nCOLUMNS: CURRENT is the version that runs, TARGET the one berth converges to, AVAILABLE the newest
one berth could apply (from the channel, or the pinned version that waits for approval). REASON
reads AwaitingApproval while a version waits for a person (berth approve).
${AGE_HELP}
-o json / yaml print the StackStatus documents as berth wrote them (a List without NAME).`,
    )
    .action(act(async (name: string | undefined, o: { state?: string; output: OutputFormat }) => getCommand({ state: await existingDirOf('state', o.state), output: o.output, ...(name !== undefined ? { name } : {}) })));

  program
    .command('describe')
    .description("One stack's status: versions, what waits, conditions, services.")
    .argument('<name>', 'the stack')
    .addOption(stateOption())
    .addOption(outputOption())
    .addHelpText('after', `\nAGE in the conditions table: how long each condition has had its status.`)
    .action(act(async (name: string, o: { state?: string; output: OutputFormat }) => describeCommand({ name, state: await existingDirOf('state', o.state), output: o.output })));

  program
    .command('history')
    .description('Revisions berth applied to the stack, how each ended, and what is quarantined.')
    .argument('<name>', 'the stack')
    .addOption(stateOption())
    .addOption(outputOption())
    .action(act(async (name: string, o: { state?: string; output: OutputFormat }) => historyCommand({ name, state: await existingDirOf('state', o.state), output: o.output })));

  program
    .command('approve')
    .description('Approve the version that waits for approval (sets spec.approve in the manifest).')
    .argument('<name>', 'the stack')
    .argument('[version]', 'the version you reviewed: refused unless it is the one that waits')
    .addOption(stateOption())
    .addOption(manifestsOption())
    .addHelpText('after', `\n${APPROVE_HELP}\n\nExample:\n  berth approve shop 2.0.0`)
    .action(
      act(async (name: string, version: string | undefined, o: { state?: string; manifests?: string }) =>
        approveCommand({ name, state: await existingDirOf('state', o.state), manifests: dirOf('manifests', o.manifests), ...(version !== undefined ? { version } : {}) }),
      ),
    );

  program
    .command('rollback')
    .description("Set the Stack's version and images back to those of a kept revision, by editing its manifest.")
    .argument('<name>', 'the stack')
    .option('--to <revision>', 'the revision (see berth history); default: the last good one')
    .option('--force', 'edit a manifest inside a git checkout anyway', false)
    .addOption(stateOption())
    .addHelpText('after', '\nberth then converges to it. A manifest inside a git checkout is refused: revert in git instead (or --force).')
    .action(
      act(async (name: string, o: { to?: string; force: boolean; state?: string }) =>
        rollbackCommand({ name, state: await existingDirOf('state', o.state), force: o.force, ...(o.to !== undefined ? { to: o.to } : {}) }),
      ),
    );

  program
    .command('status')
    .description("Where the stack's rollout stands; with --wait, wait until it is done (like kubectl rollout status).")
    .argument('<name>', 'the stack')
    .option('--wait', 'wait until the target runs and passed its health gate, or failed', false)
    .option('--timeout <seconds>', 'with --wait: give up after this long (exit 1)', positiveInt('--timeout'))
    .addOption(stateOption())
    .addHelpText('after', `\n${STATUS_HELP}\n\nExample:\n  berth approve shop 2.0.0 && berth status shop --wait --timeout 600`)
    .action(
      act(async (name: string, o: { wait: boolean; timeout?: number; state?: string }) =>
        statusCommand({ name, state: await existingDirOf('state', o.state), wait: o.wait, ...(o.timeout !== undefined ? { timeoutSeconds: o.timeout } : {}) }),
      ),
    );

  program
    .command('diff')
    .description("What applying the stack's next revision would do to each service, compared with what runs.")
    .argument('<name>', 'the stack')
    .addOption(manifestsOption())
    .addOption(stateOption())
    .addOption(outputOption())
    .addHelpText('after', `\n${DIFF_HELP}`)
    .action(act(async (name: string, o: { manifests?: string; state?: string; output: OutputFormat }) => diffCommand({ name, state: dirOf('state', o.state), manifests: dirOf('manifests', o.manifests), output: o.output })));

  program
    .command('render')
    .description('Print the compose file berth would run for the stack.')
    .argument('<name>', 'the stack')
    .addOption(manifestsOption())
    .addOption(stateOption())
    .addHelpText('after', `\n${RENDER_HELP}`)
    .action(act(async (name: string, o: { manifests?: string; state?: string }) => renderCommand({ name, state: dirOf('state', o.state), manifests: dirOf('manifests', o.manifests) })));

  program
    .command('validate')
    .description(`Check berth documents (${VALIDATE_KINDS.join(', ')}) by their kind; a Stack also against its compose files.`)
    .argument('<file...>', 'the files')
    .addHelpText(
      'after',
      '\nA Stack is valid when its schema is, its compose files exist, and compose (when its CLI is here)\nloads them into a model that defines every service spec.images pins.',
    )
    .action(act((files: string[]) => validateCommand(files)));

  const release = program.command('release').description('For vendors who publish releases on a channel: keygen, publish, verify.');
  release
    .command('keygen')
    .description(RELEASE_HELP.keygen)
    .requiredOption('--out <dir>', 'where to write release.key and release.pub (required)')
    .option('--force', 'replace an existing key pair', false)
    .action(act((o: Record<string, string | boolean>) => releaseCommand('keygen', undefined, o)));
  release
    .command('publish')
    .description(RELEASE_HELP.publish)
    .argument('<release-file>', 'the Release to sign')
    .requiredOption('--key <file>', 'the signing key, release.key (required)')
    .requiredOption('--feed <dir>', 'the feed folder to publish into (required)')
    .option('--channel <name>', 'the channel', 'stable')
    .option('--report <url>', 'where berth reports how the release went')
    .action(act((file: string, o: Record<string, string | boolean>) => releaseCommand('publish', file, o)));
  release
    .command('verify')
    .description(RELEASE_HELP.verify)
    .argument('<file>', "a channel's index.json or one release file")
    .requiredOption('--public-key <pem-file>', 'the public key stacks pin (required)')
    .option('--channel <name>', 'the channel it must be signed for')
    .action(act((file: string, o: Record<string, string | boolean>) => releaseCommand('verify', file, o)));

  // Per command, so the message and the hint name the command the person typed.
  const finish = (cmd: Command, path: string) => {
    cmd.showHelpAfterError(`(run "${path} --help" for usage)`);
    cmd.configureOutput({ outputError: (str, write) => write(`${path}: ${str.replace(/^error: /, '')}`) });
    if (cmd !== program && cmd.commands.length === 0) cmd.addHelpText('after', `\n${EXIT_CODES}`);
    for (const sub of cmd.commands) finish(sub, `${path} ${sub.name()}`);
  };
  finish(program, 'berth');
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version asked for are done; help shown because something was missing is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return err.exitCode === 0 ? 0 : USAGE_EXIT;
      return USAGE_EXIT;
    }
    if (err instanceof MissingDirError) {
      process.stderr.write(`berth ${argv[0] ?? ''}: ${err.message}\n`);
      return USAGE_EXIT;
    }
    throw err;
  }
}

// What nobody handled, decided here and nowhere else: berth logs it as fatal, with what it
// was, and exits with FATAL_EXIT. Running on after an unknown failure could leave a worker,
// a timer or the lease half-dead while berth looks alive; the state folder is crash-safe (the
// journal, atomic writes, a lock a successor takes over), so a supervisor's restart (Docker's
// restart policy, systemd's Restart=) resumes from a known state. The line is written
// synchronously, in pino's format, so it is in the log even though the process ends now.
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
    writeSync(fatalFd(), `${JSON.stringify(line)}\n`);
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
