// HTTP to a vendor's release feed. Everything a feed server answers is bounded: one
// deadline covers connecting, the headers and the whole body (a server that trickles bytes
// times out like one that never answers), and the body is refused as soon as it grows past
// a limit. The proxy settings of the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) are
// honoured, as a host behind a corporate proxy needs.
import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import { envDispatcher as defaultDispatcher, loadUndici } from '../util/http-dispatcher.js';
import { FEED_LIMITS } from '../api/schema.js';
import { berthVersion } from '../util/version.js';
import { FeedError } from './errors.js';

/** Who is asking: sent as query parameters and headers so a vendor's control plane can answer per instance. */
export interface FeedIdentity {
  instance: string;
  stack: string;
  /** The version that runs, when berth knows it. */
  version?: string;
}

export interface FetchIndexOptions {
  /** spec.channel.url: the feed's base URL. */
  url: string;
  /** spec.channel.name. */
  channel: string;
  identity: FeedIdentity;
  /** The one deadline of the whole exchange, redirects and body included. */
  timeoutMs: number;
  maxBytes?: number;
  dispatcher?: Dispatcher;
}

export interface PostReportOptions {
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);


/** <url>/<channel>/index.json with the identity as query; a query already in the URL (a token, say) is kept. */
export function indexUrl(base: string, channel: string, identity: FeedIdentity): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(channel)}/index.json`;
  url.searchParams.set('instance', identity.instance);
  url.searchParams.set('stack', identity.stack);
  url.searchParams.set('version', identity.version ?? '');
  return url;
}

function baseHeaders(): Record<string, string> {
  // No compression is asked for, so the size limit applies to the bytes berth has to hold.
  return { 'user-agent': `berth/${berthVersion()}`, 'accept-encoding': 'identity' };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** The most telling words of a network error: undici and net nest the cause, and an AggregateError has no message. */
function networkDetail(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (e instanceof AggregateError && e.errors.length > 0 && e.message === '') {
      e = e.errors[0];
      continue;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (e.message !== '' || code !== undefined) {
      const msg = e.message || String(code);
      return code !== undefined && !msg.includes(code) ? `${msg} (${code})` : msg;
    }
    e = e.cause;
  }
  return String(err);
}

function httpRefusal(method: string, url: URL, status: number): FeedError {
  const phrase = STATUS_CODES[status] ?? 'unknown status';
  const next =
    status === 404
      ? 'check spec.channel.url and spec.channel.name (berth reads <url>/<name>/index.json)'
      : status === 401 || status === 403
        ? 'the feed refused this host; ask its vendor'
        : status >= 500
          ? 'the feed server failed; berth tries again at the next check-in'
          : 'ask the vendor of the feed';
  return new FeedError('FeedHttpError', `${method} ${url.href} answered HTTP ${status} ${phrase}; ${next}`, { status });
}

/** Drops a response body without reading it, freeing its connection. */
function discard(body: Dispatcher.ResponseData['body']): void {
  // undici reports destroying an unfinished body as an 'error' event; nobody else listens,
  // and an unheard 'error' would crash the process.
  body.on('error', () => {});
  body.destroy();
}

interface Exchange {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
  url: URL;
}

/** One request, following up to MAX_REDIRECTS redirects under the same deadline and rules. */
async function exchange(
  method: 'GET' | 'POST',
  start: URL,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
  dispatcher: Dispatcher,
): Promise<Exchange> {
  const { request } = await loadUndici();
  let url = start;
  for (let hop = 0; ; hop++) {
    const res = await request(url, { method, headers, body: body ?? null, signal, dispatcher, maxRedirections: 0 });
    if (!REDIRECT_STATUSES.has(res.statusCode)) return { statusCode: res.statusCode, headers: res.headers, body: res.body, url };
    // The redirect's own body is of no interest; do not wait for it.
    discard(res.body);
    const location = res.headers['location'];
    const target = Array.isArray(location) ? location[0] : location;
    const tell = (what: string) =>
      new FeedError('FeedHttpError', `${method} ${start.href}: ${what}; fix the feed URL (spec.channel.url) or the server's redirects`, { status: res.statusCode });
    if (target === undefined) throw tell(`${url.href} answered HTTP ${res.statusCode} without a Location header`);
    if (hop >= MAX_REDIRECTS) throw tell(`more than ${MAX_REDIRECTS} redirects (the last one to ${target})`);
    let next: URL;
    try {
      next = new URL(target, url);
    } catch {
      throw tell(`${url.href} redirects to an unreadable location`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw tell(`${url.href} redirects to ${next.protocol} URL`);
    // The identity berth sends must not leave TLS because a server said so.
    if (url.protocol === 'https:' && next.protocol === 'http:') throw tell(`${url.href} redirects from https to plain http (${next.href})`);
    // 301/302/303 turn a POST into a GET in browsers; a report sent as a GET is lost, so say so instead.
    if (method === 'POST' && res.statusCode !== 307 && res.statusCode !== 308) {
      throw tell(`${url.href} answered HTTP ${res.statusCode} to a POST; only 307 and 308 redirects keep the report`);
    }
    url = next;
  }
}

/** Runs `work` under one deadline and turns whatever goes wrong into a FeedError. */
async function bounded<T>(what: string, url: URL, timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // Our own timer, cleared when the work ends: an AbortSignal.timeout would still fire after
  // an early refusal (a body over the size cap), and undici reports that late abort as an
  // uncaught RequestAbortedError, which would take the whole operator down.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  timer.unref();
  const signal = controller.signal;
  try {
    return await work(signal);
  } catch (err) {
    if (err instanceof FeedError) throw err;
    if (signal.aborted) {
      throw new FeedError(
        'FeedTimeout',
        `${what} ${url.href}: no complete answer within ${seconds(timeoutMs)}; the server or the network is slow or down; berth tries again at the next check-in (spec.channel.timeoutSeconds is the bound)`,
        { cause: err },
      );
    }
    throw new FeedError(
      'FeedUnreachable',
      `${what} ${url.href} failed: ${networkDetail(err)}; check the URL, DNS, the proxy settings (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and that the server is up`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GETs <url>/<channel>/index.json for `identity`. Returns the body as text and the URL that
 * answered it (after redirects). Throws FeedError: FeedUnreachable, FeedTimeout,
 * FeedHttpError (non-2xx, bad redirects), FeedTooLarge, FeedMalformed (not UTF-8).
 */
export async function fetchIndex(opts: FetchIndexOptions): Promise<{ body: string; url: string }> {
  const maxBytes = opts.maxBytes ?? FEED_LIMITS.maxBytes;
  const url = indexUrl(opts.url, opts.channel, opts.identity);
  const headers: Record<string, string> = {
    ...baseHeaders(),
    accept: 'application/json, application/yaml;q=0.9, */*;q=0.1',
    'berth-instance': opts.identity.instance,
    'berth-stack': opts.identity.stack,
    'berth-channel': opts.channel,
    ...(opts.identity.version !== undefined && opts.identity.version !== '' ? { 'berth-version': opts.identity.version } : {}),
  };
  return bounded('GET', url, opts.timeoutMs, async (signal) => {
    const res = await exchange('GET', url, headers, undefined, signal, opts.dispatcher ?? (await defaultDispatcher()));
    const tooLarge = (size: string) =>
      new FeedError('FeedTooLarge', `GET ${res.url.href}: the index is ${size}, more than the ${maxBytes} bytes berth accepts; the feed is broken or hostile, tell its vendor`);
    try {
      if (res.statusCode < 200 || res.statusCode > 299) throw httpRefusal('GET', res.url, res.statusCode);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(`${declared} bytes by its Content-Length`);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxBytes) throw tooLarge('still growing past that limit');
        chunks.push(chunk);
      }
      let text: string;
      try {
        // fatal: a body that is not UTF-8 is not an index, and must not be read as one with U+FFFD in it.
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, total));
      } catch {
        throw new FeedError('FeedMalformed', `GET ${res.url.href}: the answer is not UTF-8 text; the feed serves something other than an index, tell its vendor`);
      }
      return { body: text, url: res.url.href };
    } finally {
      // Early refusals leave the body unread.
      discard(res.body);
    }
  });
}

/**
 * POSTs `body` as JSON to `url` (a release index's `report` URL). Any 2xx is success; the
 * answer's body is read and dropped. Throws FeedError like fetchIndex does.
 */
export async function postReport(url: string, body: object, opts: PostReportOptions): Promise<void> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new FeedError('FeedInvalid', `the report URL ${JSON.stringify(url)} is not a URL; the feed's index names it, tell its vendor`);
  }
  const payload = JSON.stringify(body);
  const headers = { ...baseHeaders(), 'content-type': 'application/json' };
  await bounded('POST', target, opts.timeoutMs, async (signal) => {
    const res = await exchange('POST', target, headers, payload, signal, opts.dispatcher ?? (await defaultDispatcher()));
    try {
      if (res.statusCode < 200 || res.statusCode > 299) throw httpRefusal('POST', res.url, res.statusCode);
      // Read a little so a keep-alive connection can be reused; a report's answer says nothing berth needs.
      await res.body.dump({ limit: 64 * 1024 });
    } finally {
      discard(res.body);
    }
  });
}
