// berth's HTTP server: routing, health endpoints and the address rules of --http.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { isLoopback, parseAddr, startWebServer } from '../../src/web/server.js';

const log = pino({ level: 'silent' });

test('--http takes HOST:PORT, IPv6 in brackets, and refuses anything else with a hint', () => {
  assert.deepEqual(parseAddr('127.0.0.1:8420'), { host: '127.0.0.1', port: 8420 });
  assert.deepEqual(parseAddr('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['8420', 'localhost', ':8420', '1.2.3.4:70000', '[::1]']) {
    assert.throws(() => parseAddr(bad), /is not HOST:PORT/, bad);
  }
});

test('only loopback addresses count as local', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) assert.equal(isLoopback(h), false, h);
});

test('healthz answers at once, readyz only once berth is ready, unknown paths 404 and wrong methods 405', async () => {
  let ready = false;
  const server = await startWebServer({
    addr: '127.0.0.1:0',
    log,
    ready: () => ready,
    routes: [{ method: 'GET', path: /^\/stacks\/([^/]+)$/, handle: (_q, res, [name]) => void res.end(`stack ${name}`) }],
  });
  try {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
    ready = true;
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    assert.equal(await (await fetch(`${server.url}/stacks/sh%6Fp`)).text(), 'stack shop');
    assert.equal((await fetch(`${server.url}/nothing`)).status, 404);
    const post = await fetch(`${server.url}/healthz`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  } finally {
    await server.close();
  }
});

test('an address in use is reported with what to do', async () => {
  const first = await startWebServer({ addr: '127.0.0.1:0', log, ready: () => true, routes: [] });
  try {
    const port = new URL(first.url).port;
    await assert.rejects(startWebServer({ addr: `127.0.0.1:${port}`, log, ready: () => true, routes: [] }), /EADDRINUSE.*--http HOST:PORT, or --http off/);
  } finally {
    await first.close();
  }
});
