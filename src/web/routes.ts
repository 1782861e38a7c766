// Every route berth's HTTP server serves besides /healthz and /readyz. The console and
// /metrics each add theirs here, so `berth run` wires one list.
import type { Logger } from 'pino';
import type { Operator } from '../controller/operator.js';
import type { ComposeCli } from '../docker/compose.js';
import type { Engine } from '../docker/engine.js';
import type { StateStore } from '../store/state.js';
import { consoleActions } from './console/actions.js';
import { ConsoleAuth, loadToken, SIGNED_OUT_FILE, SignedOutSessions, TOKEN_ENV } from './console/auth.js';
import { join } from 'node:path';
import { consoleRoutes } from './console/routes.js';
import { registerSecret } from '../util/redact.js';
import { metricsRoute } from './metrics-route.js';
import { isLoopback, parseAddr, type Route } from './server.js';

export interface WebContext {
  operator: Operator;
  state: StateStore;
  manifestsDir: string;
  log: Logger;
  /** The --http address: the console refuses a non-loopback one without a chosen token. */
  addr: string;
  engine?: Engine;
  compose?: ComposeCli;
  env?: NodeJS.ProcessEnv;
}

/** Throws, before anything listens, when the console may not be served on ctx.addr (see loadToken). */
export async function webRoutes(ctx: WebContext): Promise<Route[]> {
  const token = await loadToken(ctx.state.root, ctx.addr, ctx.env ?? process.env);
  // Whatever path a token might take into a log line, it is hidden there.
  registerSecret(token.token);
  const tokenHint = token.from === 'env' ? TOKEN_ENV : token.file;
  ctx.log.info(
    { signInWith: token.from === 'env' ? `$${TOKEN_ENV}` : token.file, madeNow: token.from === 'created' },
    token.from === 'env'
      ? `web console: sign in with the token in $${TOKEN_ENV}`
      : `web console: sign in with the token in ${token.file} (cat ${token.file})`,
  );
  return [
    ...consoleRoutes({
      state: ctx.state,
      manifestsDir: ctx.manifestsDir,
      ...(ctx.engine !== undefined ? { engine: ctx.engine } : {}),
      ...(ctx.compose !== undefined ? { compose: ctx.compose } : {}),
      auth: new ConsoleAuth(token.token, Date.now, await SignedOutSessions.load(join(ctx.state.root, SIGNED_OUT_FILE))),
      loopback: isLoopback(parseAddr(ctx.addr).host),
      actions: consoleActions(ctx.operator, ctx.state, ctx.manifestsDir),
      log: ctx.log,
      tokenHint,
    }),
    metricsRoute(ctx.operator.metrics),
  ];
}
