// Release signatures: ed25519 over a domain-separated canonical form of the release. berth
// reads no field of a release before its signature checks out against the key the Stack
// pins, so a feed server, a proxy or a mirror can withhold releases but never forge or
// alter one.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readRegularFile } from '../util/files.js';
import { isAbsolute, resolve } from 'node:path';
import type { Release, SignedRelease } from '../api/types.js';
import { validateRelease } from '../api/validate-release.js';
import { InvalidManifestError } from '../api/validate.js';
import { canonicalJson } from './canonical.js';
import { FeedError } from './errors.js';

/**
 * Prefix of every signed payload: a signature made for something else with the same key
 * (another document type, a later format version) can never pass for a release signature.
 */
export const RELEASE_SIGNING_DOMAIN = 'berth.dev/release/v1\n';

const KEY_ID = /^[a-f0-9]{16}$/;
const SIGNATURE_VALUE = /^[A-Za-z0-9+/]{86}==$/;

export function generateSigningKeys(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

/** First 16 hex digits of the SHA-256 of the public key's SPKI DER. A private key names its public half. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The bytes a release signature covers: everything but the signature, canonical, behind the domain prefix. */
export function signingPayload(release: object): Buffer {
  const { signature: _ignored, ...body } = release as Record<string, unknown>;
  return Buffer.from(RELEASE_SIGNING_DOMAIN + canonicalJson(body), 'utf8');
}

function pemLabel(pem: string): string | undefined {
  return /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
}

/**
 * The vendor's public key as a Stack pins it in spec.channel.publicKey: the PEM text itself,
 * or the path of a PEM file relative to `baseDir` (the manifest's folder).
 */
export async function parsePublicKey(pemOrPath: string, baseDir: string): Promise<KeyObject> {
  let pem: string;
  let source: string;
  if (pemOrPath.includes('-----BEGIN')) {
    pem = pemOrPath;
    source = 'the PEM text in spec.channel.publicKey';
  } else {
    const path = isAbsolute(pemOrPath) ? pemOrPath : resolve(baseDir, pemOrPath);
    source = `public key file ${path}`;
    try {
      pem = await readRegularFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new FeedError(
        'PublicKeyInvalid',
        `cannot read ${source} (${code === 'ENOTREGULAR' ? (err as Error).message : code}); spec.channel.publicKey must be the vendor's release.pub, as a path relative to the manifest's folder or as its PEM text`,
        { cause: err },
      );
    }
  }
  const label = pemLabel(pem);
  if (label === undefined) {
    throw new FeedError('PublicKeyInvalid', `${source} is not a PEM key (no "-----BEGIN PUBLIC KEY-----" line); use the vendor's release.pub`);
  }
  if (label !== 'PUBLIC KEY') {
    const hint = label.includes('PRIVATE')
      ? 'it is a private key, which must never leave the vendor: use the public half (release.pub)'
      : 'berth needs an ed25519 public key in SPKI form, as berth release keygen writes to release.pub';
    throw new FeedError('PublicKeyInvalid', `${source} holds a "${label}", not a "PUBLIC KEY"; ${hint}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new FeedError('PublicKeyInvalid', `${source} is not a readable public key (${(err as Error).message}); use the vendor's release.pub`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new FeedError(
      'PublicKeyInvalid',
      `${source} is an ${key.asymmetricKeyType ?? 'unknown'} key; berth verifies ed25519 signatures only (the vendor makes a key pair with berth release keygen)`,
    );
  }
  return key;
}

/** A vendor's signing key from its PEM text; `source` names where it came from, for the message. */
export function parsePrivateKey(pem: string, source: string): KeyObject {
  const label = pemLabel(pem);
  if (label === 'PUBLIC KEY') {
    throw new Error(`${source} is a public key; signing needs the private key (release.key from berth release keygen)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(`${source} is not a readable private key (${(err as Error).message}); use release.key from berth release keygen`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${source} is an ${key.asymmetricKeyType ?? 'unknown'} key; releases are signed with ed25519 keys (make one with berth release keygen)`);
  }
  return key;
}

/** Signs a release with the vendor's private key; a signature it already had is replaced. */
export function signRelease(release: Release, privateKey: KeyObject): SignedRelease {
  const { signature: _old, ...body } = release;
  const value = sign(null, signingPayload(body), privateKey).toString('base64');
  return { ...body, signature: { algorithm: 'ed25519', keyId: keyIdOf(privateKey), value } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a release read from a feed and returns it typed. Nothing in it is trusted before the
 * signature is: first only the shape of the signature itself is looked at, then its key id
 * against the pinned key, then the signature over the canonical form, and only then is the
 * release validated against the schema. `where` names the release for messages (URL, index).
 */
export function verifyRelease(value: unknown, publicKey: KeyObject, where: string): SignedRelease {
  if (!isRecord(value)) {
    throw new FeedError('FeedInvalid', `${where}: a release must be an object, not ${Array.isArray(value) ? 'a list' : typeof value}; the feed is broken, tell its vendor`);
  }
  const sig = value['signature'];
  if (!isRecord(sig)) {
    throw new FeedError('FeedInvalid', `${where}: the release is not signed (no signature object); berth only accepts releases published with berth release publish`);
  }
  if (sig['algorithm'] !== 'ed25519' || typeof sig['keyId'] !== 'string' || !KEY_ID.test(sig['keyId']) || typeof sig['value'] !== 'string' || !SIGNATURE_VALUE.test(sig['value'])) {
    throw new FeedError(
      'FeedInvalid',
      `${where}: the release's signature is malformed (it needs algorithm "ed25519", a 16-hex-digit keyId and a base64 64-byte value); the feed is broken, tell its vendor`,
    );
  }
  const expected = keyIdOf(publicKey);
  if (sig['keyId'] !== expected) {
    throw new FeedError(
      'UnknownSigningKey',
      `${where}: the release is signed by key ${sig['keyId']}, the stack pins key ${expected}; if the vendor changed its signing key, put its new public key in spec.channel.publicKey, otherwise do not trust this feed`,
    );
  }
  let payload: Buffer;
  try {
    payload = signingPayload(value);
  } catch (err) {
    // A value no signer could have produced (e.g. YAML's .inf): it cannot carry a valid signature.
    throw new FeedError('SignatureInvalid', `${where}: the release cannot be put in canonical form (${(err as Error).message}), so no signature can cover it; do not trust this feed`, { cause: err });
  }
  if (!verify(null, payload, publicKey, Buffer.from(sig['value'], 'base64'))) {
    throw new FeedError(
      'SignatureInvalid',
      `${where}: the release's signature does not match its content under key ${expected}: a field was changed after signing, or it was signed by another key; do not trust this feed, tell its vendor`,
    );
  }
  try {
    return validateRelease(where, value) as SignedRelease;
  } catch (err) {
    if (err instanceof InvalidManifestError) {
      const detail = err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
      throw new FeedError('FeedInvalid', `${where}: the release is signed but not a valid Release (${detail}); the vendor must publish it again with a current berth`, { cause: err });
    }
    throw err;
  }
}
