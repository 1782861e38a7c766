// The planner's vocabulary: what it is told (desired, observed, recorded) and what it
// answers (steps and the reasons for them). Plain data only, so tables of cases can be
// written without Docker.
import type { Operation as PatchOperation } from 'fast-json-patch';
import type { Approval, Health, HistoryEntry, Operation, Quarantine, ResolvedStack, UpdateMode } from '../api/types.js';
import type { AvailableRelease } from './offer.js';

/** Compose labels berth reads, and the ones it stamps. */
export const LABEL_PROJECT = 'com.docker.compose.project';
export const LABEL_SERVICE = 'com.docker.compose.service';
export const LABEL_ONEOFF = 'com.docker.compose.oneoff';
export const LABEL_CONFIG_HASH = 'com.docker.compose.config-hash';
export const LABEL_REVISION = 'dev.berth.revision';
export const LABEL_STACK = 'dev.berth.stack';

/** One container of the project as the engine reports it. */
export interface ObservedContainer {
  id: string;
  name: string;
  service: string;
  /** Engine state: created, running, paused, restarting, removing, exited, dead. */
  state: string;
  health: Health;
  imageId: string;
  /** Repo digests (`repo@sha256:…`) of the image the container runs. */
  imageDigests: string[];
  /** The berth revision label, when berth's rendered file created the container. */
  revision?: number;
  /** The berth instance that stamped the container (LABEL_INSTANCE), if any. */
  instance?: string;
  configHash?: string;
  /** When the engine created it, in ms since the epoch (the list API gives whole seconds). */
  created?: number;
  /** The exit code of an exited container, read from the list API's status text (no inspect). */
  exitCode?: number;
  /** Filled in only while a revision is being verified (one inspect per container). */
  details?: ContainerDetailsView;
}

/** What the health gate needs beyond the list API: when it started, how often it restarted. */
export interface ContainerDetailsView {
  startedAt?: string;
  restartCount: number;
  exitCode?: number;
  oomKilled?: boolean;
  lastHealthOutput?: string;
}

/** One HTTP probe of one container, run by the controller while verifying. */
export interface ProbeResult {
  service: string;
  container: string;
  url: string;
  ok: boolean;
  status?: number;
  error?: string;
}

/** berth's journal of a stack, kept in its status: what runs, what was good, what is in flight. */
export interface Progress {
  /** The revision berth applied last. */
  revision?: number;
  lastGoodRevision?: number;
  operation?: Operation;
  quarantine?: Quarantine;
  /** The content spec.approve was taken to cover. */
  approval?: Approval;
  /** Newest first. */
  history: HistoryEntry[];
}

export interface Observed {
  project: string;
  containers: ObservedContainer[];
}

/** What one service of a rendered revision is expected to run. */
export interface ExpectedService {
  name: string;
  /** The pinned image (`repo@sha256:…`), when the Stack pins this service. */
  pinned?: string;
  /**
   * The revision whose definition of this service is current: the label its containers carry,
   * unless the service is adopted (configHash set), whose containers carry no berth label.
   */
  revision: number;
  /**
   * Set for a service berth adopted as it ran (first revision over containers a person
   * started): rendered without berth's labels, so compose keeps its containers, and known by
   * compose's own `com.docker.compose.config-hash`, which its containers must carry.
   */
  configHash?: string;
  /** Hash of the service's rendered definition without berth's labels. */
  definitionHash: string;
  /** Containers expected when not one (`deploy.replicas`/`scale`); absent in revisions written before berth read it. */
  replicas?: number;
  /** A one-shot job (see plan/services.ts): a container that exited 0 is done. */
  job?: true;
  /** None of its profiles is active: nothing of it is expected, and what a person runs of it is left alone. */
  inactive?: true;
}

/** An immutable record of one applied revision, stored beside its rendered compose file. */
export interface RevisionRecord {
  revision: number;
  stack: string;
  version: string;
  images: Record<string, string>;
  /** Identity of what was asked for: version, digests, compose content, project. */
  targetKey: string;
  /** Hash of the Stack spec the revision was made from. */
  generation: string;
  project: string;
  projectDirectory: string;
  services: ExpectedService[];
  /**
   * The active profiles the rendered file's services carry: compose up enables them, so exactly
   * the active services run (the file holds the inactive ones too, so what a person starts of
   * them is a known service, not a stray). An older revision's file held only active services.
   */
  profiles?: string[];
  /** Rendered from compose's resolved model (absent: an older berth's own reading of the YAML). */
  resolved?: boolean;
  /** The resolved Stack spec, so berth can act on it when the manifest later goes bad. */
  spec: ResolvedStack['spec'];
  created: string;
  /** The channel release the revision was made from, when the stack follows a channel. */
  release?: ReleaseProvenance;
  /** Why the revision was made, when not an ordinary update: a person's `berth rollback`. */
  cause?: RevisionCause;
}

/** A revision a person asked for with `berth rollback`: the content of `toRevision`, made anew. */
export interface RevisionCause {
  kind: 'rollback';
  /** The revision that ran when the person asked. */
  fromRevision?: number;
  toRevision: number;
  /** When `berth rollback` edited the manifest. */
  requested: string;
}

/** Where a revision's version, images and compose file came from, for audits and reports. */
export interface ReleaseProvenance {
  channel: string;
  version: string;
  published?: string;
  keyId: string;
  /** The release carried its own compose file (the stack's shape came from the vendor). */
  compose: boolean;
}

/** Why a target is not applied now; decide() keeps what runs and says why. */
export interface Hold {
  reason: string;
  message: string;
  /** A person's approval (spec.approve) ends the wait. */
  awaitingApproval: boolean;
}

/** The release channel as berth last saw it, for the status. */
export interface ChannelView {
  name: string;
  url: string;
  /** When berth last accepted an answer from the feed. */
  lastCheckIn?: string;
  /** Why the last check-in was refused, if it was. */
  refused?: { reason: string; message: string; at: string };
  available?: AvailableRelease & { downloaded?: boolean };
}

/** The concrete thing a valid Stack asks for, resolved against its compose file. */
export interface Target {
  stack: ResolvedStack;
  manifest: string;
  version: string;
  images: Record<string, string>;
  project: string;
  projectDirectory: string;
  /** The compose model compose resolved from the stack's inputs (a release's own file: parsed). */
  compose: ComposeDocument;
  /** The compose profiles the stack enables; none when absent (see plan/services.ts). */
  profiles?: string[];
  key: string;
  generation: string;
  /** What the person's spec names (see intentOf): a quarantine holds until it changes. */
  intent: string;
  /** The channel release this target was made from (a stack that follows a channel). */
  release?: ReleaseProvenance;
  /** Set when the target must wait (approval, cooldown, no release yet). */
  hold?: Hold;
  /** Set when the stack has a channel. */
  channel?: ChannelView;
}

export type ComposeDocument = Record<string, unknown> & { services: Record<string, Record<string, unknown>> };

/** Desired state as the controller found it this pass. */
export type Desired =
  | { valid: true; target: Target }
  | {
      valid: false;
      manifest: string;
      error: string;
      /** Mode of the last valid spec seen for this stack, if any: berth keeps honouring it. */
      lastValidMode?: UpdateMode;
      /** spec.mode as the invalid manifest itself says it, when it can be read (see plan/mode.ts). */
      manifestMode?: UpdateMode;
      /** status.mode of the last status written: the mode berth acted under before a restart. */
      statusMode?: UpdateMode;
    };

/** What berth has on record for the stack. */
export interface Recorded {
  /** The revision berth applied last, if any. */
  applied?: RevisionRecord;
  /** The newest revision on disk (may be newer than `applied` after a crash mid-apply). */
  latest?: RevisionRecord;
  /** The newest revision that passed the health gate. */
  lastGood?: RevisionRecord;
  /** The revision of the operation in flight, when it is on disk. */
  operating?: RevisionRecord;
}

export interface PlanInput {
  desired: Desired;
  recorded: Recorded;
  observed: Observed;
  /** The journal as the last pass left it; absent for a stack berth has never acted on. */
  progress?: Progress;
  /** Probe results, when a revision is being verified and the Stack asks for probes. */
  probes?: ProbeResult[];
  /** A fresh operation id, in case this pass starts one (ids are not the planner's to invent). */
  newOperationId?: string;
  /** This berth's instance id: stamped on what it renders, and compared with what runs. */
  instance?: string;
  /**
   * compose's config hash of each service of the target rendered without berth's labels
   * (renderUnlabelled), asked by the controller only while no revision is applied and the
   * project has containers berth did not stamp: services whose containers all carry that very
   * hash are adopted as they run (see plan/adopt.ts), so the first revision recreates none of them.
   */
  adoptable?: Record<string, string>;
  now: Date;
}

export type DriftKind = 'missing' | 'notRunning' | 'wrongImage' | 'staleRevision' | 'orphan' | 'jobFailed' | 'unexpected';

export interface Drift {
  service: string;
  kind: DriftKind;
  detail: string;
}

export type Step =
  | { kind: 'pull'; images: string[] }
  | { kind: 'writeRevision'; record: RevisionRecord; composeText: string }
  | { kind: 'composeUp'; revision: number; project: string; projectDirectory: string };

export type PlanAction = 'apply' | 'resume' | 'repair' | 'rollback' | 'verify' | 'none';

export interface Plan {
  action: PlanAction;
  steps: Step[];
  /** CamelCase reason, as used in conditions. */
  reason: string;
  message: string;
  /** The target's version waits for approval (notify mode). */
  awaitingApproval: boolean;
  /** Differences between what runs and what is asked, service by service. */
  drift: Drift[];
  /** JSON Patch that turns the observed view into the desired view, for `berth diff`. */
  patch: PatchOperation[];
  /** The journal to record before the steps run (write-ahead). */
  progress: Progress;
}
