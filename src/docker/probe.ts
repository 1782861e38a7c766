// One HTTP GET against a container's own address, as the health gate's optional probe. It
// answers with an outcome rather than an exception, because a service that does not answer
// yet is an ordinary finding, not a failure of berth.
import http from 'node:http';

export interface HttpProbeSpec {
  port: number;
  path: string;
  expectStatus: number;
  timeoutMs: number;
}

export interface ProbeOutcome {
  ok: boolean;
  status?: number;
  error?: string;
  url: string;
}

/** Enough to let a well-behaved server finish a short reply; a huge or endless body is cut off. */
const MAX_BODY_BYTES = 64 * 1024;

const BODY_CUT = 'the server closed the connection before the body was complete';

function urlOf(address: string, spec: HttpProbeSpec): string {
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  const path = spec.path.startsWith('/') ? spec.path : `/${spec.path}`;
  return `http://${host}:${spec.port}${path}`;
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * GETs http://address:port/path and compares the status. The address is the container's on
 * the project's network, so no proxy is used: `agent: false` gives a fresh agent that knows
 * nothing of HTTP_PROXY and keeps no connection alive after the probe. `timeoutMs` bounds
 * connecting, the headers and reading the body together. Never throws.
 */
export function httpProbe(address: string, spec: HttpProbeSpec): Promise<ProbeOutcome> {
  const url = urlOf(address, spec);
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65_535) {
    return Promise.resolve({ ok: false, error: `port ${spec.port} is not a TCP port (1-65535); fix the probe's port`, url });
  }
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    let status: number | undefined;
    let req: http.ClientRequest | undefined;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Also what cuts off a body past the limit: the socket goes, unread data with it.
      req?.destroy();
      const ok = error === undefined && status === spec.expectStatus;
      resolve({
        ok,
        ...(status !== undefined ? { status } : {}),
        ...(error !== undefined ? { error } : {}),
        url,
      });
    };
    const timer = setTimeout(() => finish(`timed out after ${spec.timeoutMs} ms`), spec.timeoutMs);

    try {
      req = http.request(url, {
        method: 'GET',
        agent: false,
        headers: { 'user-agent': 'berth-health-probe', accept: '*/*', connection: 'close' },
      });
    } catch (err) {
      // A malformed address or path is rejected before any connection is tried.
      finish(`cannot request ${url}: ${describe(err)}`);
      return;
    }
    req.on('error', (err) => finish(describe(err)));
    req.on('response', (res) => {
      status = res.statusCode;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= MAX_BODY_BYTES) finish();
      });
      res.on('end', () => finish());
      // Node calls a body cut short 'aborted' (ECONNRESET), which reads like our own doing.
      res.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNRESET' ? BODY_CUT : describe(err)));
      res.on('close', () => finish(res.complete ? undefined : BODY_CUT));
    });
    req.end();
  });
}
