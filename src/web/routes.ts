// Every route berth's HTTP server serves besides /healthz and /readyz. The console and
// /metrics each add theirs here, so `berth run` wires one list.
import type { Logger } from 'pino';
import type { Operator } from '../controller/operator.js';
import type { StateStore } from '../store/state.js';
import type { Route } from './server.js';
import { metricsRoute } from './metrics-route.js';

export interface WebContext {
  operator: Operator;
  state: StateStore;
  manifestsDir: string;
  log: Logger;
}

export function webRoutes(ctx: WebContext): Route[] {
  return [metricsRoute(ctx.operator.metrics)];
}
