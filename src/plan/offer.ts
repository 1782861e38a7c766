// Which release of a channel a stack should run, and what to tell the admin about the
// newest one. Pure: the releases were verified by the caller, the clock is passed in.
//
// The rules, in the order a reader needs them:
// - nothing older than what runs is ever a target (a feed cannot downgrade a host);
// - the version that runs stays acceptable, so an update in flight is not superseded by
//   its own success;
// - a release a person approved (spec.approve == its version) is acceptable in any mode;
// - in auto mode, a release is acceptable when its semver change from what runs is within
//   spec.policy.autoApply and it is at least spec.policy.minReleaseAgeSeconds old;
// - the target is the newest acceptable release.
import semver from 'semver';
import { SEMVER_PATTERN } from '../api/schema.js';
import type { Available, Quarantine, ResolvedStack, SignedRelease } from '../api/types.js';
import { approvedVersion } from './approval.js';
import { RETRY_ANNOTATION, quarantinedVersions } from './progress.js';

export type Change = NonNullable<Available['change']>;

const RANK: Record<Change, number> = { install: 0, prerelease: 1, patch: 2, minor: 3, major: 4 };

/**
 * How far `to` is from `from`. Before 1.0.0 semver promises nothing, so there a minor step
 * counts as major and a patch step as minor: a 0.x vendor cannot slip a breaking change
 * past a policy that allows minors.
 */
export function changeBetween(from: string | undefined, to: string): Change {
  if (from === undefined || semver.valid(from) === null) return 'install';
  const diff = semver.diff(from, to);
  let change: Change;
  switch (diff) {
    case 'major':
    case 'premajor':
      change = 'major';
      break;
    case 'minor':
    case 'preminor':
      change = 'minor';
      break;
    case 'patch':
    case 'prepatch':
      change = 'patch';
      break;
    case 'prerelease':
      change = 'prerelease';
      break;
    default:
      return 'prerelease';
  }
  if (semver.major(from) === 0 && semver.major(to) === 0) {
    if (change === 'minor') return 'major';
    if (change === 'patch') return 'minor';
  }
  return change;
}

export interface OfferInput {
  /** Verified releases of the stack's channel. */
  releases: readonly SignedRelease[];
  /** The version berth applied last, if any. */
  current?: string;
  spec: ResolvedStack['spec'];
  now: Date;
  /** A quarantine that still holds: its versions are never offered. */
  quarantine?: Quarantine;
}

export interface AvailableRelease {
  release: SignedRelease;
  change: Change;
  /** Why berth will not apply it by itself; absent when it is the target. */
  waitingFor?: string;
  /** The same as a CamelCase reason: AwaitingApproval, Cooldown, Pinned, UpdatesDisabled. */
  waitingReason?: string;
  /** The wait ends when a person sets spec.approve. */
  awaitingApproval: boolean;
  /** When a cooldown ends. */
  eligibleAt?: Date;
}

export interface Offer {
  /** The release a stack that follows the channel converges to. */
  target?: SignedRelease;
  /** The newest release newer than what runs. */
  available?: AvailableRelease;
}

type Verdict = { ok: true } | { ok: false; reason: string; why: string; awaitingApproval: boolean; eligibleAt?: Date };

function approveHint(version: string): string {
  return `set spec.approve to "${version}" to apply it`;
}

function verdictOf(release: SignedRelease, input: OfferInput): Verdict {
  const { spec, current, now } = input;
  const version = release.spec.version;
  if (version === current) return { ok: true };
  // Before the pin and the approval: approving the version that failed approves nothing new.
  const q = input.quarantine;
  if (q !== undefined && quarantinedVersions(q).includes(version)) {
    return {
      ok: false,
      reason: 'Quarantined',
      why:
        `it failed (${q.version === version ? q.reason : 'an earlier attempt'}) and was rolled back; berth does not apply it again until ` +
        `the spec names another version or metadata.annotations["${RETRY_ANNOTATION}"] is set to a new value`,
      awaitingApproval: false,
    };
  }
  // A pinned or disabled stack takes nothing from the channel, approved or not.
  if (spec.version !== undefined) {
    return { ok: false, reason: 'Pinned', why: `the stack is pinned to version ${spec.version}: set spec.version to apply another`, awaitingApproval: false };
  }
  if (spec.mode === 'disabled') return { ok: false, reason: 'UpdatesDisabled', why: 'mode is disabled: berth applies nothing', awaitingApproval: false };
  if (approvedVersion(spec.approve) === version) return { ok: true };
  if (spec.mode === 'notify') return { ok: false, reason: 'AwaitingApproval', why: `approval: ${approveHint(version)}`, awaitingApproval: true };
  const change = changeBetween(current, version);
  const allowed = spec.policy.autoApply;
  if (RANK[change] > RANK[allowed]) {
    return {
      ok: false,
      reason: 'AwaitingApproval',
      why: `approval: ${change} change from ${current ?? 'nothing'} is more than spec.policy.autoApply (${allowed}) allows; ${approveHint(version)}`,
      awaitingApproval: true,
    };
  }
  const cooldownMs = spec.policy.minReleaseAgeSeconds * 1000;
  if (cooldownMs > 0) {
    const published = release.spec.published !== undefined ? Date.parse(release.spec.published) : NaN;
    if (Number.isNaN(published)) {
      return {
        ok: false,
        reason: 'AwaitingApproval',
        why: `cooldown: the release has no publish time, so spec.policy.minReleaseAgeSeconds cannot pass; ${approveHint(version)}`,
        awaitingApproval: true,
      };
    }
    const eligibleAt = new Date(published + cooldownMs);
    if (eligibleAt.getTime() > now.getTime()) {
      return { ok: false, reason: 'Cooldown', why: `cooldown: eligible at ${eligibleAt.toISOString()} (spec.policy.minReleaseAgeSeconds)`, awaitingApproval: false, eligibleAt };
    }
  }
  return { ok: true };
}

export function chooseRelease(input: OfferInput): Offer {
  const { current } = input;
  // Exactly the schema's grammar: semver's own parser would also take "v1.2.0" or " 1.2.0".
  const strict = new RegExp(SEMVER_PATTERN);
  const valid = input.releases.filter((r) => strict.test(r.spec.version));
  // Build metadata has no precedence in semver, but order must not depend on the feed's.
  const newestFirst = [...valid].sort((a, b) => semver.compareBuild(b.spec.version, a.spec.version));
  const notOlder = current !== undefined && semver.valid(current) !== null
    ? newestFirst.filter((r) => semver.gte(r.spec.version, current))
    : newestFirst;

  const following = input.spec.version === undefined && input.spec.mode !== 'disabled';
  const target = following ? notOlder.find((r) => verdictOf(r, input).ok) : undefined;

  const newest = notOlder[0];
  let available: AvailableRelease | undefined;
  if (newest !== undefined && newest.spec.version !== current) {
    const change = changeBetween(current, newest.spec.version);
    const verdict = verdictOf(newest, input);
    // Only the target can be acceptable here: it is the newest acceptable release.
    available = verdict.ok
      ? { release: newest, change, awaitingApproval: false }
      : {
          release: newest,
          change,
          waitingFor: verdict.why,
          waitingReason: verdict.reason,
          awaitingApproval: verdict.awaitingApproval,
          ...(verdict.eligibleAt !== undefined ? { eligibleAt: verdict.eligibleAt } : {}),
        };
  }
  return { ...(target !== undefined ? { target } : {}), ...(available !== undefined ? { available } : {}) };
}
