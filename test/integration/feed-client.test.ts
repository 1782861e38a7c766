// The feed client against a real HTTP server on 127.0.0.1: what berth sends when it checks
// in, and how every way a feed server can misbehave ends as one refusal with its reason.
// No engine needed: none of this touches Docker.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { FeedError, type FeedRefusal } from '../../src/sources/errors.js';
import { fetchIndex, postReport, type FeedIdentity } from '../../src/sources/feed-client.js';
import { checkDowngrade, parseIndex } from '../../src/sources/feed.js';
import { publishRelease } from '../../src/sources/publish.js';
import { signRelease } from '../../src/sources/signing.js';
import { berthVersion } from '../../src/util/version.js';
import { FeedServer, startProxy } from '../support/feed-server.js';
import { authoredYaml, releaseOf, testKeys, type TestKeys } from '../support/releases.js';

const INDEX = '/stable/index.json';
// Generous: a refusal that should come at once must not hang; a timeout must not take much longer than its deadline.
const BOUND_MS = 5_000;

let dir: string;
let keys: TestKeys;
let server: FeedServer;
// A plain agent, so an HTTP_PROXY in the environment of whoever runs the tests does not reroute 127.0.0.1.
let direct: Dispatcher;
const identity: FeedIdentity = { instance: '5f1c2a9e-0000-4000-8000-000000000001', stack: 'shop', version: '1.0.0' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-feed-'));
  keys = testKeys();
  await writeFile(join(dir, 'release.key'), keys.privatePem);
  for (const [version, channel] of [['1.0.0', 'stable'], ['1.1.0', 'stable'], ['2.0.0-beta.1', 'beta']] as const) {
    await writeFile(join(dir, `${version}.yaml`), authoredYaml(version));
    await publishRelease({ releaseFile: join(dir, `${version}.yaml`), keyFile: join(dir, 'release.key'), feedDir: join(dir, 'feed'), channel, now: new Date(), report: 'http://127.0.0.1:1/report' });
  }
  server = await new FeedServer(join(dir, 'feed')).start();
  direct = new Agent();
});

after(async () => {
  await server.stop();
  await direct.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  server.knobs.clear();
});

function fetchStable(extra: Partial<Parameters<typeof fetchIndex>[0]> = {}) {
  return fetchIndex({ url: server.url, channel: 'stable', identity, timeoutMs: 3_000, dispatcher: direct, ...extra });
}

/** fetch + parse + downgrade check, as a check-in combines them. */
async function checkIn(current?: string) {
  const { body, url } = await fetchStable();
  const index = parseIndex(body, { url, channel: 'stable', publicKey: keys.publicKey });
  checkDowngrade(index.releases, current);
  return index;
}

async function refused(reason: FeedRefusal, work: () => Promise<unknown>): Promise<FeedError> {
  const started = Date.now();
  try {
    await work();
  } catch (err) {
    assert.ok(err instanceof FeedError, `expected a FeedError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.ok(Date.now() - started < BOUND_MS, `took ${Date.now() - started} ms`);
    return err;
  }
  assert.fail(`accepted; expected ${reason}`);
}

async function stableIndexWith(change: (index: Record<string, unknown>) => void): Promise<string> {
  const index = JSON.parse(await readFile(join(dir, 'feed', 'stable', 'index.json'), 'utf8')) as Record<string, unknown>;
  change(index);
  return JSON.stringify(index);
}

describe('a check-in', () => {
  test('fetches <url>/<channel>/index.json with the identity as query and headers, and verifies it', async () => {
    const index = await checkIn('1.0.0');
    assert.deepEqual(index.releases.map((r) => r.spec.version), ['1.1.0', '1.0.0']);
    assert.equal(index.report, 'http://127.0.0.1:1/report');
    const [req] = server.requestsFor(INDEX).slice(-1);
    assert.ok(req);
    assert.equal(req.method, 'GET');
    assert.deepEqual(req.query, { instance: identity.instance, stack: 'shop', version: '1.0.0' });
    assert.equal(req.headers['user-agent'], `berth/${berthVersion()}`);
    assert.match(berthVersion(), /^\d+\.\d+\.\d+/);
    assert.equal(req.headers['berth-instance'], identity.instance);
    assert.equal(req.headers['berth-stack'], 'shop');
    assert.equal(req.headers['berth-channel'], 'stable');
    assert.equal(req.headers['berth-version'], '1.0.0');
  });

  test('without a known version, the query has it empty and the Berth-Version header is left out', async () => {
    await fetchStable({ identity: { instance: identity.instance, stack: 'shop' } });
    const [req] = server.requestsFor(INDEX).slice(-1);
    assert.equal(req?.query['version'], '');
    assert.equal(req?.headers['berth-version'], undefined);
  });

  test('a feed URL with a path and a query of its own keeps both', async () => {
    const { url } = await fetchIndex({ url: `${server.url}/?token=abc`, channel: 'stable', identity, timeoutMs: 3_000, dispatcher: direct });
    assert.equal(new URL(url).searchParams.get('token'), 'abc');
    assert.equal(server.requestsFor(INDEX).at(-1)?.query['token'], 'abc');
  });

  test('up to three redirects are followed; a fourth is FeedHttpError', async () => {
    server.knobs.set('/r1', { override: { status: 302, headers: { location: '/r2' } } });
    server.knobs.set('/r2', { override: { status: 301, headers: { location: `${server.url}/r3` } } });
    server.knobs.set('/r3', { override: { status: 307, headers: { location: INDEX } } });
    server.knobs.set('/r0/stable/index.json', { override: { status: 308, headers: { location: '/r1' } } });
    server.knobs.set('/r4/stable/index.json', { override: { status: 302, headers: { location: '/r2' } } });
    const { url } = await fetchIndex({ url: `${server.url}/r4`, channel: 'stable', identity, timeoutMs: 3_000, dispatcher: direct });
    assert.equal(new URL(url).pathname, INDEX);
    const err = await refused('FeedHttpError', () => fetchIndex({ url: `${server.url}/r0`, channel: 'stable', identity, timeoutMs: 3_000, dispatcher: direct }));
    assert.match(err.message, /more than 3 redirects/);
  });
});

describe('a feed server that misbehaves', () => {
  test('slow to send headers: FeedTimeout at the deadline', async () => {
    server.knobs.set(INDEX, { delayMs: 30_000 });
    const err = await refused('FeedTimeout', () => fetchStable({ timeoutMs: 500 }));
    assert.match(err.message, /no complete answer within 0\.5 s/);
  });

  test('trickling the body a byte at a time: FeedTimeout at the same deadline, though bytes keep coming', async () => {
    server.knobs.set(INDEX, { trickle: { intervalMs: 100, bytes: 1 } });
    await refused('FeedTimeout', () => fetchStable({ timeoutMs: 800 }));
    assert.ok(server.requestsFor(INDEX).length > 0);
  });

  test('a body over the limit, announced by Content-Length: FeedTooLarge before reading it', async () => {
    // The body trickles, so reading it would time out: only refusing on the header passes.
    server.knobs.set(INDEX, { override: { status: 200, body: 'x'.repeat(2_000) }, trickle: { intervalMs: 1_000, bytes: 1 } });
    const err = await refused('FeedTooLarge', () => fetchStable({ maxBytes: 1_000, timeoutMs: 3_000 }));
    assert.match(err.message, /2000 bytes by its Content-Length, more than the 1000 bytes berth accepts/);
  });

  test('a body over the limit without Content-Length: FeedTooLarge as soon as it grows past it', async () => {
    server.knobs.set(INDEX, { override: { status: 200, body: 'x'.repeat(64 * 1024) }, noContentLength: true });
    await refused('FeedTooLarge', () => fetchStable({ maxBytes: 1_000 }));
    // The default limit is the feed limit: 4 MiB.
    server.knobs.set(INDEX, { override: { status: 200, body: Buffer.alloc(4 * 1024 * 1024 + 1, 'x') }, noContentLength: true });
    await refused('FeedTooLarge', () => fetchStable());
  });

  test('404 and 500: FeedHttpError with the status', async () => {
    const missing = await refused('FeedHttpError', () => fetchIndex({ url: server.url, channel: 'nightly', identity, timeoutMs: 3_000, dispatcher: direct }));
    assert.equal(missing.status, 404);
    assert.match(missing.message, /answered HTTP 404 Not Found; check spec\.channel\.url and spec\.channel\.name/);
    server.knobs.set(INDEX, { override: { status: 500, body: 'boom' } });
    assert.equal((await refused('FeedHttpError', () => fetchStable())).status, 500);
  });

  test('nothing listening: FeedUnreachable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await refused('FeedUnreachable', () => fetchIndex({ url: `http://127.0.0.1:${port}`, channel: 'stable', identity, timeoutMs: 3_000, dispatcher: direct }));
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.message, /check the URL, DNS, the proxy settings/);
  });

  test('garbage JSON and garbage YAML: FeedMalformed', async () => {
    server.knobs.set(INDEX, { override: { status: 200, body: '{"apiVersion": "berth.dev/v1alpha1", "releases": [' } });
    await refused('FeedMalformed', () => checkIn());
    server.knobs.set(INDEX, { override: { status: 200, body: 'releases: [\n  - : : :\n\t- {' } });
    await refused('FeedMalformed', () => checkIn());
    server.knobs.set(INDEX, { override: { status: 200, body: Buffer.from([0xff, 0xfe, 0x00, 0x7b]) } });
    await refused('FeedMalformed', () => checkIn());
  });

  test('a JSON array: FeedInvalid', async () => {
    server.knobs.set(INDEX, { override: { status: 200, body: '[{"kind": "ReleaseIndex"}]' } });
    await refused('FeedInvalid', () => checkIn());
  });

  test("another channel's index: ChannelMismatch", async () => {
    server.knobs.set(INDEX, { override: { status: 200, body: await readFile(join(dir, 'feed', 'beta', 'index.json'), 'utf8') } });
    await refused('ChannelMismatch', () => checkIn());
  });

  test('a release signed for beta served on stable: ChannelMismatch, the whole index refused', async () => {
    const beta = JSON.parse(await readFile(join(dir, 'feed', 'beta', 'index.json'), 'utf8')) as { releases: unknown[] };
    const body = await stableIndexWith((index) => (index['releases'] as unknown[]).unshift(beta.releases[0]));
    server.knobs.set(INDEX, { override: { status: 200, body } });
    const err = await refused('ChannelMismatch', () => checkIn());
    assert.match(err.message, /release 2\.0\.0-beta\.1 was signed for channel "beta", but this is the "stable" feed/);
  });

  test('a release changed after signing: SignatureInvalid; one signed by another key: UnknownSigningKey', async () => {
    const tampered = await stableIndexWith((index) => {
      const [first] = index['releases'] as Array<{ spec: { images: Record<string, string> } }>;
      if (first) first.spec.images['web'] = first.spec.images['db'] ?? '';
    });
    server.knobs.set(INDEX, { override: { status: 200, body: tampered } });
    await refused('SignatureInvalid', () => checkIn());
    const foreign = signRelease(releaseOf('1.2.0'), testKeys().privateKey);
    server.knobs.set(INDEX, { override: { status: 200, body: await stableIndexWith((index) => (index['releases'] as unknown[]).push(foreign)) } });
    await refused('UnknownSigningKey', () => checkIn());
  });

  test('a feed older than what runs: Downgrade', async () => {
    const err = await refused('Downgrade', () => checkIn('1.2.0'));
    assert.match(err.message, /newest release is 1\.1\.0, older than 1\.2\.0/);
  });
});

describe('through a proxy', () => {
  test('with an EnvHttpProxyAgent told of a proxy, the check-in goes through it', async () => {
    const proxy = await startProxy();
    const viaProxy = new EnvHttpProxyAgent({ httpProxy: proxy.url, noProxy: '' });
    try {
      const { body } = await fetchStable({ dispatcher: viaProxy });
      assert.equal(parseIndex(body, { url: 'x', channel: 'stable', publicKey: keys.publicKey }).releases.length, 2);
      const host = new URL(server.url).host;
      assert.ok(
        proxy.requests.some((r) => r.target === host || r.target.startsWith(`${server.url}/stable/index.json`)),
        `the proxy saw ${JSON.stringify(proxy.requests)}`,
      );
    } finally {
      await viaProxy.close();
      await proxy.stop();
    }
  });
});

describe('postReport', () => {
  test('POSTs the body as JSON to the report URL', async () => {
    const report = { instance: identity.instance, stack: 'shop', version: '1.1.0', outcome: 'Healthy' };
    await postReport(`${server.url}/report`, report, { timeoutMs: 3_000, dispatcher: direct });
    assert.deepEqual(server.reports.at(-1), report);
    const req = server.requestsFor('/report').at(-1);
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['user-agent'], `berth/${berthVersion()}`);
  });

  test('a failing report endpoint is FeedHttpError; a slow one FeedTimeout', async () => {
    server.knobs.set('/report', { override: { status: 503 } });
    assert.equal((await refused('FeedHttpError', () => postReport(`${server.url}/report`, {}, { timeoutMs: 3_000, dispatcher: direct }))).status, 503);
    server.knobs.set('/report', { delayMs: 30_000 });
    await refused('FeedTimeout', () => postReport(`${server.url}/report`, {}, { timeoutMs: 300, dispatcher: direct }));
  });
});
