// `berth run`: takes parsed options and returns an exit code; none of the layers below
// imports this file. (get/describe: get.ts; validate: validate.ts.)
import { Operator } from '../controller/operator.js';
import { runOutcome } from '../controller/run-outcome.js';
import { ComposeCli } from '../docker/compose.js';
import { Engine } from '../docker/engine.js';
import { StateStore } from '../store/state.js';
import { startWebServer } from '../web/server.js';
import { webRoutes } from '../web/routes.js';
import { createLogger } from './log.js';
import { pullBarsForTerminal } from './progress.js';
import { openNotifyDefaults } from '../notify/defaults.js';

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
  // A person watching a one-off pass on a terminal sees each image come down.
  const bars = opts.once ? pullBarsForTerminal() : undefined;
  const log = createLogger(opts.logLevel, {
    ...(opts.logFile !== undefined ? { file: opts.logFile } : {}),
    ...(bars !== undefined ? { terminal: bars.logStream() } : {}),
  });
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
    ...(bars !== undefined ? { pullProgress: bars } : {}),
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
  // Before the operator starts: a console that may not be served (no token off loopback) stops berth here.
  const routes = opts.http === 'off' ? [] : await webRoutes({ operator, state: new StateStore(opts.state), manifestsDir: opts.manifests, log, addr: opts.http, engine, compose });
  await operator.start();
  const web =
    opts.http === 'off'
      ? undefined
      : await startWebServer({
          addr: opts.http,
          log,
          ready: () => operator.started,
          routes,
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
