// Credentials never leave berth in a message, a status or a log line: URL userinfo, query
// parameters that carry a token, key, secret, password or signature, and Authorization headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { redactComposeText, redactDeep, redactHeaders, redactText, redactUrl, redactingLogOptions, registerSecret } from '../../src/util/redact.js';

const urls: Array<[string, string]> = [
  ['https://feed.example.com/stable', 'https://feed.example.com/stable'],
  ['https://alice:s3cret@feed.example.com/x', 'https://***@feed.example.com/x'],
  ['https://alice@feed.example.com/x', 'https://***@feed.example.com/x'],
  ['https://feed.example.com/i.json?token=abc&stack=shop', 'https://feed.example.com/i.json?token=***&stack=shop'],
  ['https://f/x?api_key=1&access_token=2&X-Amz-Signature=3&sig=4&password=5&client_secret=6&version=1.0', 'https://f/x?api_key=***&access_token=***&X-Amz-Signature=***&sig=***&password=***&client_secret=***&version=1.0'],
  ['not a url', 'not a url'],
];
for (const [given, want] of urls) {
  test(`redactUrl ${given}`, () => assert.equal(redactUrl(given), want));
}

const texts: Array<[string, string]> = [
  [
    'GET http://u:pw@127.0.0.1:9/s/index.json?token=t0p&instance=i answered HTTP 500 Internal Server Error; the feed server failed',
    'GET http://***@127.0.0.1:9/s/index.json?token=***&instance=i answered HTTP 500 Internal Server Error; the feed server failed',
  ],
  ['failed to reach https://a:b@h/x.', 'failed to reach https://***@h/x.'],
  ['request with Authorization: Bearer abc.def sent', 'request with Authorization: Bearer *** sent'],
  ['headers {"authorization":"Basic dTpw"}', 'headers {"authorization":"Basic ***"}'],
  ['a path ?secret=xyz&n=1 quoted alone', 'a path ?secret=***&n=1 quoted alone'],
  ['nothing to hide here: version 1.2.3 of shop', 'nothing to hide here: version 1.2.3 of shop'],
];
for (const [given, want] of texts) {
  test(`redactText ${given}`, () => assert.equal(redactText(given), want));
}

test('redactHeaders keeps ordinary headers and hides credentials', () => {
  assert.deepEqual(redactHeaders({ authorization: 'Bearer x', 'user-agent': 'berth/1', 'x-api-key': 'k' }), {
    authorization: '***',
    'user-agent': 'berth/1',
    'x-api-key': '***',
  });
});

test('redactDeep reaches nested fields and errors, keeping the error class, without touching the original', () => {
  class FeedError extends Error {}
  const err = new FeedError('GET https://u:pw@h/x failed', { cause: new Error('connect to https://h/?token=zz') });
  const out = redactDeep({ stack: 'shop', url: 'https://u:pw@h/x', nested: { list: ['?key=1'] }, err, publicKey: 'keys/pub.pem', token: 'abc' });
  assert.equal(out.url, 'https://***@h/x');
  assert.deepEqual(out.nested.list, ['?key=***']);
  assert.ok(out.err instanceof FeedError);
  assert.equal(out.err.message, 'GET https://***@h/x failed');
  assert.ok(!String(out.err.stack).includes('pw@'));
  assert.equal((out.err.cause as Error).message, 'connect to https://h/?token=***');
  assert.equal(out.publicKey, 'keys/pub.pem');
  assert.equal(out.token, '***');
  assert.equal(err.message, 'GET https://u:pw@h/x failed', 'the thrown error itself is left as it was');
});

test('a logger with redactingLogOptions writes no credential in fields, errors or messages', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino({ level: 'info', ...redactingLogOptions }, sink);
  log.warn({ url: 'https://u:hunter2@h/x?token=t0psecret', err: new Error('GET https://u:hunter2@h/x') }, 'check-in refused: GET https://u:hunter2@h/?sig=t0psecret');
  log.info('plain https://u:hunter2@h/');
  const text = lines.join('');
  assert.equal(lines.length, 2);
  assert.ok(!text.includes('hunter2') && !text.includes('t0psecret'), text);
  assert.match(text, /"type":"Error"/);
  assert.match(text, /check-in refused: GET https:\/\/\*\*\*@h\/\?sig=\*\*\*/);
});

// An aborted engine call or fetch rejects with a DOMException, whose name, message and code
// are getters on its prototype that only work on a real DOMException. Logging one (as `berth
// run` does when it stops while the event stream connects) must not throw: it did, and the
// throw became an unhandled rejection that ended berth with exit 70.
test('a DOMException (AbortError, TimeoutError) is logged with its type, name and redacted message', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino({ level: 'info', ...redactingLogOptions }, sink);
  const controller = new AbortController();
  controller.abort();
  assert.ok(controller.signal.reason instanceof DOMException);
  log.warn({ err: controller.signal.reason }, 'engine event stream unavailable; retrying');
  log.warn({ err: new DOMException('GET https://u:hunter2@h/x timed out', 'TimeoutError') }, 'timed out');
  assert.equal(lines.length, 2);
  const [aborted, timedOut] = lines.map((l) => JSON.parse(l) as { err: { type: string; name: string; message: string; code: number } });
  assert.equal(aborted!.err.type, 'DOMException');
  assert.equal(aborted!.err.name, 'AbortError');
  assert.equal(aborted!.err.message, 'This operation was aborted');
  assert.equal(aborted!.err.code, 20);
  assert.equal(timedOut!.err.name, 'TimeoutError');
  assert.equal(timedOut!.err.message, 'GET https://***@h/x timed out');
});

test('a secret registered at run time is replaced wherever it appears, under any name; short values are not registered', async () => {
  const { registerSecret } = await import('../../src/util/redact.js');
  registerSecret('hook-secret-4711');
  registerSecret('hook-secret-4711-longer');
  registerSecret('abc');
  assert.equal(redactText('signed with hook-secret-4711-longer, then hook-secret-4711.'), 'signed with ***, then ***.');
  assert.equal(redactText('abc stays: too short to be told from ordinary words'), 'abc stays: too short to be told from ordinary words');
  assert.deepEqual(redactDeep({ note: 'x hook-secret-4711 y', nested: { list: ['hook-secret-4711'] } }), { note: 'x *** y', nested: { list: ['***'] } });
});

test('credential environment variables (BERTH_HTTP_TOKEN, REGISTRY_PASSWORD, ...) are registered by name, others not', async () => {
  const { registerEnvSecrets } = await import('../../src/util/redact.js');
  registerEnvSecrets({ BERTH_HTTP_TOKEN: 'tok-from-env-1', REGISTRY_PASSWORD: 'pw-from-env-2', HOME: '/home/berth-user', PATH: '/usr/bin:/bin' });
  assert.equal(redactText('tok-from-env-1 pw-from-env-2 /home/berth-user'), '*** *** /home/berth-user');
});

test('PEM private keys are removed whole, armour included, even cut short; public keys and certificates stay', () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----';
  assert.equal(redactText(`the key ${key} was given`), 'the key *** was given');
  assert.equal(redactText('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----'), '***');
  assert.equal(redactText('cut: -----BEGIN RSA PRIVATE KEY-----\nMIIEow'), 'cut: ***');
  const pub = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----';
  assert.equal(redactText(pub), pub);
});

test("fields named as credentials are hidden whole: Docker's auth config (password, auth, identitytoken), webhook and client secrets", () => {
  assert.deepEqual(redactDeep({ authconfig: { username: 'bob', password: 'p', auth: 'Ym9iOnA=', identitytoken: 'i', serveraddress: 'r.example' }, webhook_secret: 'w', clientSecret: 'c' }), {
    authconfig: { username: 'bob', password: '***', auth: '***', identitytoken: '***', serveraddress: 'r.example' },
    webhook_secret: '***',
    clientSecret: '***',
  });
});

// A rendered compose file holds interpolated values: `berth diff` and the console show it with
// the values of credential-named keys replaced, line by line, so the two sides still diff.
const RENDERED = `name: shop
services:
  db:
    environment:
      POSTGRES_PASSWORD: hunter2-db
      "API_KEY": 'abc-123'
      GREETING: hello
      PRIVATE_KEY: |-
        -----BEGIN RSA PRIVATE KEY-----
        MIIEowIBAAKCAQEA
        -----END RSA PRIVATE KEY-----
      LONG_TOKEN: a very long value that the yaml writer folded
        onto a second line
      DATABASE_URL: postgres://app:pw-in-url@db:5432/app
    image: postgres@sha256:0123
    command:
      - --auth-token=cmd-secret
      - SESSION_SECRET=list-secret
    labels:
      com.example.api_key: label-secret
secrets:
  db_password:
    file: ./db_password.txt
`;

test('redactComposeText replaces the values of credential-named keys in every form compose writes, and keeps the rest', () => {
  assert.equal(
    redactComposeText(RENDERED),
    `name: shop
services:
  db:
    environment:
      POSTGRES_PASSWORD: ***
      "API_KEY": ***
      GREETING: hello
      PRIVATE_KEY: ***
      LONG_TOKEN: ***
      DATABASE_URL: postgres://***@db:5432/app
    image: postgres@sha256:0123
    command:
      - --auth-token=***
      - SESSION_SECRET=***
    labels:
      com.example.api_key: ***
secrets:
  db_password:
    file: ./db_password.txt
`,
  );
});

test('redactComposeText replaces a registered secret wherever it appears, under any key', () => {
  registerSecret('registered-value-42');
  assert.equal(redactComposeText('    environment:\n      MOTD: hi registered-value-42\n'), '    environment:\n      MOTD: hi ***\n');
});
