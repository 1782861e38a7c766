// A vendor's release feed on 127.0.0.1, for tests: a static folder served over real HTTP,
// every request recorded, POSTs to /report collected, and per-path knobs for the ways a
// feed server goes wrong (slow to answer, trickling bytes, wrong status or body). Plus a
// small forward proxy, to prove the feed client goes through HTTP_PROXY when told to.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

export interface RecordedRequest {
  method: string;
  /** The path without the query. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface PathKnobs {
  /** Wait this long before sending the status line and headers. */
  delayMs?: number;
  /** Send the body `bytes` at a time, one piece every `intervalMs`. */
  trickle?: { intervalMs: number; bytes?: number };
  /** Answer with this instead of the file. */
  override?: { status: number; body?: string | Buffer; headers?: Record<string, string> };
  /** Send no Content-Length (the body goes chunked), so the client cannot know the size up front. */
  noContentLength?: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.pub': 'application/x-pem-file',
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function listenOnLoopback(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

export class FeedServer {
  readonly requests: RecordedRequest[] = [];
  /** Parsed JSON bodies of POST /report, in arrival order. */
  readonly reports: unknown[] = [];
  /** Knobs by request path (without the query). */
  readonly knobs = new Map<string, PathKnobs>();
  private server: Server | undefined;
  private baseUrl: string | undefined;
  // Timers of delayed and trickled answers, so stop() leaves nothing running.
  private readonly timers = new Set<NodeJS.Timeout>();

  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get url(): string {
    if (this.baseUrl === undefined) throw new Error('FeedServer: call start() before reading url');
    return this.baseUrl;
  }

  async start(): Promise<this> {
    if (this.server !== undefined) return this;
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
        else res.destroy();
      });
    });
    this.baseUrl = await listenOnLoopback(this.server);
    return this;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests for `path` (without query), in arrival order. */
  requestsFor(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  private sleep(ms: number, res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve(!res.destroyed);
      }, ms);
      this.timers.add(t);
      res.once('close', () => {
        clearTimeout(t);
        this.timers.delete(t);
        resolve(false);
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://feed.invalid');
    const body = await readBody(req);
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body });
    const knobs = this.knobs.get(url.pathname) ?? {};
    if (knobs.delayMs !== undefined && !(await this.sleep(knobs.delayMs, res))) return;

    let status: number;
    let payload: Buffer;
    let headers: Record<string, string> = {};
    if (knobs.override !== undefined) {
      status = knobs.override.status;
      payload = Buffer.from(knobs.override.body ?? '');
      headers = { 'content-type': 'text/plain; charset=utf-8', ...knobs.override.headers };
    } else if (req.method === 'POST' && url.pathname === '/report') {
      try {
        this.reports.push(JSON.parse(body));
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('the report is not JSON');
        return;
      }
      res.writeHead(204).end();
      return;
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    } else {
      const file = normalize(join(this.root, decodeURIComponent(url.pathname)));
      if (!file.startsWith(this.root + sep)) {
        res.writeHead(403).end();
        return;
      }
      try {
        payload = await readFile(file);
        status = 200;
        headers = { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' };
      } catch {
        status = 404;
        payload = Buffer.from('not found\n');
        headers = { 'content-type': 'text/plain' };
      }
    }
    if (knobs.noContentLength !== true && headers['content-length'] === undefined) headers['content-length'] = String(payload.length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (knobs.trickle === undefined) {
      res.end(payload);
      return;
    }
    const step = knobs.trickle.bytes ?? 1;
    for (let offset = 0; offset < payload.length; offset += step) {
      if (offset > 0 && !(await this.sleep(knobs.trickle.intervalMs, res))) return;
      res.write(payload.subarray(offset, offset + step));
    }
    res.end();
  }
}

export interface ProxyRequest {
  method: string;
  /** An absolute URI for a forwarded request, host:port for a CONNECT tunnel. */
  target: string;
}

export interface TestProxy {
  url: string;
  requests: ProxyRequest[];
  stop(): Promise<void>;
}

/**
 * A forward HTTP proxy on 127.0.0.1 that records what passes through it. It forwards
 * absolute-URI requests and opens CONNECT tunnels: undici's proxy agent tunnels plain http
 * through CONNECT too, and other clients send absolute URIs.
 */
export async function startProxy(): Promise<TestProxy> {
  const requests: ProxyRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', target: req.url ?? '' });
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('a proxy needs an absolute URI');
      return;
    }
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(String(err));
      else res.destroy();
    });
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    requests.push({ method: 'CONNECT', target: req.url ?? '' });
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const url = await listenOnLoopback(server);
  return {
    url,
    requests,
    async stop() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
