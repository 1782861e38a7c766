// HTTP to the Docker engine API, on node:http alone. berth asks the engine for a handful of
// things (version, list containers and images, inspect, ping, pull, events); dockerode did
// that through docker-modem, which loads an SSH client (ssh2, with native crypto that makes
// OpenSSL load every algorithm), gRPC and protobuf at import: about 20 MB of an idle berth's
// RSS (bench idle, issue 10 item 6) for code it never ran. This speaks the same API over a
// unix socket or TCP (with TLS as DOCKER_TLS_VERIFY / DOCKER_CERT_PATH say, as the docker
// CLI and dockerode read them). An ssh:// DOCKER_HOST is refused with what to do instead.
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the engine listens: a unix socket, or a host and port (http, or https with client certificates). */
export interface EngineAddress {
  socketPath?: string;
  host?: string;
  port?: number | string;
  protocol?: 'http' | 'https';
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** A refusal by the engine: its HTTP status and the message it gave. */
export class EngineHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly json: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'EngineHttpError';
  }
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/** The engine's address from DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as the docker CLI reads them. */
export function addressFromEnv(env: NodeJS.ProcessEnv = process.env): EngineAddress {
  const host = env['DOCKER_HOST'];
  if (host === undefined || host === '') return { socketPath: DEFAULT_SOCKET };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) || DEFAULT_SOCKET };
  let url: URL;
  try {
    url = new URL(host.includes('//') ? host : `tcp://${host}`);
  } catch {
    throw new Error(`DOCKER_HOST "${host}" is not an address berth can use; set it like unix:///var/run/docker.sock or tcp://host:2376`);
  }
  if (url.protocol === 'ssh:') {
    throw new Error(
      `DOCKER_HOST "${host}": berth does not speak to the engine over ssh; run berth on the engine's host, or forward its socket (ssh -nNL /tmp/docker.sock:/var/run/docker.sock ${url.host}) and set DOCKER_HOST=unix:///tmp/docker.sock`,
    );
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`DOCKER_HOST "${host}": ${url.protocol}// is not supported; use unix:// or tcp://`);
  }
  const port = url.port || (url.protocol === 'https:' ? '2376' : '2375');
  const tls = url.protocol === 'https:' || (env['DOCKER_TLS_VERIFY'] ?? '') !== '' || port === '2376';
  const address: EngineAddress = { host: url.hostname.replace(/^\[|\]$/g, ''), port, protocol: tls ? 'https' : 'http' };
  if (tls) {
    const certs = env['DOCKER_CERT_PATH'] || join(homedir(), '.docker');
    try {
      address.ca = readFileSync(join(certs, 'ca.pem'));
      address.cert = readFileSync(join(certs, 'cert.pem'));
      address.key = readFileSync(join(certs, 'key.pem'));
    } catch (err) {
      if (env['DOCKER_CERT_PATH']) throw new Error(`DOCKER_CERT_PATH ${certs}: cannot read ca.pem, cert.pem and key.pem (${(err as Error).message})`);
      // No client certificates: server-verified TLS only.
    }
  }
  return address;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'HEAD';
  /** Query parameters; objects are sent as JSON (the engine's `filters`). */
  query?: Record<string, string | number | boolean | object | undefined>;
  signal?: AbortSignal;
}

function queryString(query: CallOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    params.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One engine, spoken to at one API version (none: the engine's own, for the version handshake). */
export class EngineHttp {
  constructor(
    readonly address: EngineAddress,
    private readonly version?: string,
  ) {}

  at(version: string): EngineHttp {
    return new EngineHttp(this.address, version);
  }

  /** The response, once its status is 2xx (any other status is an EngineHttpError with the engine's message). */
  async stream(path: string, opts: CallOptions = {}): Promise<IncomingMessage> {
    const a = this.address;
    const full = `${this.version !== undefined ? `/v${this.version}` : ''}${path}${queryString(opts.query)}`;
    const options: RequestOptions & { ca?: EngineAddress['ca']; cert?: EngineAddress['cert']; key?: EngineAddress['key'] } = {
      method: opts.method ?? 'GET',
      path: full,
      headers: { accept: 'application/json' },
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(a.socketPath !== undefined ? { socketPath: a.socketPath } : { host: a.host, port: Number(a.port) }),
      ...(a.ca !== undefined ? { ca: a.ca } : {}),
      ...(a.cert !== undefined ? { cert: a.cert } : {}),
      ...(a.key !== undefined ? { key: a.key } : {}),
    };
    // node:https (TLS) only for an engine that needs it: loading it costs an idle berth on a socket memory for nothing.
    const send = a.socketPath === undefined && a.protocol === 'https' ? (await import('node:https')).request : httpRequest;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(options, resolve);
      req.once('error', reject);
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    const text = await readAll(res).catch(() => '');
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON: the text itself is the message.
    }
    const said = typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string' ? (json as { message: string }).message : text.trim();
    throw new EngineHttpError(status, json, `(HTTP code ${status}) ${said || res.statusMessage || 'no message'}`);
  }

  /** The response body parsed as JSON (undefined for an empty body). */
  async json<T>(path: string, opts: CallOptions = {}): Promise<T> {
    const text = await readAll(await this.stream(path, opts));
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** The response body as text (ping answers `OK`). */
  async text(path: string, opts: CallOptions = {}): Promise<string> {
    return readAll(await this.stream(path, opts));
  }
}

/** `name:tag` or `name@digest` split as the engine's pull wants it (fromImage, tag); no tag means latest. */
export function pullParams(ref: string): { fromImage: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { fromImage: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  // A colon before the last slash belongs to a registry's port, not a tag.
  if (colon > ref.lastIndexOf('/')) return { fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { fromImage: ref, tag: 'latest' };
}
