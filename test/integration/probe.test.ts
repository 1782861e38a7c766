// The health gate's eyes on a real engine: inspectContainers (restarts, exits, addresses,
// health output) and httpProbe against a container's address on its project's network.
// A few probe cases use a local server instead, where only a server we control can
// misbehave on cue (never answer, answer forever); a fake engine on a unix socket stands in
// where the real one cannot be made to fail on cue.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Engine, EngineError } from '../../src/docker/engine.js';
import { inspectContainers, type ContainerDetails } from '../../src/docker/inspect.js';
import { httpProbe, type HttpProbeSpec, type ProbeOutcome } from '../../src/docker/probe.js';
import { docker, removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const project = uniqueName('probe');
const network = `${project}_default`;
const labels = (service: string) => ({ 'com.docker.compose.project': project, 'com.docker.compose.service': service });
const built: TestImage[] = [];
let engineReady = false;
let engine: Engine;
let image: TestImage;
let webId: string;
let webAddress: string;

before(async () => {
  await requireEngine();
  engineReady = true;
  engine = await Engine.connect();
  image = await buildTestImage({ name: uniqueName('probe'), variant: 'p1' });
  built.push(image);
  await docker().createNetwork({ Name: network, Labels: { 'com.docker.compose.project': project } });
  webId = await start('web', { HostConfig: { NetworkMode: network, RestartPolicy: { Name: 'unless-stopped' } } });
  const info = await docker().getContainer(webId).inspect();
  const address = info.NetworkSettings.Networks[network]?.IPAddress;
  assert.ok(address, `container ${webId} has no address on ${network}: ${JSON.stringify(info.NetworkSettings.Networks)}`);
  webAddress = address;
});

after(async () => {
  if (!engineReady) return; // the failing before hook already says what is missing
  await removeProject(project);
  await removeTestImages(built);
});

/** Creates and starts a container of the project from the test image; returns its id. */
async function start(service: string, extra: Record<string, unknown> = {}, run = true): Promise<string> {
  const container = await docker().createContainer({
    name: `${project}-${service}`,
    Image: image.pinned,
    Labels: labels(service),
    ...extra,
  });
  if (run) await container.start();
  return container.id;
}

async function detailsOf(id: string): Promise<ContainerDetails> {
  const d = (await inspectContainers(engine, [id])).get(id);
  assert.ok(d, `inspectContainers left out container ${id}, which exists`);
  return d;
}

const spec = (over: Partial<HttpProbeSpec> = {}): HttpProbeSpec => ({
  port: 8080,
  path: '/',
  expectStatus: 200,
  timeoutMs: 5_000,
  ...over,
});

describe('httpProbe against a container', () => {
  test('GET / on the container address answers 200 and is ok', async () => {
    // httpd binds a moment after the container starts; retry, bounded.
    let outcome: ProbeOutcome | undefined;
    for (let i = 0; i < 40 && !outcome?.ok; i++) {
      if (i > 0) await sleep(250);
      outcome = await httpProbe(webAddress, spec());
    }
    assert.deepEqual(outcome, { ok: true, status: 200, url: `http://${webAddress}:8080/` });
  });

  test('a path the server does not have is a 404, not ok, and no error', async () => {
    const outcome = await httpProbe(webAddress, spec({ path: '/no-such-page.html' }));
    assert.deepEqual(outcome, { ok: false, status: 404, url: `http://${webAddress}:8080/no-such-page.html` });
  });

  test('a status other than the expected one is not ok', async () => {
    const outcome = await httpProbe(webAddress, spec({ path: 'index.html', expectStatus: 204 }));
    assert.deepEqual(outcome, { ok: false, status: 200, url: `http://${webAddress}:8080/index.html` });
  });

  test('a port nothing listens on is connection refused', async () => {
    const outcome = await httpProbe(webAddress, spec({ port: 8081 }));
    assert.deepEqual(outcome, { ok: false, error: 'connection refused', url: `http://${webAddress}:8081/` });
  });

  test('an address on the network that nobody holds times out', async () => {
    // Nobody answers ARP for it, so the SYN is never even sent. (10.255.255.1 cannot stand in
    // here: some sandboxes answer every outbound connection themselves.)
    const holders = Object.values((await docker().getNetwork(network).inspect()).Containers ?? {}).map(
      (c: { IPv4Address: string }) => c.IPv4Address.split('/')[0],
    );
    const octets = webAddress.split('.');
    const unused = [...octets.slice(0, 3), octets[3] === '250' ? '251' : '250'].join('.');
    assert.ok(!holders.includes(unused), `${unused} is taken on ${network}; pick another`);
    const outcome = await httpProbe(unused, spec({ timeoutMs: 300 }));
    assert.deepEqual(outcome, { ok: false, error: 'timed out after 300 ms', url: `http://${unused}:8080/` });
  });
});

describe('httpProbe against a server that misbehaves on cue', () => {
  /** A server on `host` whose connections `onSocket` handles; closed (with its connections) after the test. */
  async function serve(
    t: { after: (fn: () => void | Promise<void>) => void },
    host: string,
    onSocket: (socket: net.Socket) => void,
  ): Promise<{ port: number; closed: Promise<void> }> {
    const sockets = new Set<net.Socket>();
    let sawClose: () => void = () => {};
    const closed = new Promise<void>((resolve) => (sawClose = resolve));
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {}); // the probe hanging up is the point of several cases
      socket.resume(); // the request is not read, but unread data would hide the hang-up from us
      socket.on('close', () => {
        sockets.delete(socket);
        sawClose();
      });
      onSocket(socket);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
    t.after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { port: (server.address() as net.AddressInfo).port, closed };
  }

  test('a server that accepts and never answers times out', async (t) => {
    const { port, closed } = await serve(t, '127.0.0.1', () => {});
    const outcome = await httpProbe('127.0.0.1', spec({ port, timeoutMs: 300 }));
    assert.deepEqual(outcome, { ok: false, error: 'timed out after 300 ms', url: `http://127.0.0.1:${port}/` });
    await closed; // the probe destroyed its socket; a leak would hang here until the test times out
  });

  test('a body that never finishes times out, with the status it did get', async (t) => {
    const { port } = await serve(t, '127.0.0.1', (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const outcome = await httpProbe('127.0.0.1', spec({ port, timeoutMs: 300 }));
    assert.deepEqual(outcome, { ok: false, status: 200, error: 'timed out after 300 ms', url: `http://127.0.0.1:${port}/` });
  });

  test('an endless body is cut off after 64 KiB, and the status still counts', async (t) => {
    let written = 0;
    const { port, closed } = await serve(t, '127.0.0.1', (s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n');
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = () => {
        while (!s.destroyed && s.write(chunk)) written += chunk.length;
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    // Were the body read to its (absent) end, this would be a time-out instead.
    const outcome = await httpProbe('127.0.0.1', spec({ port, timeoutMs: 10_000 }));
    assert.deepEqual(outcome, { ok: true, status: 200, url: `http://127.0.0.1:${port}/` });
    await closed;
    assert.ok(written > 0);
  });

  test('a server closing mid-body is an error even with the expected status', async (t) => {
    const { port } = await serve(t, '127.0.0.1', (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'));
    const outcome = await httpProbe('127.0.0.1', spec({ port }));
    assert.deepEqual(outcome, {
      ok: false,
      status: 200,
      error: 'the server closed the connection before the body was complete',
      url: `http://127.0.0.1:${port}/`,
    });
  });

  test('an IPv6 address is bracketed in the URL and reached', async (t) => {
    const { port } = await serve(t, '::1', (s) => s.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n'));
    const outcome = await httpProbe('::1', spec({ port, path: '/healthz', expectStatus: 204 }));
    assert.deepEqual(outcome, { ok: true, status: 204, url: `http://[::1]:${port}/healthz` });
  });

  test('a name that does not resolve is reported, not thrown', async () => {
    const outcome = await httpProbe('no-such-host.invalid', spec({ port: 80, timeoutMs: 3_000 }));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.status, undefined);
    assert.ok(outcome.error, 'expected a resolver error or a time-out');
  });

  test('a port out of range is reported, not thrown', async () => {
    const outcome = await httpProbe('127.0.0.1', spec({ port: 70_000 }));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.url, 'http://127.0.0.1:70000/');
    assert.match(outcome.error ?? '', /port 70000 is not a TCP port/);
  });
});

describe('inspectContainers on the real engine', () => {
  test('a running container: its address on the project network, restart policy, start time', async () => {
    const d = await detailsOf(webId);
    const endpoint = (await docker().getNetwork(network).inspect()).Containers?.[webId] as { IPv4Address: string } | undefined;
    assert.ok(endpoint, `the network ${network} does not list ${webId}`);
    assert.deepEqual(d.addresses, { [network]: endpoint.IPv4Address.split('/')[0] });
    assert.equal(d.id, webId);
    assert.equal(d.restartPolicy, 'unless-stopped');
    assert.ok(d.startedAt !== undefined && !Number.isNaN(Date.parse(d.startedAt)), `startedAt: ${d.startedAt}`);
    assert.equal(d.finishedAt, undefined, 'a container that never stopped has no finish time');
    assert.equal(d.exitCode, undefined, 'a running container has no exit code');
    assert.equal(d.restartCount, 0);
    assert.equal(d.oomKilled, false);
    assert.equal(d.lastHealthOutput, undefined, 'the image has no healthcheck');
    assert.equal(d.failingStreak, undefined);
  });

  test('a container that keeps failing under on-failure has a rising restart count', async () => {
    const id = await start('crashy', { Cmd: ['/bin/sh', '-c', 'exit 1'], HostConfig: { RestartPolicy: { Name: 'on-failure' } } });
    let d = await detailsOf(id);
    for (let i = 0; i < 60 && d.restartCount === 0; i++) {
      await sleep(250);
      d = await detailsOf(id);
    }
    assert.ok(d.restartCount > 0, `restart count never rose; last details: ${JSON.stringify(d)}`);
    assert.equal(d.restartPolicy, 'on-failure');
    assert.equal(d.oomKilled, false);
  });

  test('a container that exited: exit code and finish time', async () => {
    const id = await start('done', { Cmd: ['/bin/sh', '-c', 'exit 3'] });
    const { StatusCode } = (await docker().getContainer(id).wait()) as { StatusCode: number };
    assert.equal(StatusCode, 3);
    const d = await detailsOf(id);
    assert.equal(d.exitCode, 3);
    assert.ok(d.finishedAt !== undefined && !Number.isNaN(Date.parse(d.finishedAt)), `finishedAt: ${d.finishedAt}`);
    assert.ok(d.startedAt !== undefined, 'it did start');
    assert.equal(d.restartPolicy, 'no', 'no policy given is reported as "no"');
    assert.equal(d.restartCount, 0);
  });

  test('a container never started has no times and no exit code (zero times are dropped)', async () => {
    const id = await start('created', {}, false);
    const raw = (await docker().getContainer(id).inspect()).State;
    assert.match(raw.StartedAt, /^0001-01-01T00:00:00/, 'the engine should report its zero time here');
    const d = await detailsOf(id);
    assert.equal(d.startedAt, undefined);
    assert.equal(d.finishedAt, undefined);
    assert.equal(d.exitCode, undefined);
  });

  test('a failing healthcheck: its trimmed output and failing streak', async () => {
    const id = await start('sick', {
      Healthcheck: { Test: ['CMD-SHELL', 'echo "  not ready: db down  "; exit 1'], Interval: 200_000_000, Timeout: 2_000_000_000, Retries: 3 },
    });
    let d = await detailsOf(id);
    for (let i = 0; i < 60 && (d.failingStreak ?? 0) === 0; i++) {
      await sleep(250);
      d = await detailsOf(id);
    }
    assert.ok((d.failingStreak ?? 0) > 0, `the healthcheck never failed; last details: ${JSON.stringify(d)}`);
    assert.equal(d.lastHealthOutput, 'not ready: db down');
  });

  test('an id that does not exist is absent; the others are there, one call each', async () => {
    const ghost = 'f'.repeat(64);
    const before = engine.calls;
    const found = await inspectContainers(engine, [ghost, webId, webId], 1);
    assert.deepEqual([...found.keys()], [webId]);
    assert.equal(engine.calls - before, 2, 'one inspect per distinct id');
  });
});

describe('inspectContainers when the engine misbehaves', () => {
  // A stand-in engine: real dockerode and Engine code over a unix socket, answers chosen per id.
  let dir: string;
  let server: http.Server;
  let fake: Engine;
  let inFlight = 0;
  let maxInFlight = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fake-engine-'));
    const socketPath = join(dir, 'docker.sock');
    server = http.createServer((req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.url === '/version') return reply(200, { ApiVersion: '1.41', Version: 'fake' });
      const id = /^\/v[0-9.]+\/containers\/([^/]+)\/json/.exec(req.url ?? '')?.[1];
      if (id === 'gone') return reply(404, { message: `No such container: ${id}` });
      if (id === 'broken') return reply(500, { message: 'boom: the daemon is unwell' });
      if (id === undefined) return reply(400, { message: `fake engine: unexpected ${req.method} ${req.url}` });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Held a while so that calls made together overlap here.
      setTimeout(() => {
        inFlight--;
        reply(200, {
          Id: id,
          RestartCount: 0,
          State: { Running: false, Restarting: false, OOMKilled: false, ExitCode: 0, StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' },
          HostConfig: { RestartPolicy: { Name: '' } },
          NetworkSettings: { Networks: {} },
        });
      }, 150);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
    fake = await Engine.connect({ docker: { socketPath }, callTimeoutMs: 5_000 });
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('a 404 means gone: left out, not an error', async () => {
    const found = await inspectContainers(fake, ['gone', 'a']);
    assert.deepEqual([...found.keys()], ['a']);
    assert.deepEqual(found.get('a'), { id: 'a', restartCount: 0, oomKilled: false, restartPolicy: 'no', addresses: {} });
  });

  test('any other failure is thrown, saying which container', async () => {
    await assert.rejects(inspectContainers(fake, ['gone', 'broken', 'a']), (err: unknown) => {
      assert.ok(err instanceof EngineError, `expected an EngineError, got ${String(err)}`);
      assert.match(err.message, /inspecting container broken failed: .*boom/);
      return true;
    });
  });

  test('at most `concurrency` calls are in flight at once', async () => {
    maxInFlight = 0;
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'];
    const found = await inspectContainers(fake, ids, 2);
    assert.deepEqual([...found.keys()], ids);
    assert.equal(maxInFlight, 2);
    maxInFlight = 0;
    await inspectContainers(fake, ids);
    assert.equal(maxInFlight, 4, 'the default is 4');
  });

  test('a concurrency below 1 is refused', async () => {
    await assert.rejects(inspectContainers(fake, ['a'], 0), RangeError);
  });
});
