// Who may write through the console: the token, its file, the session cookie, the CSRF
// token and the Origin check, each on its own; and the same rules over real HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { StackStatus } from '../../src/api/types.js';
import { StateStore } from '../../src/store/state.js';
import { ConsoleAuth, loadToken, parseCookies, SESSION_TTL_MS, SignedOutSessions } from '../../src/web/console/auth.js';
import { consoleRoutes, type ConsoleActions } from '../../src/web/console/routes.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';

const TOKEN = 'a-test-token-that-is-long-enough';
const log = pino({ level: 'silent' });

test('a session is signed by the token: tampered, expired or another token\'s sessions are refused', () => {
  let now = 1_000_000;
  const auth = new ConsoleAuth(TOKEN, () => now);
  const session = auth.newSession();
  assert.ok(auth.validSession(session));
  assert.ok(!session.includes(TOKEN), 'the cookie does not carry the token');
  assert.notEqual(auth.newSession(), session, 'every login gets a session of its own');
  assert.ok(!auth.validSession(session.slice(0, -2) + (session.endsWith('AA') ? 'BB' : 'AA')));
  assert.ok(!auth.validSession(`${(now + 1).toString(36)}${session.slice(session.indexOf('.'))}`), 'the issue time is signed');
  assert.ok(!new ConsoleAuth(`${TOKEN}-rotated`, () => now).validSession(session), 'a new token ends every session');
  assert.ok(!auth.validSession(undefined));
  assert.ok(!auth.validSession('garbage'));
  now += SESSION_TTL_MS;
  assert.ok(!auth.validSession(session), 'a session ends after its time');
});

test('signing out ends that session wherever its cookie is kept; other sessions go on; a restart does not bring it back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-signout-'));
  try {
    const file = join(dir, 'state', 'http-signed-out');
    let now = 1_000_000;
    const auth = new ConsoleAuth(TOKEN, () => now, await SignedOutSessions.load(file, now));
    const a = auth.newSession();
    const b = auth.newSession();
    await auth.signOut(a);
    assert.ok(!auth.validSession(a), 'a copy of the signed-out cookie is refused');
    assert.ok(auth.validSession(b), 'another session goes on');
    await auth.signOut('garbage');
    await auth.signOut(undefined);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    // Sign-outs at the same moment all reach the file.
    const many = Array.from({ length: 5 }, () => auth.newSession());
    await Promise.all(many.map((m) => auth.signOut(m)));

    const restarted = new ConsoleAuth(TOKEN, () => now, await SignedOutSessions.load(file, now));
    for (const m of many) assert.ok(!restarted.validSession(m), 'every one of the simultaneous sign-outs was kept');
    assert.ok(!restarted.validSession(a), 'still refused after berth restarts');
    assert.ok(restarted.validSession(b));

    // An entry lasts as long as its session would have: then it is dropped from the file.
    now += SESSION_TTL_MS;
    const later = new ConsoleAuth(TOKEN, () => now, await SignedOutSessions.load(file, now));
    const c = later.newSession();
    await later.signOut(c);
    assert.deepEqual((await readFile(file, 'utf8')).trim().split('\n').length, 1, 'only the live entry is kept');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the CSRF token belongs to one session', () => {
  const auth = new ConsoleAuth(TOKEN);
  const a = auth.newSession();
  const b = auth.newSession();
  assert.ok(auth.checkCsrf(a, auth.csrfFor(a)));
  assert.ok(!auth.checkCsrf(a, auth.csrfFor(b)));
  assert.ok(!auth.checkCsrf(a, undefined));
  assert.ok(!auth.checkCsrf(a, ''));
  assert.ok(auth.checkToken(` ${TOKEN}\n`));
  assert.ok(!auth.checkToken(TOKEN.slice(1)));
});

test('the token file is made 0600 on loopback, kept across starts, and required off loopback', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-token-'));
  try {
    await assert.rejects(loadToken(dir, '0.0.0.0:8420', {}), /refusing to serve the web console on 0\.0\.0\.0:8420.*BERTH_HTTP_TOKEN/);
    const made = await loadToken(dir, '127.0.0.1:8420', {});
    assert.equal(made.from, 'created');
    assert.ok(made.token.length >= 40);
    assert.equal((await stat(join(dir, 'http-token'))).mode & 0o777, 0o600);
    const again = await loadToken(dir, '127.0.0.1:8420', {});
    assert.deepEqual([again.from, again.token], ['file', made.token]);
    // Now the token was chosen (it exists on disk): any address may serve with it.
    assert.equal((await loadToken(dir, '0.0.0.0:8420', {})).token, made.token);
    assert.equal((await loadToken(dir, '0.0.0.0:8420', { BERTH_HTTP_TOKEN: TOKEN })).from, 'env');
    await assert.rejects(loadToken(dir, '127.0.0.1:1', { BERTH_HTTP_TOKEN: 'short' }), /shorter than 16/);
    await writeFile(join(dir, 'http-token'), 'tiny\n');
    await assert.rejects(loadToken(dir, '127.0.0.1:1', {}), /shorter than 16.*remove the file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---- over HTTP

function status(): StackStatus {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'StackStatus',
    metadata: { name: 'shop' },
    status: {
      mode: 'notify',
      currentVersion: '1.0.0',
      targetVersion: '1.1.0',
      services: [],
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Converged', message: 'runs', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'AwaitingApproval', status: 'True', reason: 'ApprovalRequired', message: 'set spec.approve to "1.1.0"', lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    },
  } as StackStatus;
}

let dir: string;
const calls: string[] = [];
const actions: ConsoleActions = {
  approve: async (stack, version) => {
    calls.push(`approve ${stack} ${version}`);
    return { inGitCheckout: false };
  },
  rollback: async (stack, revision) => {
    calls.push(`rollback ${stack} ${revision}`);
    return '';
  },
  checkNow: (stack) => {
    calls.push(`check ${stack}`);
    return true;
  },
};
let loopback: WebServer;
let exposed: WebServer;

async function serve(isLoopback: boolean): Promise<WebServer> {
  const state = new StateStore(join(dir, 'state'));
  return startWebServer({
    addr: '127.0.0.1:0',
    log,
    ready: () => true,
    routes: consoleRoutes({ state, manifestsDir: join(dir, 'manifests'), auth: new ConsoleAuth(TOKEN, Date.now, await SignedOutSessions.load(undefined)), loopback: isLoopback, actions, log, tokenHint: 'http-token' }),
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-console-http-'));
  await new StateStore(join(dir, 'state')).writeStatus({ stack: 'shop' }, status());
  loopback = await serve(true);
  exposed = await serve(false);
});
after(async () => {
  await loopback.close();
  await exposed.close();
  await rm(dir, { recursive: true, force: true });
});

async function login(base: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: TOKEN, next: '/stacks/shop' }) });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/stacks/shop');
  const setCookie = res.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /; HttpOnly/);
  assert.match(setCookie, /; SameSite=Strict/);
  const cookie = setCookie.split(';')[0]!;
  const page = await (await fetch(`${base}/stacks/shop`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, 'a signed-in page carries its CSRF token');
  return { cookie, csrf };
}

const post = (base: string, path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', body: new URLSearchParams(body), headers });

test('every page carries a strict CSP and the other security headers', async () => {
  const res = await fetch(`${loopback.url}/stacks/shop`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'same-origin');
  const css = /href="(\/static\/[^"]+\.css)"/.exec(await res.text())?.[1];
  const cssRes = await fetch(`${loopback.url}${css}`);
  assert.equal(cssRes.headers.get('content-type'), 'text/css; charset=utf-8');
});

test('a POST without a session, with a wrong CSRF token, or from another origin is refused and does nothing', async () => {
  calls.length = 0;
  const { cookie, csrf } = await login(loopback.url);
  assert.equal((await post(loopback.url, '/stacks/shop/approve', { version: '1.1.0', csrf })).status, 401, 'no session');
  assert.equal((await post(loopback.url, '/stacks/shop/approve', { version: '1.1.0', csrf: 'wrong' }, { cookie })).status, 403, 'wrong CSRF token');
  assert.equal((await post(loopback.url, '/stacks/shop/approve', { version: '1.1.0' }, { cookie })).status, 403, 'no CSRF token');
  const forged = await post(loopback.url, '/stacks/shop/approve', { version: '1.1.0', csrf }, { cookie, origin: 'http://evil.example' });
  assert.equal(forged.status, 403, 'another origin');
  assert.equal((await post(loopback.url, '/stacks/shop/approve', { version: '1.1.0', csrf }, { cookie: 'berth_session=1.2.3' })).status, 401, 'a made-up session');
  assert.deepEqual(calls, []);
  const ok = await post(loopback.url, '/stacks/shop/approve', { version: '1.1.0', csrf }, { cookie, origin: new URL(loopback.url).origin });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get('location'), '/stacks/shop?done=approved&version=1.1.0');
  assert.deepEqual(calls, ['approve shop 1.1.0']);
});

test('a wrong token does not sign in; the login never redirects to another site', async () => {
  const res = await post(loopback.url, '/login', { token: 'not-the-token-at-all', next: '/' });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('set-cookie'), null);
  const away = await post(loopback.url, '/login', { token: TOKEN, next: '//evil.example/' });
  assert.equal(away.headers.get('location'), '/');
});

test('off loopback every page needs a session; health endpoints never do', async () => {
  const res = await fetch(`${exposed.url}/stacks/shop`, { redirect: 'manual' });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/login?next=%2Fstacks%2Fshop');
  assert.equal((await fetch(`${exposed.url}/events`)).status, 401);
  assert.equal((await fetch(`${exposed.url}/healthz`)).status, 200);
  const { cookie } = await login(exposed.url);
  assert.equal((await fetch(`${exposed.url}/`, { headers: { cookie } })).status, 200);
});

test('cookies parse by name; the first of a repeated name counts', () => {
  assert.deepEqual([...parseCookies('a=1; berth_session=x.y.z; a=2')], [['a', '1'], ['berth_session', 'x.y.z']]);
});

test('the live stream pushes the page again when the status file changes', async () => {
  const res = await fetch(`${loopback.url}/events?stack=shop`);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const until = async (pattern: RegExp) => {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended before ${pattern}`);
      text += decoder.decode(value);
    }
  };
  await until(/event: main\n[\s\S]*1\.0\.0[\s\S]*\n\n/);
  const s = status();
  s.status.currentVersion = '1.1.0-live';
  await new StateStore(join(dir, 'state')).writeStatus({ stack: 'shop' }, s);
  await until(/1\.1\.0-live/);
  await reader.cancel();
  assert.equal((await readFile(join(dir, 'state', 'shop', 'status.yaml'), 'utf8')).includes('1.1.0-live'), true);
});

test('closing the server ends every live stream', async () => {
  const server = await serve(true);
  const res = await fetch(`${server.url}/events`);
  const reader = res.body!.getReader();
  await reader.read();
  await server.close();
  for (;;) {
    const r = await reader.read().catch(() => ({ done: true }));
    if (r.done) break;
  }
});

test('on loopback, pages are open only to a loopback host name: another name (DNS rebinding, a proxy) must sign in', async () => {
  const { request } = await import('node:http');
  const get = (host: string, path = '/') =>
    new Promise<{ status: number; location?: string }>((resolve, reject) => {
      const u = new URL(loopback.url);
      request({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, ...(res.headers.location !== undefined ? { location: res.headers.location } : {}) });
      })
        .on('error', reject)
        .end();
    });
  assert.deepEqual(await get('evil.example:8420'), { status: 303, location: '/login?next=%2F' });
  assert.equal((await get('evil.example:8420', '/events')).status, 401);
  assert.equal((await get(`localhost:${new URL(loopback.url).port}`)).status, 200);
  assert.equal((await get(new URL(loopback.url).host)).status, 200);
});

test('after signing out, the same cookie can neither read a page nor write', async () => {
  calls.length = 0;
  const { cookie, csrf } = await login(exposed.url);
  const origin = new URL(exposed.url).origin;
  assert.equal((await post(exposed.url, '/logout', { csrf }, { cookie, origin })).status, 303);
  const page = await fetch(`${exposed.url}/stacks/shop`, { redirect: 'manual', headers: { cookie } });
  assert.equal(page.status, 303, 'sent to the login page');
  assert.equal((await post(exposed.url, '/stacks/shop/approve', { version: '1.1.0', csrf }, { cookie, origin })).status, 401);
  assert.deepEqual(calls, []);
});

test('signing out clears the cookie, even for a session that has expired', async () => {
  const res = await post(loopback.url, '/logout', {}, { cookie: 'berth_session=expired.or.forged' });
  assert.equal(res.status, 303);
  assert.match(res.headers.get('set-cookie') ?? '', /^berth_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/);
  assert.equal((await post(loopback.url, '/logout', {}, { origin: 'http://evil.example' })).status, 403);
});
