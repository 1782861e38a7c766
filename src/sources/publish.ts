// `berth release publish`: sign a release and add it to a channel's folder in a static feed.
//
//   FEED/<channel>/index.json             the ReleaseIndex berth reads, newest version first
//   FEED/<channel>/releases/<version>.yaml each signed release on its own, for people and audits
//
// Versions are immutable: publishing the same release again changes nothing, publishing
// other content under a published version is refused. The fields publishing owns
// (spec.published, the signature) are overwritten if the author's file has them, so a file
// from releases/ can be published again; spec.channel may be set by the author but must
// then name the channel published to.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { stringify } from 'yaml';
import { API_VERSION, FEED_LIMITS } from '../api/schema.js';
import type { Release, ReleaseIndex, SignedRelease } from '../api/types.js';
import { validateRelease, validateReleaseIndex } from '../api/validate-release.js';
import { parseYaml } from '../api/validate.js';
import { canonicalJson } from './canonical.js';
import { FeedError } from './errors.js';
import { parseIndex, parseFeedDocument } from './feed.js';
import { keyIdOf, parsePrivateKey, signRelease, verifyRelease } from './signing.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readIfExists as readOptional } from '../util/files.js';

export interface PublishOptions {
  /** The author's Release YAML. */
  releaseFile: string;
  /** The vendor's private key (PEM), as berth release keygen wrote it. */
  keyFile: string;
  /** The feed's root folder. */
  feedDir: string;
  channel: string;
  /** Sets index.report; without it an existing one is kept. */
  report?: string;
  /** The publish time recorded in spec.published. */
  now: Date;
}

export interface PublishResult {
  indexPath: string;
  releasePath: string;
  release: SignedRelease;
  /** The release was already published with this content: nothing was written. */
  unchanged: boolean;
  /** Releases in the index after publishing. */
  count: number;
}

const CHANNEL_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A refusal of `berth release publish`: the message says what to do. */
export class PublishError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** What the author wrote, without what publishing sets: two releases of one version must agree on this. */
function authoredContent(release: Release): string {
  const { signature: _s, ...rest } = release;
  const { channel: _c, published: _p, ...spec } = rest.spec;
  return canonicalJson({ ...rest, spec });
}

/** The top-level fields (spec.* and metadata.*) in which two releases differ, for the message. */
function differingFields(a: Release, b: Release): string[] {
  const out: string[] = [];
  for (const part of ['metadata', 'spec'] as const) {
    const x = a[part] as Record<string, unknown>;
    const y = b[part] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (part === 'spec' && (key === 'channel' || key === 'published')) continue;
      if (canonicalJson(x[key] ?? null) !== canonicalJson(y[key] ?? null)) out.push(`${part}.${key}`);
    }
  }
  return out;
}

/** Reads the author's release and makes it the one to sign on `channel`. */
async function readAuthored(file: string, channel: string, now: Date): Promise<Release> {
  const value = parseYaml(file, await readFile(file, 'utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PublishError(`${file}: expected a Release document (apiVersion, kind: Release, metadata, spec)`);
  }
  const doc = structuredClone(value) as Record<string, unknown>;
  delete doc['signature'];
  const spec = doc['spec'];
  if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
    const s = spec as Record<string, unknown>;
    if (s['channel'] !== undefined && s['channel'] !== channel) {
      throw new PublishError(
        `${file}: spec.channel is ${JSON.stringify(s['channel'])} but --channel is "${channel}"; a release is signed for one channel: fix one of them, or drop spec.channel and let --channel set it`,
      );
    }
    s['channel'] = channel;
    // Whole seconds: the time is for people and for a cooldown counted in seconds.
    s['published'] = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return validateRelease(file, doc);
}

/** The channel's current index, every release verified against the publisher's key; undefined when there is none yet. */
async function readExisting(indexPath: string, channel: string, publicKey: KeyObject): Promise<{ report?: string; releases: SignedRelease[] } | undefined> {
  const text = await readOptional(indexPath);
  if (text === undefined) return undefined;
  try {
    return parseIndex(text, { url: indexPath, channel, publicKey });
  } catch (err) {
    if (err instanceof FeedError && err.reason === 'UnknownSigningKey') {
      throw new PublishError(
        `${indexPath} holds releases signed by another key than ${keyIdOf(publicKey)} (${err.message}); publish with the key that signed them, or start a new feed folder if the key was replaced on purpose`,
        { cause: err },
      );
    }
    if (err instanceof FeedError) {
      throw new PublishError(`refusing to publish into ${indexPath}: the index there is not a valid, verified index of channel "${channel}": ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function releaseFileName(version: string): string {
  // Semver's alphabet is [0-9A-Za-z.+-], all safe in a file name and a URL path.
  return `${version}.yaml`;
}

/** The text of releases/<version>.yaml, checked to read back as the same signed release. */
function releaseYaml(release: SignedRelease, publicKey: KeyObject, where: string): string {
  // lineWidth 0: no folding of long lines, so what a person reads is what was signed.
  const text = stringify(release, { lineWidth: 0 });
  verifyRelease(parseFeedDocument(text, where), publicKey, where);
  return text;
}

export async function publishRelease(opts: PublishOptions): Promise<PublishResult> {
  const { channel } = opts;
  if (!CHANNEL_NAME.test(channel) || channel.length > 63) {
    throw new PublishError(`--channel "${channel}" is not a channel name: lower-case letters, digits and dashes, like stable or beta`);
  }
  const privateKey = parsePrivateKey(await readFile(opts.keyFile, 'utf8'), opts.keyFile);
  const publicKey = createPublicKey(privateKey);
  const authored = await readAuthored(opts.releaseFile, channel, opts.now);
  const version = authored.spec.version;

  const channelDir = join(opts.feedDir, channel);
  const indexPath = join(channelDir, 'index.json');
  const existing = await readExisting(indexPath, channel, publicKey);
  const releases = existing?.releases ?? [];

  const same = releases.find((r) => semver.eq(r.spec.version, version));
  let release: SignedRelease;
  let unchanged = false;
  if (same !== undefined) {
    if (same.spec.version !== version || authoredContent(same) !== authoredContent(authored)) {
      const fields = same.spec.version !== version ? ['spec.version'] : differingFields(same, authored);
      throw new PublishError(
        `version ${same.spec.version} is already published on channel "${channel}" with other content (it differs in ${fields.join(', ')}); versions are immutable: publish this as a new version`,
      );
    }
    // The same release again: keep the one hosts may already have accepted, its publish time included.
    release = same;
    unchanged = opts.report === undefined || opts.report === existing?.report;
  } else {
    release = signRelease(authored, privateKey);
  }

  const merged = [...releases.filter((r) => r !== same), release].sort((a, b) => semver.rcompare(a.spec.version, b.spec.version));
  const kept = merged.slice(0, FEED_LIMITS.maxReleases);
  if (!kept.includes(release)) {
    throw new PublishError(
      `the "${channel}" index already lists ${FEED_LIMITS.maxReleases} releases newer than ${version}, and keeps only that many; ${version} would be dropped at once`,
    );
  }
  const report = opts.report ?? existing?.report;
  const index: ReleaseIndex = {
    apiVersion: API_VERSION,
    kind: 'ReleaseIndex',
    channel,
    ...(report !== undefined ? { report } : {}),
    releases: kept,
  };
  // The whole index once more, as berth will read it (a bad --report URL is caught here).
  validateReleaseIndex(indexPath, index);

  const releasePath = join(channelDir, 'releases', releaseFileName(release.spec.version));
  const count = kept.length;
  if (unchanged && (await readOptional(releasePath)) !== undefined) {
    return { indexPath, releasePath, release, unchanged: true, count };
  }
  // The release's own file first: an index never lists a release whose file is missing.
  await writeFileAtomic(releasePath, releaseYaml(release, publicKey, releasePath));
  await writeFileAtomic(indexPath, `${JSON.stringify(index, null, 2)}\n`);
  return { indexPath, releasePath, release, unchanged, count };
}
