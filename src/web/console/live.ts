// Server-sent events: each open page gets its <main> pushed again whenever what it shows
// may have changed. berth writes status, channel and revision files atomically (a rename
// each), so a cheap poll of their modification times finds every change without a file
// watcher per page; the page is rendered again only then. A stream ends when the page
// closes it or the server closes (server.ts closes every connection on shutdown).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Html } from './html.js';

const POLL_MS = 1_000;
/** A comment line now and then keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 20_000;

async function mtimeOf(path: string): Promise<string> {
  try {
    const st = await stat(path);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return '-';
  }
}

/** A string that changes whenever a status, channel state or manifest changes. */
export async function fingerprint(stateRoot: string, manifestsDir: string, stack?: string): Promise<string> {
  const parts: string[] = [];
  const stacks = stack !== undefined ? [stack] : (await readdir(stateRoot).catch(() => [] as string[])).filter((n) => !n.startsWith('_') && !n.startsWith('.')).sort();
  for (const name of stacks) {
    parts.push(name, await mtimeOf(join(stateRoot, name, 'status.yaml')), await mtimeOf(join(stateRoot, name, 'channel.yaml')));
  }
  const manifests = (await readdir(manifestsDir).catch(() => [] as string[])).sort();
  for (const m of manifests) parts.push(m, await mtimeOf(join(manifestsDir, m)));
  return parts.join('|');
}

/** One server-sent event; every line of the data gets its own `data:` field. */
export function sseEvent(event: string, data: string): string {
  return `event: ${event}\n${data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join('\n')}\n\n`;
}

export function streamPage(
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  changed: () => Promise<string>,
  render: () => Promise<Html>,
): void {
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  res.write('retry: 2000\n\n');
  let last: string | undefined;
  let lastBody: string | undefined;
  let busy = false;
  let closed = false;
  const tick = async () => {
    if (busy || closed) return;
    busy = true;
    try {
      const fp = await changed();
      if (fp === last) return;
      last = fp;
      const body = (await render()).text;
      if (body === lastBody || closed) return;
      // The first one too: the page may have changed between its GET and this stream.
      res.write(sseEvent('main', body));
      lastBody = body;
    } catch {
      // A file read between two writes, a status being replaced: the next tick reads it whole.
      last = undefined;
    } finally {
      busy = false;
    }
  };
  void tick();
  const poll = setInterval(() => void tick(), POLL_MS);
  const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const stop = () => {
    closed = true;
    clearInterval(poll);
    clearInterval(beat);
  };
  req.on('close', stop);
  res.on('close', stop);
}
