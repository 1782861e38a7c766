// berth's own HTTP server, started by `berth run --http ADDR`: the console, /metrics and the
// health endpoints hang off it as routes. One small router on node:http: the surface is a
// handful of paths, and every write goes through the same manifest edit the CLI uses, so a
// framework would add weight to the idle footprint without adding safety.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export type Method = 'GET' | 'POST' | 'HEAD';

export interface Route {
  method: Method;
  /** An exact path, or a pattern whose groups are handed to the handler. */
  path: string | RegExp;
  handle(req: IncomingMessage, res: ServerResponse, params: string[]): Promise<void> | void;
}

export interface WebServerOptions {
  /** `HOST:PORT` (IPv6 as `[::1]:PORT`); port 0 picks a free one (tests). */
  addr: string;
  log: Logger;
  /** Whether berth is ready to serve: /readyz answers 503 until it is. */
  ready: () => boolean;
  routes: Route[];
}

export interface WebServer {
  /** The base URL actually bound, e.g. http://127.0.0.1:8420. */
  readonly url: string;
  close(): Promise<void>;
}

export const DEFAULT_HTTP_ADDR = '127.0.0.1:8420';

/** Splits `HOST:PORT`; throws a message fit for the command line when it is not one. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(`--http "${addr}" is not HOST:PORT (for example 127.0.0.1:8420, [::1]:8420, 0.0.0.0:8420), nor "off"`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function match(route: Route, method: string, path: string): string[] | undefined {
  const methodOk = route.method === method || (method === 'HEAD' && route.method === 'GET');
  if (!methodOk) return undefined;
  if (typeof route.path === 'string') return route.path === path ? [] : undefined;
  const m = route.path.exec(path);
  return m ? m.slice(1).map((p) => decodeURIComponent(p ?? '')) : undefined;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { host, port } = parseAddr(opts.addr);
  const routes: Route[] = [
    { method: 'GET', path: '/healthz', handle: (_q, res) => text(res, 200, 'ok\n') },
    {
      method: 'GET',
      path: '/readyz',
      handle: (_q, res) => (opts.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready: berth is starting or has stopped\n')),
    },
    ...opts.routes,
  ];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://berth.invalid').pathname;
    const method = req.method ?? 'GET';
    const candidates = routes.filter((r) => match(r, r.method, path) !== undefined);
    const route = routes.find((r) => match(r, method, path) !== undefined);
    if (route === undefined) {
      if (candidates.length > 0) {
        res.setHeader('allow', [...new Set(candidates.map((r) => r.method))].join(', '));
        return text(res, 405, `${method} is not allowed on ${path}\n`);
      }
      return text(res, 404, `nothing at ${path}\n`);
    }
    Promise.resolve()
      .then(() => route.handle(req, res, match(route, method, path) ?? []))
      .catch((err: unknown) => {
        opts.log.error({ err, method, path }, 'the web console failed to answer a request');
        if (!res.headersSent) text(res, 500, 'berth failed to answer this request; its log has the details\n');
        else res.end();
      });
  });
  // A slow or idle client must not hold sockets open forever (server-sent events set their own).
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // main prefixes "berth:"; the usual cause (another program, or another berth, on the port) is named.
      const why = err.code === 'EADDRINUSE' ? 'EADDRINUSE: another program listens there' : (err.code ?? err.message);
      reject(new Error(`could not listen on ${opts.addr} for the web console (${why}); choose another address with --http HOST:PORT, or --http off`));
    });
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  opts.log.info({ url }, 'web console listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Server-sent event streams never end by themselves.
        server.closeAllConnections();
      }),
  };
}
