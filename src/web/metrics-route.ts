// GET /metrics: berth's Prometheus series, unauthenticated like /healthz (they carry stack
// names and versions, never secrets; bind --http to loopback or put a proxy in front to
// keep them private). The series themselves live in the controller (controller/metrics.ts).
import type { Metrics } from '../controller/metrics.js';
import type { Route } from './server.js';

export function metricsRoute(metrics: Metrics): Route {
  // Only a berth that serves /metrics pays for the process collectors.
  metrics.includeProcessMetrics();
  return {
    method: 'GET',
    path: '/metrics',
    handle: async (_req, res) => {
      const { contentType, body } = await metrics.exposition();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(body);
    },
  };
}
