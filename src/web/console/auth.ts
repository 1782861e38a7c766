// Who may write through the console. One secret, the token: from BERTH_HTTP_TOKEN, or
// `<state>/http-token` (made 0600 with random bytes on first start). A person proves they
// hold it once, on the login form; the session cookie is then an HMAC keyed by the token
// (never the token itself), so it is worthless once the token changes and cannot be made
// without it. Every form carries a CSRF token derived from the session, checked on POST
// together with the Origin header. All comparisons are constant-time.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { PRIVATE, writeFileAtomic } from '../../util/atomic.js';
import { isLoopback, parseAddr } from '../server.js';

export const TOKEN_ENV = 'BERTH_HTTP_TOKEN';
export const TOKEN_FILE = 'http-token';
export const SESSION_COOKIE = 'berth_session';
/** A session lasts a working day; then the person signs in again. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** Shorter tokens are guessable; the generated one has 32 random bytes. */
const MIN_TOKEN_LENGTH = 16;

export interface TokenSource {
  token: string;
  /** Where it came from, for the start-up message: never the token itself. */
  from: 'env' | 'file' | 'created';
  file: string;
}

/**
 * The console's token, and whether berth may serve on `addr` with it. On a non-loopback
 * address the token must have been chosen on purpose (env or an existing file): a token
 * berth just made up would be known to nobody, and the console would sit open to the
 * network with only that between it and the Stack manifests.
 */
export async function loadToken(stateDir: string, addr: string, env: NodeJS.ProcessEnv = process.env): Promise<TokenSource> {
  const { host } = parseAddr(addr);
  const file = join(stateDir, TOKEN_FILE);
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.trim().length < MIN_TOKEN_LENGTH) {
      throw new Error(`${TOKEN_ENV} is shorter than ${MIN_TOKEN_LENGTH} characters; use a long random value, e.g. $(openssl rand -hex 32)`);
    }
    return { token: fromEnv.trim(), from: 'env', file };
  }
  const existing = await readToken(file);
  if (existing !== undefined) return { token: existing, from: 'file', file };
  if (!isLoopback(host)) {
    throw new Error(
      `refusing to serve the web console on ${addr}, an address other machines can reach, without a token chosen for it: ` +
        `set ${TOKEN_ENV} (e.g. export ${TOKEN_ENV}=$(openssl rand -hex 32)) or write one to ${file} (mode 0600), ` +
        `or bind to loopback (--http 127.0.0.1:8420), or turn the console off (--http off)`,
    );
  }
  return { token: await createToken(file), from: 'created', file };
}

async function readToken(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the web console token ${file}: ${(err as Error).message}; fix its permissions or remove it to have berth make a new one`, { cause: err });
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(`the web console token in ${file} is shorter than ${MIN_TOKEN_LENGTH} characters; remove the file to have berth make a new one, or write a longer one`);
  }
  return token;
}

/** Writes a new token atomically, and only if no other process made one meanwhile (then that one wins). */
async function createToken(file: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  // Named like atomic.ts's temp files, so a crash before the rm leaves it for sweepLeftovers.
  const staged = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFileAtomic(staged, `${token}\n`, PRIVATE.file, PRIVATE.dir);
  try {
    // link() fails if the name exists: two berths starting at once agree on one token.
    await link(staged, file);
    return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = await readToken(file);
    if (other === undefined) throw err;
    return other;
  } finally {
    await rm(staged, { force: true });
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time string equality (hashing first makes the lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/**
 * Sessions signed out before they expired. A session is a signed cookie that the server
 * keeps nowhere, so without this list a copy of it (a shared machine's browser profile, a
 * stolen cookie) would work until it expired, sign-out or not. Each entry lives only as long
 * as the session would have; the list is kept in `<state>/http-signed-out` (0600, written
 * atomically) so a restart of berth does not bring signed-out sessions back.
 */
export class SignedOutSessions {
  private constructor(
    private readonly file: string | undefined,
    /** Session nonce -> when the session would have expired (ms since the epoch). */
    private readonly until: Map<string, number>,
  ) {}

  /** The list kept in `file` (none yet: empty); `file` undefined keeps it in memory only. */
  static async load(file: string | undefined, now: number = Date.now()): Promise<SignedOutSessions> {
    const until = new Map<string, number>();
    const text = file !== undefined ? await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new Error(`cannot read the console's signed-out sessions ${file}: ${err.message}; fix its permissions (berth writes it 0600)`, { cause: err });
    }) : undefined;
    for (const line of (text ?? '').split('\n')) {
      const [nonce, expires] = line.trim().split(' ');
      const at = Number(expires);
      if (nonce !== undefined && nonce !== '' && Number.isFinite(at) && at > now) until.set(nonce, at);
    }
    return new SignedOutSessions(file, until);
  }

  has(nonce: string): boolean {
    return this.until.has(nonce);
  }

  /** Adds a session and writes the list (dropping what has expired meanwhile). */
  async add(nonce: string, expires: number, now: number): Promise<void> {
    for (const [n, at] of this.until) if (at <= now) this.until.delete(n);
    this.until.set(nonce, expires);
    const file = this.file;
    if (file === undefined) return;
    // One write at a time, each of the list as it is then: two sign-outs at once must not
    // let the older list's rename land last.
    const write = this.writing.then(() => writeFileAtomic(file, [...this.until].map(([n, at]) => `${n} ${at}\n`).join(''), PRIVATE.file, PRIVATE.dir));
    this.writing = write.catch(() => undefined);
    await write;
  }

  private writing: Promise<unknown> = Promise.resolve();
}

export const SIGNED_OUT_FILE = 'http-signed-out';

export class ConsoleAuth {
  private readonly key: Buffer;

  constructor(
    private readonly token: string,
    private readonly now: () => number = Date.now,
    private readonly signedOut?: SignedOutSessions,
  ) {
    // A key of its own for signing, so a session value reveals nothing about the token.
    this.key = createHmac('sha256', token).update('berth console session key v1').digest();
  }

  private sign(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url');
  }

  /** Whether `given` is the token. */
  checkToken(given: string): boolean {
    return safeEqual(given.trim(), this.token);
  }

  /** A new session value: issue time, a random nonce, and their signature. */
  newSession(): string {
    const body = `${this.now().toString(36)}.${randomBytes(16).toString('base64url')}`;
    return `${body}.${this.sign(`session:${body}`)}`;
  }

  /** Whether a cookie value is a session this token signed and that has not expired. */
  validSession(value: string | undefined): boolean {
    if (value === undefined) return false;
    const parts = value.split('.');
    if (parts.length !== 3) return false;
    const [issued, nonce, mac] = parts as [string, string, string];
    if (!safeEqual(mac, this.sign(`session:${issued}.${nonce}`))) return false;
    const at = parseInt(issued, 36);
    const age = this.now() - at;
    return Number.isFinite(at) && age >= 0 && age < SESSION_TTL_MS && this.signedOut?.has(nonce) !== true;
  }

  /**
   * Ends a session for good, not only in this browser: its cookie is refused from now on,
   * wherever a copy of it is. A value that is no valid session has nothing to end.
   */
  async signOut(value: string | undefined): Promise<void> {
    if (value === undefined || !this.validSession(value) || this.signedOut === undefined) return;
    const [issued, nonce] = value.split('.') as [string, string, string];
    await this.signedOut.add(nonce, parseInt(issued, 36) + SESSION_TTL_MS, this.now());
  }

  /** The CSRF token every form of this session carries. */
  csrfFor(session: string): string {
    return this.sign(`csrf:${session}`);
  }

  checkCsrf(session: string, given: string | undefined): boolean {
    return given !== undefined && given !== '' && safeEqual(given, this.csrfFor(session));
  }
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export function sessionCookie(value: string): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`;
}

export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;

/**
 * Whether a POST comes from a page of this console. Browsers send Origin on every POST (the
 * pages' Referrer-Policy keeps it for same-origin ones); a request without Origin is not a
 * browser's, so no other site can have made the person's browser send it.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  // https: the console behind a TLS-terminating proxy that keeps the Host.
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Headers on every console response: nothing inline runs, nothing frames the page, nothing is cached. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cache-control': 'no-store',
};
