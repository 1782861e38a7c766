// Small builders for the planner's plain inputs: a Stack, its compose file, the Target it
// resolves to, the revision records berth keeps, and the containers the engine reports.
// Everything here is data; the planner under test is always the real one.
import type { HistoryEntry, Operation, ResolvedStack, UpdateMode, Health } from '../../src/api/types.js';
import { renderRevision } from '../../src/plan/render.js';
import { resolveTarget } from '../../src/plan/target.js';
import type {
  ComposeDocument,
  ContainerDetailsView,
  Desired,
  ExpectedService,
  Observed,
  ObservedContainer,
  Progress,
  Recorded,
  RevisionRecord,
  Target,
} from '../../src/plan/types.js';

export const STACK = 'shop';
export const MANIFEST = '/srv/stacks/shop.yaml';
export const COMPOSE_FILE = '/srv/stacks/shop/compose.yaml';
export const NOW = new Date('2026-01-02T03:04:05.000Z');

/** A sha256 digest made of one repeated hex character: `digest('a')` = sha256:aaaa…. */
export function digest(ch: string): string {
  return `sha256:${ch.repeat(64)}`;
}

/** `registry.local/<service>@sha256:<ch x 64>`. */
export function pinned(service: string, ch: string): string {
  return `registry.local/${service}@${digest(ch)}`;
}

/** A compose file with two services, web (built locally in the user's file) and db. */
export function composeDoc(overrides: Record<string, Record<string, unknown>> = {}): ComposeDocument {
  return {
    services: {
      web: { image: 'registry.local/web:latest', build: { context: './web' }, ports: ['8080:80'] },
      db: { image: 'registry.local/db:latest', environment: { POSTGRES_DB: 'shop' } },
      ...overrides,
    },
  };
}

export interface StackOptions {
  version?: string;
  images?: Record<string, string>;
  mode?: UpdateMode;
  approve?: string;
  project?: string;
  resyncSeconds?: number;
  health?: Partial<ResolvedStack['spec']['health']>;
  rollback?: Partial<ResolvedStack['spec']['rollback']>;
  /** metadata.annotations, e.g. `{ 'berth.dev/retry': '1' }`. */
  annotations?: Record<string, string>;
}

export function stack(o: StackOptions = {}): ResolvedStack {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Stack',
    metadata: { name: STACK, ...(o.annotations !== undefined ? { annotations: o.annotations } : {}) },
    spec: {
      compose: { file: 'shop/compose.yaml', ...(o.project !== undefined ? { project: o.project } : {}) },
      version: o.version ?? '1.0.0',
      images: o.images ?? { web: pinned('web', 'a'), db: pinned('db', 'b') },
      mode: o.mode ?? 'auto',
      ...(o.approve !== undefined ? { approve: o.approve } : {}),
      resyncSeconds: o.resyncSeconds ?? 30,
      health: { progressDeadlineSeconds: 120, stableForSeconds: 10, ...o.health },
      rollback: { auto: true, keep: 10, ...o.rollback },
      policy: { autoApply: 'minor', minReleaseAgeSeconds: 0 },
    },
  };
}

export function target(o: StackOptions = {}, compose: ComposeDocument = composeDoc()): Target {
  return resolveTarget({ stack: stack(o), manifest: MANIFEST, composeFile: COMPOSE_FILE, compose });
}

export function valid(t: Target): Desired {
  return { valid: true, target: t };
}

export function invalid(lastValidMode?: UpdateMode, more: { manifestMode?: UpdateMode; statusMode?: UpdateMode } = {}): Desired {
  return {
    valid: false,
    manifest: MANIFEST,
    error: `${MANIFEST}: spec.version: is required but missing`,
    ...(lastValidMode !== undefined ? { lastValidMode } : {}),
    ...more,
  };
}

/** The record berth keeps for `t` applied as `revision`, as the apply step would write it. */
export function record(t: Target, revision: number, previous: ExpectedService[] = []): RevisionRecord {
  const rendered = renderRevision(t, revision, previous);
  return {
    revision,
    stack: t.stack.metadata.name,
    version: t.version,
    images: t.images,
    targetKey: t.key,
    generation: t.generation,
    project: t.project,
    projectDirectory: t.projectDirectory,
    services: rendered.services,
    spec: t.stack.spec,
    created: NOW.toISOString(),
  };
}

export function recorded(applied?: RevisionRecord, latest: RevisionRecord | undefined = applied): Recorded {
  return { ...(applied !== undefined ? { applied } : {}), ...(latest !== undefined ? { latest } : {}) };
}

export interface ContainerOptions {
  name?: string;
  state?: string;
  health?: Health;
  /** Repo digests of the image; defaults to none (an unpinned image). */
  digests?: string[];
  revision?: number;
  /** A fixed container id, for restart baselines keyed by id; by default a fresh one. */
  id?: string;
  /** What an inspect adds while a revision is verified. */
  details?: ContainerDetailsView;
  /** When the engine created it (ms since the epoch). */
  created?: number;
  /** The berth instance stamped on it (dev.berth.instance). */
  instance?: string;
  /** The exit code the list API's status text shows for an exited container. */
  exitCode?: number;
  /** compose's com.docker.compose.config-hash label. */
  configHash?: string;
}

let counter = 0;

export function container(service: string, o: ContainerOptions = {}): ObservedContainer {
  counter += 1;
  return {
    id: `${counter.toString(16).padStart(12, '0')}${'f'.repeat(52)}`,
    name: o.name ?? `${STACK}-${service}-1`,
    service,
    state: o.state ?? 'running',
    health: o.health ?? 'none',
    imageId: `sha256:${counter.toString(16).padStart(64, '0')}`,
    imageDigests: o.digests ?? [],
    ...(o.revision !== undefined ? { revision: o.revision } : {}),
    ...(o.id !== undefined ? { id: o.id } : {}),
    ...(o.details !== undefined ? { details: o.details } : {}),
    ...(o.created !== undefined ? { created: o.created } : {}),
    ...(o.instance !== undefined ? { instance: o.instance } : {}),
    ...(o.exitCode !== undefined ? { exitCode: o.exitCode } : {}),
    ...(o.configHash !== undefined ? { configHash: o.configHash } : {}),
  };
}

/**
 * The containers a revision's rendered file would create: one per service, running, on the
 * pinned digest, carrying the revision label of its service. `tweak` changes one service.
 */
export function runningOf(rec: RevisionRecord, tweak: Record<string, ContainerOptions | null> = {}): ObservedContainer[] {
  const out: ObservedContainer[] = [];
  for (const s of rec.services) {
    const t = tweak[s.name];
    if (t === null) continue; // the service's container is gone
    out.push(
      container(s.name, {
        digests: s.pinned !== undefined ? [s.pinned] : [],
        revision: s.revision,
        ...t,
      }),
    );
  }
  return out;
}

export function observed(containers: ObservedContainer[], project = STACK): Observed {
  return { project, containers };
}

/** `seconds` after NOW (negative: before). */
export function at(seconds: number): Date {
  return new Date(NOW.getTime() + seconds * 1000);
}

/** `at(seconds)` as the ISO string the journal stores. */
export function iso(seconds: number): string {
  return at(seconds).toISOString();
}

/**
 * An operation of the journal applying `rec`. By default an update at its verify step whose
 * compose up finished at NOW, with the deadline of the revision's own health settings.
 */
export function operation(rec: RevisionRecord, o: Partial<Operation> = {}): Operation {
  const step = o.step ?? 'verify';
  const verifying = step === 'verify' ? { verifyDeadline: iso(rec.spec.health?.progressDeadlineSeconds ?? 120), restartBaseline: {} } : {};
  return {
    id: 'op-1',
    kind: 'update',
    revision: rec.revision,
    targetKey: rec.targetKey,
    desiredKey: rec.targetKey,
    step,
    started: iso(-30),
    stepStarted: step === 'verify' ? iso(0) : iso(-30),
    ...verifying,
    ...o,
  };
}

/** A history entry for `rec`: an update still in progress unless told otherwise. */
export function entry(rec: RevisionRecord, o: Partial<HistoryEntry> = {}): HistoryEntry {
  return { revision: rec.revision, version: rec.version, operation: 'update', started: iso(-30), outcome: 'Progressing', ...o };
}

/** berth's journal of a stack: an empty history unless told otherwise. */
export function progress(o: Partial<Progress> = {}): Progress {
  return { history: [], ...o };
}

// --- Release channels (issue 4): signed releases, a stack that follows a channel, the
// channel as berth saw it. The planner never verifies signatures (the caller does), so a
// dummy signature of the right shape stands in for one.

import { createHash } from 'node:crypto';
import type { SemverChange, SignedRelease } from '../../src/api/types.js';
import type { ChannelRelease, TargetSource } from '../../src/plan/target.js';
import type { ChannelView } from '../../src/plan/types.js';

export const FEED_URL = 'https://releases.example.com/shop';
export const CHANNEL = 'stable';
export const KEY_ID = '0123456789abcdef';
export const SIGNATURE: SignedRelease['signature'] = { algorithm: 'ed25519', keyId: KEY_ID, value: `${'A'.repeat(86)}==` };

/** `127.0.0.1:5000/x/<service>@sha256:<64 hex>`; the digest is derived from `seed`, so each version gets its own. */
export function feedImage(service: string, seed: string): string {
  return `127.0.0.1:5000/x/${service}@sha256:${createHash('sha256').update(`${service}:${seed}`).digest('hex')}`;
}

export interface ReleaseOptions {
  /** By default web, on a digest of its own for this version. */
  images?: Record<string, string>;
  /** By default a day before NOW; null: the release carries no publish time. */
  published?: string | null;
  notes?: string;
  /** The compose file the release carries, as text. */
  compose?: string;
  channel?: string;
}

/** A release of `version` on the channel, signed (with a dummy signature). */
export function release(version: string, o: ReleaseOptions = {}): SignedRelease {
  const published = o.published === undefined ? iso(-86400) : o.published;
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Release',
    metadata: { name: STACK },
    spec: {
      version,
      images: o.images ?? { web: feedImage('web', version) },
      ...(o.notes !== undefined ? { notes: o.notes } : {}),
      ...(o.compose !== undefined ? { compose: o.compose } : {}),
      channel: o.channel ?? CHANNEL,
      ...(published !== null ? { published } : {}),
    },
    signature: SIGNATURE,
  };
}

/** A verified release as the controller hands it to the planner: with its compose file parsed. */
export function channelRelease(r: SignedRelease, compose?: ComposeDocument): ChannelRelease {
  return { release: r, keyId: KEY_ID, ...(compose !== undefined ? { compose } : {}) };
}

export interface FollowOptions extends StackOptions {
  /** spec.policy.autoApply; the default is minor. */
  autoApply?: SemverChange;
  minReleaseAgeSeconds?: number;
  channel?: string;
}

/**
 * A Stack with a channel. It follows the channel unless `version` is set (then it is pinned
 * and the channel only reports); its own spec.images default to none.
 */
export function following(o: FollowOptions = {}): ResolvedStack {
  const base = stack({ ...o, images: o.images ?? {} });
  const { version: _pinned, ...spec } = base.spec;
  return {
    ...base,
    spec: {
      ...spec,
      ...(o.version !== undefined ? { version: o.version } : {}),
      channel: { url: FEED_URL, publicKey: 'vendor.pem', name: o.channel ?? CHANNEL, intervalSeconds: 300, jitterSeconds: 30, timeoutSeconds: 10 },
      policy: { autoApply: o.autoApply ?? 'minor', minReleaseAgeSeconds: o.minReleaseAgeSeconds ?? 0 },
    },
  };
}

/** What followChannel/releaseTarget/resolveTarget resolve: the stack with the shop compose file. */
export function source(s: ResolvedStack, compose: ComposeDocument = composeDoc()): TargetSource {
  return { stack: s, manifest: MANIFEST, composeFile: COMPOSE_FILE, compose };
}

/** The channel as berth last saw it: by default checked in a minute before NOW, nothing refused. */
export function channelView(o: Partial<ChannelView> = {}): ChannelView {
  return { name: CHANNEL, url: FEED_URL, lastCheckIn: iso(-60), ...o };
}
