// The console's routes: pages (overview, a stack), their live streams, the login, the three
// actions and the two static files. Reading is open on loopback and needs a session
// anywhere else; every write needs a session, its CSRF token and a same-origin request,
// and only edits the Stack manifest (through the controller's actions) or wakes a check-in.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { StateStore } from '../../store/state.js';
import { isLoopback, type Route } from '../server.js';
import { ASSETS } from './assets.js';
import {
  CLEAR_SESSION_COOKIE,
  ConsoleAuth,
  parseCookies,
  SECURITY_HEADERS,
  SESSION_COOKIE,
  sameOrigin,
  sessionCookie,
} from './auth.js';
import type { Html } from './html.js';
import { fingerprint, streamPage } from './live.js';
import { loadOverview, loadStack, type LoadDeps } from './model.js';
import { layout, loginPage, notFoundMain, overviewMain, stackMain, type PageContext, type Tone } from './views.js';

/** What the buttons do. Each edits the Stack manifest (or only wakes a check-in); none acts on the engine. */
export interface ConsoleActions {
  /** Approves the version that waits (spec.approve); throws a person-readable Error when it cannot. */
  approve(stack: string, version: string): Promise<{ inGitCheckout: boolean }>;
  /** Sets the manifest to a kept good revision; throws a person-readable Error when it cannot. */
  rollback(stack: string, revision: number): Promise<string>;
  /** Wakes the stack's check-in early; false when the stack follows no channel. */
  checkNow(stack: string): boolean;
}

export interface ConsoleOptions extends LoadDeps {
  state: StateStore;
  auth: ConsoleAuth;
  /** Bound to loopback: pages reached by a loopback name may be read without signing in (writes still need it). */
  loopback: boolean;
  actions: ConsoleActions;
  log: Logger;
  tokenHint: string;
}

const STACK_NAME = '([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)';
const MAX_FORM_BYTES = 16 * 1024;

function send(res: ServerResponse, status: number, body: string | Html, type = 'text/html; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
  res.end(typeof body === 'string' ? body : body.text);
}

function redirect(res: ServerResponse, to: string, extra: Record<string, string> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location: to, ...extra });
  res.end();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) throw new FormError(415, 'send the form as application/x-www-form-urlencoded');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new FormError(413, 'the form is too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

class FormError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Only paths of this console are followed after a login: never another site. */
function safeNext(next: string | null | undefined): string {
  return next !== null && next !== undefined && /^\/(?!\/)[A-Za-z0-9/_.-]*$/.test(next) ? next : '/';
}

const FLASH: Record<string, (q: URLSearchParams) => { tone: Tone; text: string }> = {
  approved: (q) => ({
    tone: 'ok',
    text:
      `Approved ${q.get('version') ?? ''}: the manifest now says so, and berth applies it on its next pass.` +
      (q.get('git') === '1' ? ' The manifest is in a git checkout: commit the change there, or the next sync may undo it.' : ''),
  }),
  checking: () => ({ tone: 'info', text: 'Checking for updates now: berth asks the channel at once.' }),
  rollback: (q) => ({ tone: 'ok', text: `Rolling back to revision ${q.get('revision') ?? ''}: the manifest now names it, and berth converges to it.` }),
};

export function consoleRoutes(o: ConsoleOptions): Route[] {
  const sessionOf = (req: IncomingMessage): string | undefined => {
    const value = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    return o.auth.validSession(value) ? value : undefined;
  };
  const context = (req: IncomingMessage, flash?: PageContext['flash']): PageContext => {
    const session = sessionOf(req);
    return {
      signedIn: session !== undefined,
      ...(session !== undefined ? { csrf: o.auth.csrfFor(session) } : {}),
      now: new Date(),
      ...(flash !== undefined ? { flash } : {}),
    };
  };
  /**
   * Pages are open without a session only on a loopback address reached by a loopback name.
   * Any other Host (a reverse proxy's public name, or another site's name rebound to
   * 127.0.0.1) needs a session like a non-loopback address, and a rebound site never gets
   * the cookie: it belongs to the loopback name.
   */
  const openToRead = (req: IncomingMessage): boolean => {
    if (!o.loopback) return false;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    return isLoopback(host);
  };
  /** Off loopback, every page needs a session; returns false after redirecting to the login. */
  const mayRead = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (openToRead(req) || sessionOf(req) !== undefined) return true;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    redirect(res, `/login?next=${encodeURIComponent(path)}`);
    return false;
  };
  const flashOf = (req: IncomingMessage): PageContext['flash'] => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const make = FLASH[q.get('done') ?? ''];
    return make?.(q);
  };

  const overview = async (ctx: PageContext): Promise<Html> => overviewMain(await loadOverview(o.state), ctx);
  const stackPage = async (name: string, ctx: PageContext): Promise<Html | undefined> => {
    const view = await loadStack(o, name);
    return view === undefined ? undefined : stackMain(view, ctx);
  };

  /** Checks a POST: same origin, signed in, the session's CSRF token. Returns the form, or answers and returns undefined. */
  const authorise = async (req: IncomingMessage, res: ServerResponse, what: string): Promise<URLSearchParams | undefined> => {
    if (!sameOrigin(req)) {
      o.log.warn({ what, origin: req.headers.origin }, 'refused a console request from another origin');
      send(res, 403, 'refused: this request did not come from a page of this console\n', 'text/plain; charset=utf-8');
      return undefined;
    }
    const session = sessionOf(req);
    if (session === undefined) {
      send(res, 401, 'refused: sign in with the console token first (/login)\n', 'text/plain; charset=utf-8');
      return undefined;
    }
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (err) {
      if (!(err instanceof FormError)) throw err;
      send(res, err.status, `refused: ${err.message}\n`, 'text/plain; charset=utf-8');
      return undefined;
    }
    if (!o.auth.checkCsrf(session, form.get('csrf') ?? undefined)) {
      o.log.warn({ what }, 'refused a console request with a missing or wrong CSRF token');
      send(res, 403, 'refused: the form is stale or did not come from this console (CSRF token); reload the page and try again\n', 'text/plain; charset=utf-8');
      return undefined;
    }
    return form;
  };

  const act = (action: string, run: (name: string, form: URLSearchParams) => Promise<string>): Route => ({
    method: 'POST',
    path: new RegExp(`^/stacks/${STACK_NAME}/${action}$`),
    handle: async (req, res, [name]) => {
      const stack = name as string;
      const form = await authorise(req, res, `${action} ${stack}`);
      if (form === undefined) return;
      try {
        const query = await run(stack, form);
        o.log.info({ stack, action }, 'console action');
        redirect(res, `/stacks/${encodeURIComponent(stack)}?${query}`);
      } catch (err) {
        const message = (err as Error).message;
        o.log.info({ stack, action, reason: message }, 'console action refused');
        const ctx = context(req, { tone: 'bad', text: message });
        const main = (await stackPage(stack, ctx)) ?? notFoundMain(stack);
        send(res, 409, layout(stack, ctx, main, `/events?stack=${encodeURIComponent(stack)}`));
      }
    },
  });

  return [
    { method: 'GET', path: ASSETS.css.path, handle: (_q, res) => send(res, 200, ASSETS.css.body, ASSETS.css.type, { 'cache-control': 'public, max-age=31536000, immutable' }) },
    { method: 'GET', path: ASSETS.js.path, handle: (_q, res) => send(res, 200, ASSETS.js.body, ASSETS.js.type, { 'cache-control': 'public, max-age=31536000, immutable' }) },
    {
      method: 'GET',
      path: '/',
      handle: async (req, res) => {
        if (!mayRead(req, res)) return;
        const ctx = context(req, flashOf(req));
        send(res, 200, layout('Stacks', ctx, await overview(ctx), '/events'));
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^/stacks/${STACK_NAME}$`),
      handle: async (req, res, [name]) => {
        if (!mayRead(req, res)) return;
        const ctx = context(req, flashOf(req));
        const main = await stackPage(name as string, ctx);
        if (main === undefined) return send(res, 404, layout(name as string, ctx, notFoundMain(name as string)));
        send(res, 200, layout(name as string, ctx, main, `/events?stack=${encodeURIComponent(name as string)}`));
      },
    },
    {
      method: 'GET',
      path: '/events',
      handle: (req, res) => {
        if (!openToRead(req) && sessionOf(req) === undefined) return send(res, 401, 'sign in first\n', 'text/plain; charset=utf-8');
        const stack = new URL(req.url ?? '/', 'http://x').searchParams.get('stack') ?? undefined;
        if (stack !== undefined && !new RegExp(`^${STACK_NAME}$`).test(stack)) return send(res, 400, 'not a stack name\n', 'text/plain; charset=utf-8');
        // Each push renders for this session: its forms carry its CSRF token. No flash: it was for the page load.
        streamPage(
          req,
          res,
          SECURITY_HEADERS,
          () => fingerprint(o.state.root, o.manifestsDir, stack),
          async () => (stack === undefined ? overview(context(req)) : ((await stackPage(stack, context(req))) ?? notFoundMain(stack))),
        );
      },
    },
    {
      method: 'GET',
      path: '/login',
      handle: (req, res) => {
        const next = safeNext(new URL(req.url ?? '/', 'http://x').searchParams.get('next'));
        send(res, 200, loginPage(context(req), { next, tokenFile: o.tokenHint }));
      },
    },
    {
      method: 'POST',
      path: '/login',
      handle: async (req, res) => {
        if (!sameOrigin(req)) return send(res, 403, 'refused: this request did not come from a page of this console\n', 'text/plain; charset=utf-8');
        let form: URLSearchParams;
        try {
          form = await readForm(req);
        } catch (err) {
          if (!(err instanceof FormError)) throw err;
          return send(res, err.status, `refused: ${err.message}\n`, 'text/plain; charset=utf-8');
        }
        const next = safeNext(form.get('next'));
        if (!o.auth.checkToken(form.get('token') ?? '')) {
          o.log.warn('a console sign-in with a wrong token was refused');
          return send(res, 401, loginPage(context(req), { next, tokenFile: o.tokenHint, error: 'That is not the console token.' }));
        }
        redirect(res, next, { 'set-cookie': sessionCookie(o.auth.newSession()) });
      },
    },
    {
      method: 'POST',
      path: '/logout',
      // Signing out ends the session (any copy of its cookie is refused from then on) and
      // clears the cookie. An expired session may always do it, and another site making a
      // browser sign out gains nothing, so only the origin is checked.
      handle: async (req, res) => {
        if (!sameOrigin(req)) return send(res, 403, 'refused: this request did not come from a page of this console\n', 'text/plain; charset=utf-8');
        req.resume();
        try {
          await o.auth.signOut(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
        } catch (err) {
          // The session is ended in this berth all the same; only a restart would forget it.
          o.log.error({ err }, 'the console could not write down a signed-out session; it is refused until berth restarts');
        }
        redirect(res, '/', { 'set-cookie': CLEAR_SESSION_COOKIE });
      },
    },
    act('approve', async (name, form) => {
      const version = form.get('version') ?? '';
      if (version === '') throw new Error('name the version to apply');
      const { inGitCheckout } = await o.actions.approve(name, version);
      return new URLSearchParams({ done: 'approved', version, ...(inGitCheckout ? { git: '1' } : {}) }).toString();
    }),
    act('rollback', async (name, form) => {
      const revision = Number(form.get('revision'));
      if (!Number.isInteger(revision) || revision < 1) throw new Error('choose a revision to roll back to');
      await o.actions.rollback(name, revision);
      return new URLSearchParams({ done: 'rollback', revision: String(revision) }).toString();
    }),
    act('check', async (name) => {
      if (!o.actions.checkNow(name)) throw new Error(`stack "${name}" follows no release channel (or berth has not read its manifest yet): there is nothing to check`);
      return 'done=checking';
    }),
  ];
}
