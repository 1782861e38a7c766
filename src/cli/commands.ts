// The `berth` commands. Each takes parsed options and returns an exit code; none of the
// layers below imports this file.
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { InvalidManifestError, parseStack } from '../api/validate.js';
import { Operator } from '../controller/operator.js';
import { runOutcome } from '../controller/run-outcome.js';
import { ComposeCli } from '../docker/compose.js';
import { Engine } from '../docker/engine.js';
import { StateStore } from '../store/state.js';
import { startWebServer } from '../web/server.js';
import { webRoutes } from '../web/routes.js';
import { createLogger } from './log.js';
import { openNotifyDefaults } from '../notify/defaults.js';
import { age, table } from './table.js';

export interface RunOptions {
  manifests: string;
  state: string;
  once: boolean;
  logLevel: string;
  workers: number;
  /** `HOST:PORT` for the web console, /metrics and the health endpoints, or `off`. */
  http: string;
  /** Append the log here (reopened on SIGHUP) instead of writing it to stderr. */
  logFile?: string;
  /** berth's notification defaults: the webhooks of stacks without spec.notify. */
  notifyConfig?: string;
}

export async function runCommand(opts: RunOptions): Promise<number> {
  const log = createLogger(opts.logLevel, opts.logFile !== undefined ? { file: opts.logFile } : {});
  const notifyDefaults = opts.notifyConfig !== undefined ? await openNotifyDefaults(opts.notifyConfig, log) : undefined;
  const engine = await Engine.connect();
  const compose = await ComposeCli.detect();
  const operator = new Operator({
    manifestsDir: opts.manifests,
    state: new StateStore(opts.state),
    engine,
    compose,
    log,
    workers: opts.workers,
    ...(notifyDefaults !== undefined ? { notifyDefaults } : {}),
  });
  if (opts.once) {
    const results = await operator.runOnce();
    const outcome = runOutcome(results);
    log.info({ stacks: results.length, offTarget: outcome.off.length }, 'one pass done');
    // Last, after every log line: a cron job's mail or a script's tail shows which stacks and why.
    process.stderr.write(`${outcome.summary}\n`);
    return outcome.exitCode;
  }
  await operator.start();
  const web =
    opts.http === 'off'
      ? undefined
      : await startWebServer({
          addr: opts.http,
          log,
          ready: () => operator.started,
          routes: webRoutes({ operator, state: new StateStore(opts.state), manifestsDir: opts.manifests, log }),
        }).catch(async (err: unknown) => {
          await operator.stop();
          throw err;
        });
  const lostLock = await new Promise<boolean>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      resolve(false);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // The operator has logged why and stopped itself.
    if (operator.halted.aborted) resolve(true);
    operator.halted.addEventListener('abort', () => resolve(true), { once: true });
  });
  await web?.close();
  await operator.stop();
  return lostLock ? 1 : 0;
}

export async function validateCommand(files: string[]): Promise<number> {
  if (files.length === 0) {
    process.stderr.write('berth validate: name at least one manifest file\n');
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    try {
      const stack = parseStack(file, await readFile(file, 'utf8'));
      const version = stack.spec.version ?? `from channel ${stack.spec.channel?.name ?? '?'}`;
      process.stdout.write(`${file}: valid Stack "${stack.metadata.name}" (version ${version}, mode ${stack.spec.mode})\n`);
    } catch (err) {
      failed++;
      if (err instanceof InvalidManifestError) {
        process.stderr.write(`${file}: invalid\n${err.problems.map((p) => `  - ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')}\n`);
      } else {
        process.stderr.write(`${file}: ${(err as Error).message}\n`);
      }
    }
  }
  return failed > 0 ? 1 : 0;
}

export async function getCommand(stateDir: string, now = new Date()): Promise<number> {
  const store = new StateStore(stateDir);
  const entries = await store.listStatuses();
  if (entries.length === 0) {
    process.stdout.write(`No stacks in ${store.root}.\n`);
    return 0;
  }
  const rows = [['NAME', 'MODE', 'CURRENT', 'TARGET', 'READY', 'REASON', 'AGE']];
  for (const e of entries) {
    const name = 'stack' in e.key ? e.key.stack : `(file ${e.key.file})`;
    if (e.status === undefined) {
      rows.push([name, '-', '-', '-', 'Unknown', 'StatusUnreadable', '-']);
      continue;
    }
    const s = e.status.status;
    const ready = s.conditions.find((c) => c.type === 'Ready');
    rows.push([
      name,
      s.mode ?? '-',
      s.currentVersion ?? '-',
      s.targetVersion ?? '-',
      ready?.status ?? 'Unknown',
      ready?.reason ?? '-',
      age(ready?.lastTransitionTime, now),
    ]);
  }
  process.stdout.write(table(rows));
  return 0;
}

export async function describeCommand(stateDir: string, name: string): Promise<number> {
  const store = new StateStore(stateDir);
  const status = await store.readStatus({ stack: name });
  if (status === undefined) {
    process.stderr.write(`berth describe: no status for stack "${name}" in ${store.root}; is berth running with --state ${stateDir}?\n`);
    return 1;
  }
  const s = status.status;
  const lines = [
    `Name:            ${name}`,
    `Manifest:        ${s.manifest ?? '-'}`,
    `Project:         ${s.project ?? '-'}`,
    `Mode:            ${s.mode ?? '-'}`,
    `Target version:  ${s.targetVersion ?? '-'}`,
    `Current version: ${s.currentVersion ?? '-'}`,
    `Revision:        ${s.revision ?? '-'}`,
    `Last good:       ${s.lastGoodRevision ?? '-'}`,
    ...(s.operation
      ? [`In flight:       ${s.operation.kind} to revision ${s.operation.revision}, step ${s.operation.step} since ${s.operation.stepStarted}`]
      : []),
    ...(s.quarantine
      ? [`Quarantined:     version ${s.quarantine.version} (revision ${s.quarantine.revision}): ${s.quarantine.reason}: ${s.quarantine.message}`]
      : []),
    ...(s.approval ? [`Approved:        version ${s.approval.version}, content ${s.approval.targetKey} (since ${s.approval.since})`] : []),
    `Last applied:    ${s.lastAppliedTime ?? '-'}`,
    ...(s.lastCheckIn ? [`Last check-in:   ${s.lastCheckIn}`] : []),
    ...(s.available
      ? [
          `Available:       ${s.available.version} (${s.available.change ?? '?'}, channel ${s.available.channel}${s.available.published ? `, published ${s.available.published}` : ''}${s.available.downloaded ? ', downloaded' : ''})`,
          ...(s.available.waitingFor ? [`  Waiting for:   ${s.available.waitingFor}`] : []),
          ...(s.available.notes ? [`  Notes:         ${s.available.notes.split('\n').join('\n                 ')}`] : []),
        ]
      : []),
    ...(s.lastError ? [`Last error:      ${s.lastError}`] : []),
    'Conditions:',
    table([
      ['  TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
      ...s.conditions.map((c) => [`  ${c.type}`, c.status, c.reason, c.lastTransitionTime, c.message]),
    ]).trimEnd(),
    'Services:',
    stringify(s.services, { aliasDuplicateObjects: false }).replace(/^/gm, '  ').trimEnd(),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
