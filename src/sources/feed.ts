// Reading a channel's index: parse, check the envelope, verify every release. The index
// itself is not signed, so a vendor's control plane can serve each instance a subset of
// pre-signed releases without holding the key; every release in it is, and carries its
// channel in the signed body, so it cannot be replayed on another channel. One bad release
// refuses the whole answer: a feed that serves one tampered release is not trusted at all.
import type { KeyObject } from 'node:crypto';
import semver from 'semver';
import { parseDocument } from 'yaml';
import { FEED_LIMITS } from '../api/schema.js';
import type { SignedRelease } from '../api/types.js';
import { validateReleaseIndex } from '../api/validate-release.js';
import { InvalidManifestError } from '../api/validate.js';
import { FeedError, quote } from './errors.js';
import { signingPayload, verifyRelease } from './signing.js';

export interface ParsedIndex {
  channel: string;
  /** Where berth POSTs the outcome of applying a release, if the vendor wants to know. */
  report?: string;
  /** Verified, one per version, newest version first. */
  releases: SignedRelease[];
}

export interface ParseIndexOptions {
  /** Where the text came from, for messages. */
  url: string;
  /** The channel asked for: the index and every release in it must be of this channel. */
  channel: string;
  publicKey: KeyObject;
}

// A hostile YAML document can expand a few aliases into gigabytes; a release needs none.
const MAX_YAML_ALIASES = 16;

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

/**
 * Parses a feed document (an index or one release): JSON when it starts with `{`, else YAML,
 * which reads any other JSON too. A document that is no structure at all (an HTML error
 * page, plain text, a number) is FeedMalformed; whether a structure is the right one is for
 * the caller to say (FeedInvalid).
 */
export function parseFeedDocument(text: string, where: string): unknown {
  if (text.trim() === '') {
    throw new FeedError('FeedMalformed', `${where}: the document is empty; the feed serves no index, tell its vendor`);
  }
  let value: unknown;
  if (text.trimStart().startsWith('{')) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new FeedError('FeedMalformed', `${where}: not valid JSON (${quote((err as Error).message)}); the feed is broken, tell its vendor`);
    }
  } else {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      throw new FeedError('FeedMalformed', `${where}: neither JSON nor YAML (${quote(doc.errors[0]?.message ?? 'syntax error')}); the feed is broken, tell its vendor`);
    }
    try {
      value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (err) {
      throw new FeedError('FeedMalformed', `${where}: unreadable YAML (${quote((err as Error).message)}); the feed is broken, tell its vendor`);
    }
  }
  if (typeof value !== 'object' || value === null) {
    throw new FeedError(
      'FeedMalformed',
      `${where}: the answer is ${describeValue(value)}, not a document (starts with ${JSON.stringify(quote(text, 60))}); the URL serves something other than a feed`,
    );
  }
  return value;
}

function fieldProblems(err: InvalidManifestError): string {
  return err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
}

/** Releases with equal semver precedence are the same version: build metadata alone does not make a new one. */
function versionKey(version: string): string {
  return semver.parse(version)?.version ?? version;
}

/** Parses and verifies a channel's index. Throws FeedError for anything it would not trust. */
export function parseIndex(text: string, opts: ParseIndexOptions): ParsedIndex {
  const { url, channel, publicKey } = opts;
  const value = parseFeedDocument(text, url);
  if (Array.isArray(value)) {
    throw new FeedError('FeedInvalid', `${url}: the document is a list, not a ReleaseIndex; the feed is broken, tell its vendor`);
  }
  const doc = value as Record<string, unknown>;
  const releases = doc['releases'];
  if (!Array.isArray(releases)) {
    throw new FeedError('FeedInvalid', `${url}: releases: must be a list of signed releases, not ${describeValue(releases)}; the feed is broken, tell its vendor`);
  }
  if (releases.length > FEED_LIMITS.maxReleases) {
    throw new FeedError(
      'FeedInvalid',
      `${url}: the index lists ${releases.length} releases, more than the ${FEED_LIMITS.maxReleases} berth accepts; the vendor must drop old ones (berth release publish keeps ${FEED_LIMITS.maxReleases})`,
    );
  }
  // The envelope first, with the releases left out: they are checked one by one below, and
  // nothing in an unverified release is looked at before its signature.
  try {
    validateReleaseIndex(url, { ...doc, releases: [] });
  } catch (err) {
    if (err instanceof InvalidManifestError) {
      throw new FeedError('FeedInvalid', `${url}: not a valid ReleaseIndex (${fieldProblems(err)}); the feed is broken, tell its vendor`, { cause: err });
    }
    throw err;
  }
  if (doc['channel'] !== channel) {
    throw new FeedError(
      'ChannelMismatch',
      `${url}: the index is of channel ${JSON.stringify(doc['channel'])}, but channel "${channel}" was asked for; the server answers with another channel's index, tell its vendor`,
    );
  }
  const byVersion = new Map<string, { release: SignedRelease; body: string }>();
  releases.forEach((item: unknown, i) => {
    const release = verifyRelease(item, publicKey, `${url} releases[${i}]`);
    const where = `${url} release ${release.spec.version}`;
    if (release.spec.channel !== channel) {
      throw new FeedError(
        'ChannelMismatch',
        `${where} was signed for ${release.spec.channel === undefined ? 'no channel' : `channel "${release.spec.channel}"`}, but this is the "${channel}" feed; a release cannot move to another channel without being published there, so the feed is not trusted`,
      );
    }
    // Same precedence, same bytes under signature: one release listed twice. Anything else
    // is two releases claiming one version, and which one is meant cannot be known.
    const key = versionKey(release.spec.version);
    const body = signingPayload(release).toString('utf8');
    const seen = byVersion.get(key);
    if (seen === undefined) {
      byVersion.set(key, { release, body });
    } else if (seen.body !== body) {
      throw new FeedError(
        'FeedInvalid',
        `${where}: two different releases claim version ${key} (${seen.release.spec.version} and ${release.spec.version}); versions are immutable, so the feed is not trusted, tell its vendor`,
      );
    }
  });
  const sorted = [...byVersion.values()].map((v) => v.release).sort((a, b) => semver.rcompare(a.spec.version, b.spec.version));
  const report = doc['report'];
  return { channel, ...(typeof report === 'string' ? { report } : {}), releases: sorted };
}

/**
 * Refuses a feed whose newest release is older than what runs: the feed is stale, was rolled
 * back, or replays an old answer to hold this host on an old version. A feed without
 * releases, or a current version that is not semver, cannot be judged and passes.
 */
export function checkDowngrade(releases: readonly SignedRelease[], currentVersion?: string): void {
  if (currentVersion === undefined || semver.valid(currentVersion) === null || releases.length === 0) return;
  const newest = releases.map((r) => r.spec.version).reduce((a, b) => (semver.gt(b, a) ? b : a));
  if (semver.lt(newest, currentVersion)) {
    throw new FeedError(
      'Downgrade',
      `the feed's newest release is ${newest}, older than ${currentVersion} which runs here; the feed is stale or replayed, so berth keeps what runs and the releases it accepted last. If the vendor withdrew ${currentVersion} on purpose, set spec.version to go back`,
    );
  }
}

