// The releases a stack may use, as of its last accepted check-in: read from the state
// folder and verified again against the key the Stack pins now. A key rotated in the Stack
// thus retires every release the old key signed, and a hand-edited channel.yaml cannot
// introduce one.
import type { KeyObject } from 'node:crypto';
import { dirname } from 'node:path';
import type { Quarantine, ResolvedStack } from '../api/types.js';
import { parseDocument } from 'yaml';
import { asComposeDocument, type ChannelRelease, type FollowContext } from '../plan/target.js';
import type { ChannelView, RevisionRecord } from '../plan/types.js';
import { FeedError } from '../sources/errors.js';
import { keyIdOf, parsePublicKey, verifyRelease } from '../sources/signing.js';
import { readChannelState, sameFeedUrl, type ChannelState } from '../store/channel.js';
import { redactUrl } from '../util/redact.js';
import type { StateStore } from '../store/state.js';

export type ChannelSpecOf = NonNullable<ResolvedStack['spec']['channel']>;

export interface LoadedChannel {
  releases: ChannelRelease[];
  view: ChannelView;
}

/**
 * The compose file a release carries, parsed; a release whose file is not compose is refused.
 * Only a first look (is it a mapping with services?): the target's model is compose's own
 * reading of it (controller/target-file.ts), so merge keys and many aliases must pass here.
 */
export function releaseCompose(release: { spec: { version: string; compose?: string } }): ChannelRelease['compose'] {
  if (release.spec.compose === undefined) return undefined;
  const where = `the compose file of release ${release.spec.version}`;
  try {
    const doc = parseDocument(release.spec.compose, { merge: true, uniqueKeys: false });
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
    return asComposeDocument(where, doc.toJS({ maxAliasCount: -1 }));
  } catch (err) {
    throw new FeedError('FeedInvalid', `${where} is not a usable compose file: ${(err as Error).message}`);
  }
}

/** The pinned key of a Stack's channel; its path is relative to the manifest's folder. */
export function channelKey(channel: ChannelSpecOf, manifest: string): Promise<KeyObject> {
  return parsePublicKey(channel.publicKey, dirname(manifest));
}

export class ReleaseCache {
  // Verifying is cheap but not free, and passes come every second while a revision is
  // verified: remember the last answer per stack until the file or the key changes.
  private readonly cache = new Map<string, { fingerprint: string; releases: ChannelRelease[] }>();

  constructor(private readonly state: StateStore) {}

  async load(stack: string, channel: ChannelSpecOf, manifest: string, now: Date): Promise<LoadedChannel> {
    const stored = await readChannelState(this.state, stack);
    // The status shows the feed's URL: without the credentials it may carry.
    const view: ChannelView = { name: channel.name, url: redactUrl(channel.url) };
    const sameFeed = stored !== undefined && sameFeedUrl(stored.url, channel.url) && stored.channel === channel.name;
    if (sameFeed && stored.lastCheckIn !== undefined) view.lastCheckIn = stored.lastCheckIn;
    if (sameFeed && stored.refused !== undefined) view.refused = stored.refused;
    let key: KeyObject;
    try {
      key = await channelKey(channel, manifest);
    } catch (err) {
      const reason = err instanceof FeedError ? err.reason : 'PublicKeyInvalid';
      view.refused = { reason, message: (err as Error).message, at: now.toISOString() };
      return { releases: [], view };
    }
    if (!sameFeed) return { releases: [], view };
    return { releases: this.verified(stack, stored, key), view };
  }

  private verified(stack: string, stored: ChannelState, key: KeyObject): ChannelRelease[] {
    const keyId = keyIdOf(key);
    const fingerprint = `${keyId}\u0000${JSON.stringify(stored.releases)}`;
    const hit = this.cache.get(stack);
    if (hit !== undefined && hit.fingerprint === fingerprint) return hit.releases;
    const releases: ChannelRelease[] = [];
    for (const raw of stored.releases) {
      try {
        const release = verifyRelease(raw, key, `${this.state.root}/${stack}/channel.yaml`);
        if (release.spec.channel !== stored.channel) continue;
        const compose = releaseCompose(release);
        releases.push({ release, keyId, ...(compose !== undefined ? { compose } : {}) });
      } catch {
        // Signed by a key the Stack no longer pins, or damaged on disk: not usable.
      }
    }
    this.cache.set(stack, { fingerprint, releases });
    return releases;
  }
}

/**
 * What a pass of a channel stack knows of its channel (undefined: the Stack follows none): the
 * releases of the last accepted check-in, the revision that runs, and the quarantine that
 * keeps a failed release out of the offer whatever the feed answers next. The reconciler
 * and `berth diff`/`render` both resolve their target from it, so they cannot disagree.
 */
export async function followContext(
  releases: ReleaseCache,
  name: string,
  stack: ResolvedStack,
  manifest: string,
  applied: RevisionRecord | undefined,
  quarantine: Quarantine | undefined,
  now: Date,
): Promise<FollowContext | undefined> {
  const channel = stack.spec.channel;
  if (channel === undefined) return undefined;
  return {
    ...(await releases.load(name, channel, manifest, now)),
    ...(applied !== undefined ? { applied } : {}),
    ...(quarantine !== undefined ? { quarantine } : {}),
    now,
  };
}
