// Release signatures: what berth accepts from a feed, and every way it refuses what it
// must not trust.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Release, SignedRelease } from '../../src/api/types.js';
import { canonicalJson } from '../../src/sources/canonical.js';
import { FeedError, type FeedRefusal } from '../../src/sources/errors.js';
import { generateSigningKeys, keyIdOf, parsePrivateKey, parsePublicKey, signRelease, verifyRelease } from '../../src/sources/signing.js';
import { digest, releaseOf, testKeys, type TestKeys } from '../support/releases.js';

const WHERE = 'https://feed.example/stable/index.json releases[0]';

function refusal(fn: () => unknown): FeedError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FeedError, `expected a FeedError, got ${String(err)}`);
    return err;
  }
  assert.fail('it was accepted');
}

async function refusalOf(promise: Promise<unknown>): Promise<FeedError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof FeedError, `expected a FeedError, got ${String(err)}`);
    return err;
  }
  assert.fail('it was accepted');
}

/** The signed release as it arrives from a feed: a plain parsed JSON value. */
function onTheWire(release: SignedRelease): Record<string, any> {
  // `any` because the tests below reach into arbitrary fields to tamper with them.
  return JSON.parse(JSON.stringify(release)) as Record<string, any>;
}

let keys: TestKeys;
let other: TestKeys;
before(() => {
  keys = testKeys();
  other = testKeys();
});

describe('canonicalJson', () => {
  test('is the same whatever the key order, at every depth, and keeps array order', () => {
    const a = { b: 1, a: { d: [3, 1, 2], c: 'x' } };
    const b = { a: { c: 'x', d: [3, 1, 2] }, b: 1 };
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(canonicalJson(a), '{"a":{"c":"x","d":[3,1,2]},"b":1}');
  });

  test('sorts keys by UTF-16 code unit, not by locale', () => {
    assert.equal(canonicalJson({ b: 1, B: 2, 'é': 3, a: 4 }), '{"B":2,"a":4,"b":1,"é":3}');
  });

  test('leaves out undefined properties, as any serialisation would', () => {
    assert.equal(canonicalJson({ a: 1, b: undefined }), '{"a":1}');
  });

  test('refuses what JSON cannot carry exactly', () => {
    for (const bad of [[1, undefined], { n: NaN }, { n: Infinity }, { f: () => 1 }, { d: new Date(0) }, { m: new Map() }, 10n]) {
      assert.throws(() => canonicalJson(bad), TypeError, `accepted ${String(bad)}`);
    }
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    assert.throws(() => canonicalJson(loop), /refers back to itself/);
  });
});

describe('signRelease and verifyRelease', () => {
  test('a signed release verifies and comes back as it was signed', () => {
    const signed = signRelease(releaseOf('1.2.0'), keys.privateKey);
    assert.equal(signed.signature.algorithm, 'ed25519');
    assert.equal(signed.signature.keyId, keyIdOf(keys.publicKey));
    assert.deepEqual(verifyRelease(onTheWire(signed), keys.publicKey, WHERE), signed);
  });

  test('a release re-signed replaces its old signature', () => {
    const once = signRelease(releaseOf('1.2.0'), other.privateKey);
    const again = signRelease(once, keys.privateKey);
    assert.equal(again.signature.keyId, keyIdOf(keys.publicKey));
    verifyRelease(onTheWire(again), keys.publicKey, WHERE);
  });

  test('the signature does not depend on the order of keys in the document', () => {
    const signed = signRelease(releaseOf('1.2.0'), keys.privateKey);
    const wire = onTheWire(signed);
    const reordered = { signature: wire['signature'], spec: Object.fromEntries(Object.entries(wire['spec']).reverse()), metadata: wire['metadata'], kind: wire['kind'], apiVersion: wire['apiVersion'] };
    verifyRelease(reordered, keys.publicKey, WHERE);
  });

  const tampers: Array<[string, (r: Record<string, any>) => void]> = [
    ['spec.version', (r) => (r['spec'].version = '1.2.1')],
    ['an image digest', (r) => (r['spec'].images.web = `registry.local/shop/web@${digest('evil')}`)],
    ['an image added', (r) => (r['spec'].images.miner = `registry.local/miner@${digest('miner')}`)],
    ['spec.notes', (r) => (r['spec'].notes += ' ')],
    ['spec.compose', (r) => (r['spec'].compose = 'services:\n  web:\n    privileged: true\n')],
    ['spec.channel', (r) => (r['spec'].channel = 'beta')],
    ['spec.published', (r) => (r['spec'].published = '2020-01-01T00:00:00Z')],
    ['metadata.name', (r) => (r['metadata'].name = 'other')],
    ['a field removed', (r) => delete r['spec'].notes],
  ];
  for (const [field, tamper] of tampers) {
    test(`a release whose ${field} was changed after signing is SignatureInvalid`, () => {
      const wire = onTheWire(signRelease(releaseOf('1.2.0'), keys.privateKey));
      tamper(wire);
      const err = refusal(() => verifyRelease(wire, keys.publicKey, WHERE));
      assert.equal(err.reason, 'SignatureInvalid');
      assert.match(err.message, /a field was changed after signing, or it was signed by another key/);
      assert.ok(err.message.startsWith(WHERE), err.message);
    });
  }

  test('a release signed by another key is UnknownSigningKey, naming both key ids', () => {
    const wire = onTheWire(signRelease(releaseOf('1.2.0'), other.privateKey));
    const err = refusal(() => verifyRelease(wire, keys.publicKey, WHERE));
    assert.equal(err.reason, 'UnknownSigningKey');
    assert.match(err.message, new RegExp(`signed by key ${keyIdOf(other.publicKey)}, the stack pins key ${keyIdOf(keys.publicKey)}`));
  });

  test("another key's signature under a forged key id of the pinned key is SignatureInvalid", () => {
    const wire = onTheWire(signRelease(releaseOf('1.2.0'), other.privateKey));
    wire['signature'].keyId = keyIdOf(keys.publicKey);
    assert.equal(refusal(() => verifyRelease(wire, keys.publicKey, WHERE)).reason, 'SignatureInvalid');
  });

  test('a missing or malformed signature is FeedInvalid, before anything else is read', () => {
    const signed = onTheWire(signRelease(releaseOf('1.2.0'), keys.privateKey));
    const cases: Array<[string, unknown]> = [
      ['not an object', ['a', 'list']],
      ['no signature', { ...signed, signature: undefined }],
      ['signature a string', { ...signed, signature: 'abc' }],
      ['another algorithm', { ...signed, signature: { ...signed['signature'], algorithm: 'rsa' } }],
      ['short key id', { ...signed, signature: { ...signed['signature'], keyId: 'abc' } }],
      ['value not 64 bytes', { ...signed, signature: { ...signed['signature'], value: 'AAAA' } }],
    ];
    for (const [what, value] of cases) {
      const err = refusal(() => verifyRelease(value, keys.publicKey, WHERE));
      assert.equal(err.reason, 'FeedInvalid', what);
    }
  });

  test('a release signed properly but not fitting the schema is FeedInvalid, with the field path', () => {
    const bad = releaseOf('1.2.0') as unknown as Record<string, any>;
    bad['spec'].images.web = 'registry.local/shop/web:latest';
    // The signer does not validate: a vendor's broken release must still be refused by berth.
    const signed = signRelease(bad as unknown as Release, keys.privateKey);
    const err = refusal(() => verifyRelease(onTheWire(signed), keys.publicKey, WHERE));
    assert.equal(err.reason, 'FeedInvalid');
    assert.match(err.message, /spec\.images\.web: must be an image pinned by digest/);
  });

  test('a value that has no canonical form (YAML .inf) is SignatureInvalid, not a crash', () => {
    const wire = onTheWire(signRelease(releaseOf('1.2.0'), keys.privateKey));
    wire['spec'].weight = Infinity;
    assert.equal(refusal(() => verifyRelease(wire, keys.publicKey, WHERE)).reason, 'SignatureInvalid');
  });
});

describe('keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-keys-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the key id is 16 hex digits, the same for the private key and its public half', () => {
    const id = keyIdOf(keys.publicKey);
    assert.match(id, /^[a-f0-9]{16}$/);
    assert.equal(keyIdOf(keys.privateKey), id);
    assert.notEqual(keyIdOf(other.publicKey), id);
  });

  test('a public key is read from inline PEM text, from a path relative to the manifest, and from an absolute path', async () => {
    await writeFile(join(dir, 'vendor.pub'), keys.publicPem);
    const inline = await parsePublicKey(keys.publicPem, '/nonexistent');
    const relative = await parsePublicKey('vendor.pub', dir);
    const absolute = await parsePublicKey(join(dir, 'vendor.pub'), '/nonexistent');
    for (const k of [inline, relative, absolute]) assert.equal(keyIdOf(k), keyIdOf(keys.publicKey));
  });

  async function publicKeyRefusal(pemOrPath: string): Promise<FeedError> {
    const err = await refusalOf(parsePublicKey(pemOrPath, dir));
    assert.equal(err.reason, 'PublicKeyInvalid' satisfies FeedRefusal);
    return err;
  }

  test('a missing key file is PublicKeyInvalid, naming the resolved path', async () => {
    const err = await publicKeyRefusal('keys/missing.pub');
    assert.match(err.message, new RegExp(`${join(dir, 'keys', 'missing.pub')} \\(ENOENT\\)`));
    assert.match(err.message, /relative to the manifest's folder/);
  });

  test('an RSA key, a private key and garbage are PublicKeyInvalid, each told what is wrong', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    assert.match((await publicKeyRefusal(rsa.publicKey)).message, /is an rsa key; berth verifies ed25519 signatures only/);
    assert.match((await publicKeyRefusal(keys.privatePem)).message, /"PRIVATE KEY", not a "PUBLIC KEY"; it is a private key/);
    assert.match((await publicKeyRefusal('-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n')).message, /not a readable public key/);
    await writeFile(join(dir, 'garbage.pub'), 'hello\n');
    assert.match((await publicKeyRefusal('garbage.pub')).message, /is not a PEM key/);
  });

  test('a private key must be an ed25519 private key', () => {
    const pem = generateSigningKeys().privatePem;
    assert.equal(parsePrivateKey(pem, 'release.key').asymmetricKeyType, 'ed25519');
    assert.throws(() => parsePrivateKey(keys.publicPem, 'release.pub'), /release\.pub is a public key; signing needs the private key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    assert.throws(() => parsePrivateKey(rsa.privateKey, 'rsa.key'), /rsa\.key is an rsa key; releases are signed with ed25519 keys/);
    assert.throws(() => parsePrivateKey('nonsense', 'x.key'), /x\.key is not a readable private key/);
  });

});
