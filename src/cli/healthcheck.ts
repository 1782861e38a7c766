#!/usr/bin/env node
// The berth image's HEALTHCHECK: GET /healthz of the console berth serves, at the address
// `berth run` was told to bind (BERTH_HTTP, the same variable `--http` defaults from, or
// argv[2]). The engine runs it inside the container's network namespace, so a wildcard
// bind (0.0.0.0, ::) is probed on loopback. A tiny node script rather than curl: the image
// has node anyway, and curl would add a dozen libraries for one request.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DEFAULT_HTTP_ADDR, parseAddr } from '../web/server.js';

const TIMEOUT_MS = 4_000;

/** The URL of /healthz for berth bound to `addr`, reachable from the same network namespace. */
export function healthzUrl(addr: string): string {
  const { host, port } = parseAddr(addr);
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/healthz`;
}

/** Exit code for the engine: 0 healthy, 1 unhealthy (with why on stderr). */
export async function healthcheck(addr: string): Promise<number> {
  if (addr === 'off') {
    process.stderr.write('berth healthcheck: the console is off (BERTH_HTTP=off), so there is no /healthz to probe; set BERTH_HTTP to the address berth binds, or drop the HEALTHCHECK\n');
    return 1;
  }
  let url: string;
  try {
    url = healthzUrl(addr);
  } catch (err) {
    process.stderr.write(`berth healthcheck: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (res.status === 200) return 0;
    process.stderr.write(`berth healthcheck: GET ${url} answered HTTP ${res.status}\n`);
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    process.stderr.write(`berth healthcheck: GET ${url} failed: ${(err as Error).message}${cause ? ` (${cause})` : ''}\n`);
  }
  return 1;
}

// Run as a program (the HEALTHCHECK), not when a test imports it.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await healthcheck(process.argv[2] ?? process.env['BERTH_HTTP'] ?? DEFAULT_HTTP_ADDR);
}
