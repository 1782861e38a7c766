// berth's own client for the Docker engine API (src/docker/engine-http.ts), which replaced
// dockerode at run time: dockerode loaded an SSH client, gRPC and protobuf that an idle berth
// carried for nothing (about 20 MB RSS; issue 10 item 6). What it must keep doing: find the
// engine as the docker CLI does, speak the negotiated API version, send filters as the engine
// wants them, carry the engine's refusals with their status, and read pulls and events as
// streams. Here against a real HTTP server on a unix socket; the real engine is exercised by
// the integration tests (probe, engine-pull, and every stack test).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, EngineError } from '../../src/docker/engine.js';
import { addressFromEnv, DEFAULT_SOCKET, EngineHttpError, pullParams } from '../../src/docker/engine-http.js';

describe('where the engine is (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, as the docker CLI reads them)', () => {
  test('unset or unix:// without a path: the default socket', () => {
    assert.deepEqual(addressFromEnv({}), { socketPath: DEFAULT_SOCKET });
    assert.deepEqual(addressFromEnv({ DOCKER_HOST: 'unix://' }), { socketPath: DEFAULT_SOCKET });
    assert.deepEqual(addressFromEnv({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }), { socketPath: '/run/user/1000/docker.sock' });
  });

  test('tcp:// is plain HTTP unless TLS is asked for or the port is 2376', async () => {
    assert.deepEqual(addressFromEnv({ DOCKER_HOST: 'tcp://10.0.0.5:2375' }), { host: '10.0.0.5', port: '2375', protocol: 'http' });
    assert.deepEqual(addressFromEnv({ DOCKER_HOST: '10.0.0.5:2375' }), { host: '10.0.0.5', port: '2375', protocol: 'http' });
    const certs = await mkdtemp(join(tmpdir(), 'berth-certs-'));
    try {
      for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(join(certs, f), `${f}\n`);
      const a = addressFromEnv({ DOCKER_HOST: 'tcp://engine.lan:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });
      assert.equal(a.protocol, 'https');
      assert.equal(String(a.cert), 'cert.pem\n');
      assert.equal(String(a.key), 'key.pem\n');
      assert.equal(String(a.ca), 'ca.pem\n');
      assert.throws(() => addressFromEnv({ DOCKER_HOST: 'tcp://engine.lan:2376', DOCKER_CERT_PATH: join(certs, 'missing') }), /DOCKER_CERT_PATH .*missing.*ca\.pem/);
    } finally {
      await rm(certs, { recursive: true, force: true });
    }
  });

  test('ssh:// is refused, saying how to forward the socket instead', () => {
    assert.throws(() => addressFromEnv({ DOCKER_HOST: 'ssh://admin@engine.lan' }), /does not speak to the engine over ssh.*ssh -nNL .*DOCKER_HOST=unix:\/\//);
  });
});

test('pull parameters: a digest or a tag is split off, a bare name means latest, a registry port is not a tag', () => {
  const rows: Array<[string, { fromImage: string; tag: string }]> = [
    [`127.0.0.1:5000/shop/web@sha256:${'a'.repeat(64)}`, { fromImage: '127.0.0.1:5000/shop/web', tag: `sha256:${'a'.repeat(64)}` }],
    ['nginx:1.27', { fromImage: 'nginx', tag: '1.27' }],
    ['nginx', { fromImage: 'nginx', tag: 'latest' }],
    ['registry.lan:5000/web', { fromImage: 'registry.lan:5000/web', tag: 'latest' }],
    ['registry.lan:5000/web:2', { fromImage: 'registry.lan:5000/web', tag: '2' }],
  ];
  for (const [ref, want] of rows) assert.deepEqual(pullParams(ref), want, ref);
});

describe('Engine over a unix socket', () => {
  let dir: string;
  let server: Server;
  let engine: Engine;
  const seen: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-engine-http-'));
    const socketPath = join(dir, 'docker.sock');
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://engine');
      seen.push(`${req.method} ${url.pathname}${url.search}`);
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.pathname === '/version') return json(200, { ApiVersion: '1.41', Version: '20.10.24' });
      if (url.pathname === '/v1.41/_ping') return res.end('OK');
      if (url.pathname === '/v1.41/containers/json') return json(200, [{ Id: 'c1', Labels: {} }]);
      if (url.pathname === '/v1.41/containers/gone/json') return json(404, { message: 'No such container: gone' });
      if (url.pathname === '/v1.41/images/create') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"status":"Pulling from shop/web","id":"2"}\n{"status":"Downl');
        if (url.searchParams.get('tag') === 'bad') return res.end('oading"}\n{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n');
        return res.end('oading"}\n{"status":"Status: Downloaded newer image"}\n');
      }
      if (url.pathname === '/v1.41/events') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"Action":"start","Actor":{"Attributes":{"com.docker.compose.project":"shop"}}}\n');
        return;
      }
      json(400, { message: `unexpected ${req.method} ${req.url}` });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
    engine = await Engine.connect({ docker: { socketPath }, callTimeoutMs: 5_000 });
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('negotiates the version, then speaks it, with filters as JSON and every container asked for', async () => {
    assert.equal(engine.apiVersion, '1.41');
    assert.equal(engine.engineVersion, '20.10.24');
    const list = await engine.listContainers({ label: ['com.docker.compose.project=shop'] });
    assert.deepEqual(list.map((c) => c.Id), ['c1']);
    const call = seen.find((s) => s.startsWith('GET /v1.41/containers/json'));
    const q = new URL(`http://x${call?.slice('GET '.length)}`).searchParams;
    assert.equal(q.get('all'), 'true');
    assert.deepEqual(JSON.parse(q.get('filters') ?? ''), { label: ['com.docker.compose.project=shop'] });
    await engine.ping();
  });

  test("a refusal keeps the engine's status and message", async () => {
    await assert.rejects(engine.inspectContainer('gone'), (err: unknown) => {
      assert.ok(err instanceof EngineError);
      assert.ok(err.cause instanceof EngineHttpError);
      assert.equal(err.cause.statusCode, 404);
      assert.match(err.message, /inspecting container gone failed: \(HTTP code 404\) No such container: gone/);
      return true;
    });
  });

  test('a pull reports its progress, and fails on an error the engine sends inside the stream', async () => {
    const events: string[] = [];
    await engine.pull('127.0.0.1:5000/shop/web:good', 5_000, (e) => events.push(e.status ?? ''));
    assert.deepEqual(events, ['Pulling from shop/web', 'Downloading', 'Status: Downloaded newer image']);
    assert.ok(seen.some((s) => s.startsWith('POST /v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fshop%2Fweb&tag=good')));
    await assert.rejects(engine.pull('127.0.0.1:5000/shop/web:bad', 5_000), /pulling 127\.0\.0\.1:5000\/shop\/web:bad failed: manifest unknown/);
  });

  test('events arrive as a stream of JSON lines, which ends when its signal aborts', async () => {
    const controller = new AbortController();
    const stream = await engine.events({ type: ['container'] }, controller.signal);
    const first = await new Promise<string>((resolve) => stream.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8'))));
    assert.equal(JSON.parse(first).Action, 'start');
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    stream.on('error', () => undefined);
    controller.abort();
    await closed;
  });
});
