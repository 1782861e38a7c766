// Resolves a valid Stack and its parsed compose file into the concrete Target berth converges
// to. Pure: the caller read the files.
import type { Quarantine, ResolvedStack, SignedRelease } from '../api/types.js';
import { approvedVersion } from './approval.js';
import { stableHash } from './hash.js';
import { chooseRelease, type Offer } from './offer.js';
import { RETRY_ANNOTATION, quarantineHolds } from './progress.js';
import type { ChannelView, ComposeDocument, Hold, ReleaseProvenance, RevisionRecord, Target } from './types.js';

/** The Stack is valid on its own but does not fit its compose file. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export function asComposeDocument(composeFile: string, value: unknown): ComposeDocument {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TargetError(`${composeFile}: expected a compose file (a mapping with \`services\`)`);
  }
  const services = (value as Record<string, unknown>)['services'];
  if (services === null || typeof services !== 'object' || Array.isArray(services)) {
    throw new TargetError(`${composeFile}: has no \`services\` mapping; berth needs at least one service`);
  }
  for (const [name, def] of Object.entries(services as Record<string, unknown>)) {
    if (def === null || typeof def !== 'object' || Array.isArray(def)) {
      throw new TargetError(`${composeFile}: services.${name} must be a mapping`);
    }
  }
  return value as ComposeDocument;
}

export interface TargetSource {
  stack: ResolvedStack;
  manifest: string;
  composeFile: string;
  /** The stack's resolved compose model (compose's own `config`). */
  compose: ComposeDocument;
  /** The folder compose runs in; by default the compose file's. */
  projectDirectory?: string;
  /** The project compose resolved the model under; by default spec.compose.project, else the stack's name. */
  project?: string;
  /**
   * The compose profiles the stack enables (none when absent): only their services are
   * expected. `['*']` enables every service of the model, as for a model compose resolved
   * itself (it holds only the services of enabled profiles).
   */
  activeProfiles?: readonly string[];
}

/** A verified channel release, with its compose file parsed when it carries one. */
export interface ChannelRelease {
  release: SignedRelease;
  keyId: string;
  compose?: ComposeDocument;
}

interface Shape {
  version: string;
  images: Record<string, string>;
  compose: ComposeDocument;
  /** Names what the images must fit, for the error message. */
  imagesFrom: string;
  composeFrom: string;
}

/**
 * What a person's spec names, as opposed to what a feed answer makes of it: the version, the
 * approval, the images, the compose file and the channel. Mode, policy and health settings
 * name nothing. A quarantine holds until this changes, so no feed answer can release it.
 */
export function intentOf(stack: ResolvedStack, compose: ComposeDocument): string {
  const { version, approve, images, channel } = stack.spec;
  return stableHash({
    version,
    approve,
    images,
    compose: stack.spec.compose,
    composeDocument: compose,
    channel: channel !== undefined ? { url: channel.url, name: channel.name } : undefined,
  });
}

function build(src: TargetSource, shape: Shape, extra: Pick<Target, 'release' | 'hold'> = {}): Target {
  const { stack } = src;
  const { version, images, compose } = shape;
  const unknown = Object.keys(images).filter((s) => !(s in compose.services));
  if (unknown.length > 0) {
    throw new TargetError(
      `${shape.imagesFrom} names ${unknown.map((s) => `"${s}"`).join(', ')}, which ${shape.composeFrom} does not define` +
        ` (its services: ${Object.keys(compose.services).join(', ')})`,
    );
  }
  const project = src.project ?? stack.spec.compose.project ?? stack.metadata.name;
  const projectDirectory = src.projectDirectory ?? dirnameOf(src.composeFile);
  const profiles = [...new Set(src.activeProfiles ?? [])].sort();
  // Part of the identity only when they pick services out of the model: then enabling one is
  // a new target. Otherwise the model says it all, and keys stay as they were without profiles.
  const selecting = profiles.length > 0 && !profiles.includes('*') ? { profiles } : {};
  return {
    stack,
    manifest: src.manifest,
    version,
    images,
    project,
    projectDirectory,
    compose,
    ...(profiles.length > 0 ? { profiles } : {}),
    key: stableHash({ version, images, compose, project, projectDirectory, ...selecting }),
    generation: stableHash({ spec: stack.spec, compose: src.compose, ...(extra.release ? { release: extra.release } : {}) }),
    intent: intentOf(stack, src.compose),
    ...extra,
  };
}

/** A Stack that names its version: the target is the Stack itself. */
export function resolveTarget(src: TargetSource): Target {
  const spec = src.stack.spec;
  if (spec.version === undefined) throw new TargetError(`${src.manifest}: spec.version is not set; the stack follows its channel`);
  const target = build(src, {
    version: spec.version,
    images: spec.images ?? {},
    compose: src.compose,
    imagesFrom: `${src.manifest}: spec.images`,
    composeFrom: src.composeFile,
  });
  if (spec.mode === 'notify' && approvedVersion(spec.approve) !== spec.version) {
    const ask = `version ${spec.version} waits for approval: set spec.approve to "${spec.version}"`;
    const message = spec.approve === undefined ? ask : `${ask} (spec.approve is "${spec.approve}", which approves no other version)`;
    return { ...target, hold: { reason: 'AwaitingApproval', message, awaitingApproval: true } };
  }
  return target;
}

function provenance(r: ChannelRelease): ReleaseProvenance {
  const { spec } = r.release;
  return {
    channel: spec.channel ?? '',
    version: spec.version,
    ...(spec.published !== undefined ? { published: spec.published } : {}),
    keyId: r.keyId,
    compose: r.compose !== undefined,
  };
}

/** The target a release makes: its images over the Stack's, its compose file if it carries one. */
export function releaseTarget(src: TargetSource, r: ChannelRelease, hold?: Hold): Target {
  const name = `release ${r.release.spec.version}`;
  return build(
    src,
    {
      version: r.release.spec.version,
      images: { ...(src.stack.spec.images ?? {}), ...r.release.spec.images },
      compose: r.compose ?? src.compose,
      imagesFrom: `${name} (with spec.images of ${src.manifest})`,
      composeFrom: r.compose !== undefined ? `the compose file of ${name}` : src.composeFile,
    },
    { release: provenance(r), ...(hold !== undefined ? { hold } : {}) },
  );
}

/**
 * The target of a Stack that follows its channel. With no acceptable release, what berth
 * applied stays the target (same key, so nothing moves); with nothing applied either, the
 * stack waits with a hold that says for what.
 */
export function followChannel(
  src: TargetSource,
  offer: Offer,
  releases: readonly ChannelRelease[],
  applied: RevisionRecord | undefined,
  channel: ChannelView,
): Target {
  const find = (version: string) => releases.find((r) => r.release.spec.version === version);
  const chosen = offer.target !== undefined ? find(offer.target.spec.version) : undefined;
  if (chosen !== undefined) return { ...releaseTarget(src, chosen), channel };
  if (applied !== undefined) {
    // Stay on what berth applied. Its key is the applied one, so decide() keeps that revision
    // (repairing it if need be) and never renders this target; the compose view lists the
    // revision's own services, whatever shape the release that made it had.
    const services = Object.fromEntries(applied.services.map((s) => [s.name, {}]));
    const stay: Target = {
      stack: src.stack,
      manifest: src.manifest,
      version: applied.version,
      images: applied.images,
      project: applied.project,
      projectDirectory: applied.projectDirectory,
      compose: { services },
      key: applied.targetKey,
      generation: stableHash({ spec: src.stack.spec, compose: src.compose, stay: applied.revision }),
      intent: intentOf(src.stack, src.compose),
      ...(applied.release ? { release: applied.release } : {}),
    };
    return { ...stay, channel };
  }
  const waiting = offer.available !== undefined ? find(offer.available.release.spec.version) : undefined;
  if (waiting !== undefined && offer.available !== undefined) {
    const hold: Hold = {
      reason: offer.available.waitingReason ?? (offer.available.awaitingApproval ? 'AwaitingApproval' : 'AwaitingRelease'),
      message: `version ${waiting.release.spec.version} from channel ${channel.name} waits: ${offer.available.waitingFor ?? 'not acceptable yet'}`,
      awaitingApproval: offer.available.awaitingApproval,
    };
    return { ...releaseTarget(src, waiting, hold), channel };
  }
  const why = channel.refused !== undefined ? `; the last check-in was refused (${channel.refused.reason}: ${channel.refused.message})` : '';
  const hold: Hold = {
    reason: 'AwaitingRelease',
    message: `no release from channel ${channel.name} at ${channel.url} yet${why}`,
    awaitingApproval: false,
  };
  const placeholder = build(src, { version: '', images: src.stack.spec.images ?? {}, compose: src.compose, imagesFrom: `${src.manifest}: spec.images`, composeFrom: src.composeFile });
  return { ...placeholder, hold, channel };
}

/** What a stack with a channel is resolved against besides its files. */
export interface FollowContext {
  releases: readonly ChannelRelease[];
  view: ChannelView;
  /** The revision berth applied last: its version is what runs. */
  applied?: RevisionRecord;
  /** The quarantine in the status, if any; only one that still holds keeps versions out of the offer. */
  quarantine?: Quarantine;
  now: Date;
}

/**
 * The target of a Stack with a channel: the release it follows, or, when the Stack pins a
 * version, that version with the channel only reported beside it.
 */
export function channelTarget(src: TargetSource, follow: FollowContext): Target {
  const { stack } = src;
  // What runs: the applied revision's version, else (nothing applied yet) the pinned one.
  const current = follow.applied?.version ?? stack.spec.version;
  const q = follow.quarantine;
  const holding = q !== undefined && quarantineHolds(q, intentOf(stack, src.compose), stack.metadata.annotations?.[RETRY_ANNOTATION]) ? q : undefined;
  const offer = chooseRelease({
    releases: follow.releases.map((r) => r.release),
    ...(current !== undefined ? { current } : {}),
    spec: stack.spec,
    now: follow.now,
    ...(holding !== undefined ? { quarantine: holding } : {}),
  });
  const view: ChannelView = { ...follow.view, ...(offer.available !== undefined ? { available: offer.available } : {}) };
  if (stack.spec.version !== undefined) return { ...resolveTarget(src), channel: view };
  return followChannel(src, offer, follow.releases, follow.applied, view);
}

// node:path is pure string work, but keeping plan/ free of node: I/O modules is easier to
// check at a glance; compose files are POSIX paths on the hosts berth runs on.
function dirnameOf(path: string): string {
  const i = path.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return path.slice(0, i);
}
