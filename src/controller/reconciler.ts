// One reconcile pass for one key: read everything fresh, decide, act, write the status.
// Level-triggered: nothing here depends on what triggered the pass, so a lost event or a
// crash costs one pass, never correctness. Every step with an effect is announced in the
// status's journal before it runs, so a berth that starts after a crash finishes it.
//
// Failpoints (BERTH_FAILPOINTS, for crash tests), each prefixed with the operation kind
// (`update:`, `rollback:`, `repair:`): after-pull, after-write-revision,
// during-compose-up (the compose child runs and its pid is journaled), after-compose-up,
// and during-verify (a pass found the revision not yet proven, before it wrote that down).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NotifySpec, ResolvedStack, StackStatus } from '../api/types.js';
import { ComposeTimeoutError, type ComposeCli } from '../docker/compose.js';
import { ComposeModels, type ModelSource } from '../docker/compose-model.js';
import { EngineError, type Engine } from '../docker/engine.js';
import { fenceCompose, startTimeOf, type StartedProcess } from '../docker/fence.js';
import { inspectContainers } from '../docker/inspect.js';
import { observeProject } from '../docker/observe.js';
import { ensureImages, missingImages, type PullProgress } from '../docker/pull.js';
import { decide, decideOnFailure, healthOf, rollbackPolicy } from '../plan/decide.js';
import { stableHash } from '../plan/hash.js';
import {
  abandonOperation,
  afterComposeUp,
  engineWentAway,
  interrupted,
  progressOf,
  withComposePid,
  withStep,
} from '../plan/progress.js';
import { resumeAfterRestart } from '../plan/resume.js';
import { buildStatus, type StatusInput } from '../plan/status.js';
import type { Desired, Observed, Plan, ProbeResult, Progress, Recorded, RevisionRecord, Step } from '../plan/types.js';
import { instanceId } from '../store/channel.js';
import { readManifest } from '../store/manifests.js';
import { writeRevisionWithCause } from '../store/rollback-request.js';
import type { StateStore, StatusKey } from '../store/state.js';
import { failpoint } from '../util/failpoint.js';
import type { Clock } from './clock.js';
import type { ManifestIndex, WorkKey } from './index.js';
import { runProbes } from './probes.js';
import type { CheckInTarget } from './checkin.js';
import { followContext, ReleaseCache } from './releases.js';
import { keepLegacyKey } from './legacy-revision.js';
import { AdoptableHashes } from './adoption.js';
import { resolveTargetFile } from './target-file.js';
import { claimOf, projectClashMessage } from '../plan/project-claims.js';
import type { Metrics } from './metrics.js';
import { levelOfAction, levelOfReady } from './log-levels.js';

export interface ReconcilerDeps {
  state: StateStore;
  engine: Engine;
  compose: ComposeCli;
  /** Resolved compose models (default: asked of `compose`, once per change of a stack's inputs). */
  models?: ModelSource;
  index: ManifestIndex;
  log: Logger;
  clock: Clock;
  pullTimeoutMs?: number;
  composeTimeoutMs?: number;
  /** Per-stack series are derived from every status written here (see metrics.ts). */
  metrics?: Metrics;
  /** Watches image pulls as they happen (`berth run --once` on a terminal draws progress bars). */
  pullProgress?: PullProgress;
}

export interface ReconcileResult {
  /** Come back after this long even if nothing signals a change. */
  requeueAfterMs?: number;
  /** The pass did not reach the desired state; the queue backs off. */
  error?: Error;
  /** Compose files this stack reads, for the watcher. */
  watch?: string[];
  /** An update or rollback is still under way (being verified, or interrupted). */
  inFlight?: boolean;
  /** The stack's release channel, for the check-in schedule. */
  channel?: CheckInTarget;
  /** A release whose images should be on the host before anyone applies it. */
  prefetch?: { version: string; images: string[] };
  /** The status this pass wrote (or kept). */
  status?: StackStatus;
  /** The stack's spec.notify (of its last valid manifest); absent: berth's defaults apply. */
  notify?: NotifySpec;
}

/** Rewrite an unchanged status at least this often, so its lastReconcileTime shows berth is alive. */
const HEARTBEAT_MS = 10 * 60_000;
/** While something is in motion (applied, health pending), look again soon. */
const SETTLE_MS = 2_000;
/** How often a revision under verification is sampled (Docker events wake berth sooner). */
const VERIFY_POLL_MS = 1_000;

type StatusParts = Omit<StatusInput, 'now' | 'name' | 'desired' | 'previous' | 'error'> & { error?: StepError };

class StepError extends Error {
  /** The journal when the step failed. */
  journal: Progress | undefined;
  constructor(
    readonly reason: string,
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** What compose prints when it cannot reach the engine, as opposed to the engine refusing the project. */
const ENGINE_GONE = /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect/i;

/** compose up ran or is verifying: the engine going away may have stopped what it started. */
function isMidApply(p: Progress): boolean {
  const op = p.operation;
  return op !== undefined && op.kind !== 'repair' && (op.step === 'composeUp' || op.step === 'verify');
}

/** The compose process the journal names, when its start time is known too (a bare pid may have been reused). */
function composeOf(p: Progress): StartedProcess[] {
  const op = p.operation;
  return op?.composePid !== undefined && op.composeStartTime !== undefined ? [{ pid: op.composePid, startTime: op.composeStartTime }] : [];
}

export class Reconciler {
  private readonly lastValid = new Map<string, ResolvedStack>();
  private readonly releases: ReleaseCache;
  /** Stacks whose next pass must treat an operation in flight as interrupted by the engine. */
  private readonly engineDropped = new Set<string>();
  private readonly models: ModelSource;
  private readonly adoptable: AdoptableHashes;
  /** Stacks this berth has had a pass of: the first one picks up what an earlier berth left. */
  private readonly resumed = new Set<string>();
  private instanceId: Promise<string> | undefined;

  constructor(private readonly deps: ReconcilerDeps) {
    this.releases = new ReleaseCache(deps.state);
    this.models = deps.models ?? new ComposeModels(deps.compose);
    this.adoptable = new AdoptableHashes(deps.compose, deps.log);
  }

  async reconcile(key: WorkKey): Promise<ReconcileResult> {
    if (key.startsWith('file:')) return this.reconcileUnnamedFile(key.slice('file:'.length));
    return this.reconcileStack(key.slice('stack:'.length));
  }

  /** A manifest that never named a stack: report it under its file name, or clear it once gone. */
  private async reconcileUnnamedFile(fileName: string): Promise<ReconcileResult> {
    const key: StatusKey = { file: fileName };
    const entry = this.deps.index.unnamedEntry(fileName);
    if (entry === undefined) {
      await this.deps.state.removeStatus(key);
      return {};
    }
    const message = entry.error?.message ?? `${entry.file}: not a Stack manifest`;
    const desired: Desired = { valid: false, manifest: entry.file, error: message };
    const observed: Observed = { project: '', containers: [] };
    const plan = decide({ desired, recorded: {}, observed, now: this.deps.clock.now() });
    await this.writeStatus(key, { name: fileName, desired, recorded: {}, observed, plan, progress: plan.progress });
    return {};
  }

  private async loadDesired(
    name: string,
    file: string,
    applied: RevisionRecord | undefined,
    progress: Progress,
    previous: StackStatus | undefined,
  ): Promise<{ desired: Desired; watch: string[]; channel?: CheckInTarget['channel'] }> {
    const entry = await readManifest(file);
    const last = this.lastValid.get(name);
    // Every place the mode can still be read (see plan/mode.ts): a valid manifest whose
    // compose file fails still says its own mode.
    const manifestMode = entry.stack?.spec.mode ?? entry.declaredMode;
    const statusMode = previous?.status.mode;
    const invalid = (error: string): Desired => ({
      valid: false,
      manifest: file,
      error,
      ...(last !== undefined ? { lastValidMode: last.spec.mode } : {}),
      ...(manifestMode !== undefined ? { manifestMode } : {}),
      ...(statusMode !== undefined ? { statusMode } : {}),
    });
    if (entry.stack === undefined) return { desired: invalid(entry.error?.message ?? `${file}: invalid`), watch: [] };
    const channel = entry.stack.spec.channel;
    const follow = await followContext(this.releases, name, entry.stack, file, applied, progress.quarantine, this.deps.clock.now());
    const resolved = await resolveTargetFile(file, entry.stack, this.models, follow, applied?.project);
    // A release the Stack cannot use (its compose file lacks a service the Stack pins) is
    // InvalidSpec, but the check-ins go on: only a newer release can end it.
    if ('error' in resolved) return { desired: invalid(resolved.error), watch: resolved.inputs, ...(channel ? { channel } : {}) };
    const claim = claimOf(name, file, resolved.target, applied);
    const holder = this.deps.index.claimProject(claim);
    if (holder !== undefined) return { desired: invalid(projectClashMessage(claim, holder)), watch: resolved.inputs };
    this.lastValid.set(name, entry.stack);
    const target = await keepLegacyKey(this.models, resolved.target, applied, this.deps.state.revisionComposePath(name, applied?.revision ?? 0));
    return { desired: { valid: true, target }, watch: resolved.inputs };
  }

  /** The revisions the journal names, read from disk (records are immutable, so cached). */
  private async loadRecorded(name: string, progress: Progress): Promise<Recorded> {
    const { state } = this.deps;
    const read = (n: number | undefined) => (n !== undefined ? state.readRevision(name, n) : Promise.resolve(undefined));
    const [applied, latest, lastGood, operating] = await Promise.all([
      read(progress.revision),
      state.latestRevision(name),
      read(progress.lastGoodRevision),
      read(progress.operation?.revision),
    ]);
    return {
      ...(applied ? { applied } : {}),
      ...(latest ? { latest } : {}),
      ...(lastGood ? { lastGood } : {}),
      ...(operating ? { operating } : {}),
    };
  }

  private async readPreviousStatus(key: StatusKey): Promise<StackStatus | undefined> {
    try {
      return await this.deps.state.readStatus(key);
    } catch (err) {
      // A damaged status is rebuilt from the revisions on disk and what runs.
      this.deps.log.warn({ err }, 'ignoring an unreadable status file; it will be rewritten');
      return undefined;
    }
  }

  /**
   * The engine connection dropped (its event stream ended): an operation in flight may have
   * had its containers stopped under it, so it repeats compose up (idempotent) before it is
   * judged. At start-up berth cannot know what happened while it was down: a stack's first
   * pass looks at what runs instead (see resumeAfterRestart).
   */
  noteEngineInterruption(): void {
    for (const name of this.deps.index.stackNames()) this.engineDropped.add(name);
  }

  private async reconcileStack(name: string): Promise<ReconcileResult> {
    const { index, engine, log, clock } = this.deps;
    const key: StatusKey = { stack: name };
    const previous = await this.readPreviousStatus(key);
    const file = index.fileOfStack(name);
    if (file === undefined) return this.markRemoved(name, previous);
    const slog = log.child({ stack: name });

    let progress = progressOf(previous);
    const leftCompose = composeOf(progress);
    const firstPass = !this.resumed.has(name);
    this.resumed.add(name);
    if (this.engineDropped.delete(name) && !firstPass && isMidApply(progress)) {
      progress = engineWentAway(progress, 'the engine connection dropped while it ran');
    }
    let recorded = await this.loadRecorded(name, progress);
    const { desired, watch, channel: invalidChannel } = await this.loadDesired(name, file, recorded.applied, progress, previous);
    const channel = desired.valid ? desired.target.stack.spec.channel : invalidChannel;
    const channelTarget = channel !== undefined ? { stack: name, channel, manifest: file } : undefined;
    const prefetch = await this.offeredImages(desired);
    const last = this.lastValid.get(name);
    const project = desired.valid
      ? desired.target.project
      : (recorded.applied?.project ?? last?.spec.compose.project ?? name);

    let observed: Observed;
    let probes: ProbeResult[];
    try {
      ({ observed, probes } = await this.observe(project, progress, desired, recorded));
    } catch (err) {
      if (err instanceof EngineError && previous !== undefined && isMidApply(progress)) {
        // The engine is gone mid-update: whatever it ran may be stopped when it comes back.
        const marked = engineWentAway(progress, `the engine became unreachable: ${err.message}`);
        // `progress` may carry the mark already (from the event stream); what counts is whether the disk has it.
        if (marked.operation !== undefined && previous.status.operation?.interrupted === undefined) {
          await this.deps.state.writeStatus(key, { ...previous, status: { ...previous.status, operation: marked.operation } });
        }
      }
      throw err;
    }
    if (firstPass) {
      // What a berth before this one left under verification keeps its deadline.
      const resume = resumeAfterRestart(progress.operation, recorded.operating, observed);
      if (resume.reapply) {
        progress = interrupted(progress, resume.why);
        ({ observed, probes } = await this.observe(project, progress, desired, recorded));
      } else if (progress.operation?.step === 'verify') slog.info({ revision: progress.operation.revision }, resume.why);
    }

    // Every status write of this pass goes through here, so conditions keep their transition times.
    let written = previous;
    const write = async (parts: StatusParts): Promise<StackStatus> => {
      written = await this.writeStatus(key, { name, desired, previous: written, ...parts });
      return written;
    };
    const instance = await this.instance();
    // A first revision over a hand-run install keeps the services it does not change (plan/adopt.ts).
    const adoptable = await this.adoptable.of(name, desired, recorded, observed);
    const plan = decide({ desired, recorded, observed, progress, probes, newOperationId: randomUUID(), instance, ...(adoptable ? { adoptable } : {}), now: clock.now() });
    if (plan.action === 'verify') {
      slog.debug({ reason: plan.reason }, plan.message);
      failpoint(`${progress.operation?.kind ?? 'update'}:during-verify`);
    } else if (plan.action !== 'none') slog[levelOfAction(plan.action)]({ action: plan.action, reason: plan.reason }, plan.message);
    // Write-ahead: execute() writes the journal before each step, the first included; a plan
    // without steps has its journal written with the status at the end of the pass.
    let journal = plan.progress;

    let error: StepError | undefined;
    let appliedAt: Date | undefined;
    let current: Plan | undefined = plan;
    // The plan the status describes: a rollback started in this pass replaces the failed one.
    let shown = plan;
    while (current !== undefined && current.steps.length > 0) {
      const running: Plan = current;
      current = undefined;
      try {
        const done = await this.execute(name, running, journal, recorded, observed, write, slog, leftCompose);
        journal = done.journal;
        if (done.applied) appliedAt = clock.now();
      } catch (err) {
        if (!(err instanceof StepError)) throw err;
        slog.error({ reason: err.reason, err: err.cause }, err.message);
        journal = err.journal ?? journal;
        const outcome = await this.onStepFailed(name, err, journal, desired, recorded, observed);
        journal = outcome.journal;
        if (outcome.retry) error = err;
        if (outcome.next !== undefined) {
          // The update failed for good: roll back in this same pass.
          slog.warn({ action: outcome.next.action, reason: outcome.next.reason }, outcome.next.message);
          current = outcome.next;
          shown = outcome.next;
        }
        await write({ recorded, observed, plan: shown, progress: journal, error: err });
      }
      recorded = await this.loadRecorded(name, journal);
    }
    if (plan.steps.length > 0) observed = await observeProject(engine, project);

    if (progress.operation !== undefined && journal.operation === undefined) {
      await this.pruneRevisions(name, journal, rollbackPolicy(desired, recorded.applied).keep);
    }
    const status = await write({
      recorded,
      observed,
      plan: shown,
      progress: journal,
      ...(error ? { error } : {}),
      ...(appliedAt ? { appliedAt } : {}),
    });
    const ready = status.status.conditions.find((c) => c.type === 'Ready');
    const wasReady = previous?.status.conditions.find((c) => c.type === 'Ready');
    if (ready && (ready.status !== wasReady?.status || ready.reason !== wasReady?.reason)) {
      slog[levelOfReady(ready.reason)]({ ready: ready.status, reason: ready.reason }, ready.message);
    }
    const healthPending = status.status.conditions.some((c) => c.type === 'Healthy' && c.reason === 'HealthPending');
    const resyncMs = (desired.valid ? desired.target.stack.spec.resyncSeconds : (last?.spec.resyncSeconds ?? 30)) * 1000;
    let requeueAfterMs = resyncMs;
    if (journal.operation !== undefined) requeueAfterMs = VERIFY_POLL_MS;
    else if (plan.action !== 'none' || healthPending) requeueAfterMs = SETTLE_MS;
    const inFlight = journal.operation !== undefined;
    const notify = (desired.valid ? desired.target.stack : this.lastValid.get(name))?.spec.notify;
    return {
      ...(notify !== undefined ? { notify } : {}),
      requeueAfterMs,
      ...(error ? { error } : {}),
      watch,
      ...(inFlight ? { inFlight } : {}),
      ...(channelTarget ? { channel: channelTarget } : {}),
      ...(prefetch ? { prefetch } : {}),
      status,
    };
  }

  /**
   * The newest release on the channel, when the stack follows it and will want it: its
   * images are marked downloaded or not for the status, and handed to the pre-downloader.
   */
  private async offeredImages(desired: Desired): Promise<{ version: string; images: string[] } | undefined> {
    const offered = desired.valid ? desired.target.channel?.available : undefined;
    if (!desired.valid || offered === undefined) return undefined;
    const images = [...new Set(Object.values(offered.release.spec.images))];
    offered.downloaded = (await missingImages(this.deps.engine, images)).length === 0;
    const spec = desired.target.stack.spec;
    // A pinned stack only reports; a disabled one is hands off.
    if (spec.version !== undefined || spec.mode === 'disabled' || offered.downloaded) return undefined;
    return { version: offered.release.spec.version, images };
  }

  /** What runs; while a revision is verified, also each container's details and the probes. */
  private async observe(
    project: string,
    progress: Progress,
    desired: Desired,
    recorded: Recorded,
  ): Promise<{ observed: Observed; probes: ProbeResult[] }> {
    const observed = await observeProject(this.deps.engine, project);
    const op = progress.operation;
    if (op === undefined || op.step !== 'verify' || op.interrupted !== undefined) return { observed, probes: [] };
    const details = await inspectContainers(this.deps.engine, observed.containers.map((c) => c.id));
    const containers = observed.containers.map((c) => {
      const d = details.get(c.id);
      if (d === undefined) return c;
      return {
        ...c,
        details: {
          restartCount: d.restartCount,
          ...(d.startedAt !== undefined ? { startedAt: d.startedAt } : {}),
          ...(d.exitCode !== undefined ? { exitCode: d.exitCode } : {}),
          ...(d.oomKilled ? { oomKilled: true } : {}),
          ...(d.lastHealthOutput !== undefined ? { lastHealthOutput: d.lastHealthOutput } : {}),
        },
      };
    });
    // The revision is judged by its own probes (see healthOf).
    const probes = await runProbes(recorded.operating ? (healthOf(recorded.operating).probes ?? []) : [], project, containers, details);
    return { observed: { ...observed, containers }, probes };
  }

  /**
   * Runs the plan's steps in order, journalling each one before it starts (write-ahead) and
   * its outcome after; returns the journal as the steps left it.
   */
  private async execute(
    name: string,
    plan: Plan,
    start: Progress,
    recorded: Recorded,
    observed: Observed,
    write: (parts: StatusParts) => Promise<StackStatus>,
    log: Logger,
    leftCompose: StartedProcess[],
  ): Promise<{ journal: Progress; applied: boolean }> {
    const { clock } = this.deps;
    let journal = start;
    let applied = false;
    const kind = journal.operation?.kind ?? 'repair';
    const record = async (p: Progress) => {
      journal = p;
      await write({ recorded, observed, plan, progress: journal });
    };
    for (const step of plan.steps) {
      // Fenced before this step's journal drops it: the compose a dead berth left running.
      const fence = [...leftCompose, ...composeOf(journal)];
      await record(withStep(journal, step.kind, clock.now()));
      try {
        applied = (await this.runStep(name, step, kind, record, () => journal, log, fence)) || applied;
      } catch (err) {
        if (err instanceof StepError) err.journal = journal;
        throw err;
      }
    }
    return { journal, applied };
  }

  /** One step; returns whether it applied a revision (compose up finished). */
  private async runStep(
    name: string,
    step: Step,
    kind: string,
    record: (p: Progress) => Promise<void>,
    journal: () => Progress,
    log: Logger,
    leftCompose: StartedProcess[],
  ): Promise<boolean> {
    const { engine, compose, state, clock } = this.deps;
    switch (step.kind) {
      case 'pull':
        try {
          await ensureImages(engine, step.images, { log, timeoutMs: this.deps.pullTimeoutMs ?? 10 * 60_000, ...(this.deps.pullProgress ? { progress: this.deps.pullProgress } : {}) });
        } catch (err) {
          throw new StepError('PullFailed', `nothing was changed: ${(err as Error).message}`, { cause: err });
        }
        failpoint(`${kind}:after-pull`);
        break;
      case 'writeRevision':
        try {
          // A person's `berth rollback` marks the revision it produces as a rollback.
          await writeRevisionWithCause(state, step.record, step.composeText);
        } catch (err) {
          throw new StepError('WriteFailed', `writing revision ${step.record.revision} failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        failpoint(`${kind}:after-write-revision`);
        break;
      case 'composeUp': {
        const revision = await state.readRevision(name, step.revision);
        if (revision === undefined) {
          throw new StepError('RevisionMissing', `revision ${step.revision} of ${name} is not on disk under ${state.root}`, {
            cause: undefined,
          });
        }
        // A compose left running by a berth that died must finish (or be stopped) first.
        // Every compose berth runs for the project carries this tag, so what a dead berth left
        // running is found even when its docker CLI died too and the plugin was reparented.
        const tag = `${await this.instance()}/${step.project}`;
        const fenced = await fenceCompose(step.project, leftCompose, {
          tag,
          timeoutMs: this.deps.composeTimeoutMs ?? 10 * 60_000,
          onWait: (procs) => log.warn({ pids: procs.map((p) => p.pid) }, 'waiting for a compose process of this project that berth did not start in this run'),
        });
        if (fenced.killed.length > 0) log.warn({ pids: fenced.killed }, 'stopped a compose process that outlived its deadline');
        let pidWrite: Promise<void> | undefined;
        try {
          await compose.up({
            tag,
            project: step.project,
            projectDirectory: step.projectDirectory,
            file: state.revisionComposePath(name, step.revision),
            ...(revision.profiles !== undefined ? { profiles: revision.profiles } : {}),
            ...(this.deps.composeTimeoutMs ? { timeoutMs: this.deps.composeTimeoutMs } : {}),
            onSpawn: (pid) => {
              // Read at once: the child cannot have been reaped before this callback returns.
              pidWrite = record(withComposePid(journal(), pid, startTimeOf(pid))).then(() => failpoint(`${kind}:during-compose-up`));
            },
          });
        } catch (err) {
          await pidWrite?.catch(() => undefined);
          const reason = err instanceof ComposeTimeoutError ? 'ApplyTimedOut' : 'ApplyFailed';
          throw new StepError(reason, `compose up of revision ${step.revision} failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        await pidWrite;
        await record(afterComposeUp(journal(), clock.now(), healthOf(revision).progressDeadlineSeconds));
        log.info({ revision: step.revision }, 'compose up finished');
        failpoint(`${kind}:after-compose-up`);
        return true;
      }
    }
    return false;
  }

  /**
   * What a failed step means. A pull or write changed nothing: retry later. compose up
   * failing because the engine went away is an interruption: retry later. compose up
   * failing otherwise fails the revision, and may start a rollback.
   */
  private async onStepFailed(
    name: string,
    failed: StepError,
    journal: Progress,
    desired: Desired,
    recorded: Recorded,
    observed: Observed,
  ): Promise<{ journal: Progress; retry: boolean; next?: Plan }> {
    const op = journal.operation;
    if (op === undefined) return { journal, retry: true };
    if (failed.reason === 'PullFailed' || failed.reason === 'WriteFailed') {
      // Nothing stopped. An update starts over next time; a rollback keeps its place.
      return { journal: op.kind === 'rollback' ? journal : abandonOperation(journal), retry: true };
    }
    if (op.kind === 'repair') return { journal: abandonOperation(journal), retry: true };
    // A dockerd shutting down removes its socket (compose fails to connect) while a
    // kept-alive connection may still answer a ping: either sign means the engine went away.
    if (ENGINE_GONE.test(failed.message) || !(await this.engineAnswers())) {
      return { journal: engineWentAway(journal, `the engine became unreachable: ${failed.message}`), retry: true };
    }
    // Read by the stack's name: `recorded` was loaded before this pass wrote a new revision.
    const operating = await this.deps.state.readRevision(name, op.revision).catch(() => undefined);
    const next = decideOnFailure(
      {
        desired,
        recorded: { ...recorded, ...(operating ? { operating } : {}) },
        observed,
        progress: journal,
        newOperationId: randomUUID(),
        // A rollback renders a revision too; it is stamped like any other.
        instance: await this.instance(),
        now: this.deps.clock.now(),
      },
      { reason: failed.reason, message: failed.message },
    );
    if (next.action === 'rollback') return { journal: next.progress, retry: false, next };
    return { journal: next.progress, retry: false };
  }

  /** This berth's instance id (made once per state folder), stamped on the containers it creates. */
  private instance(): Promise<string> {
    this.instanceId ??= instanceId(this.deps.state).catch((err: unknown) => {
      this.instanceId = undefined;
      throw err;
    });
    return this.instanceId;
  }

  private async engineAnswers(): Promise<boolean> {
    try {
      await this.deps.engine.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Revision folders beyond what the Stack keeps go, never the current, last-good or in-flight one. */
  private async pruneRevisions(name: string, journal: Progress, keep: number): Promise<void> {
    const numbers = await this.deps.state.revisionNumbers(name);
    const pinned = new Set([journal.revision, journal.lastGoodRevision, journal.operation?.revision]);
    const old = numbers.slice(0, Math.max(0, numbers.length - keep)).filter((n) => !pinned.has(n));
    for (const n of old) await this.deps.state.removeRevision(name, n);
    if (old.length > 0) this.deps.log.debug({ stack: name, revisions: old }, 'pruned old revision folders');
  }

  /** The manifest is gone: berth stops managing the stack and leaves its containers running. */
  private async markRemoved(name: string, previous: StackStatus | undefined): Promise<ReconcileResult> {
    this.deps.metrics?.forgetStack(name);
    this.lastValid.delete(name);
    this.resumed.delete(name);
    if (previous === undefined) return {};
    const conditions = previous.status.conditions.filter((c) => c.type !== 'Ready');
    const old = previous.status.conditions.find((c) => c.type === 'Ready');
    if (old?.reason === 'ManifestRemoved') return {};
    const now = this.deps.clock.now().toISOString();
    const status: StackStatus = {
      ...previous,
      status: {
        ...previous.status,
        lastReconcileTime: now,
        conditions: [
          {
            type: 'Ready',
            status: 'Unknown',
            reason: 'ManifestRemoved',
            message: 'the manifest was removed: berth no longer manages this stack and left its containers as they are',
            lastTransitionTime: now,
          },
          ...conditions,
        ],
      },
    };
    await this.deps.state.writeStatus({ stack: name }, status);
    this.deps.log.warn({ stack: name }, 'manifest removed; the stack is no longer managed and its containers are left running');
    return {};
  }

  /** Writes the status unless only its timestamp would change (and the last write is recent). */
  private async writeStatus(
    key: StatusKey,
    input: Omit<StatusInput, 'now' | 'error'> & { error?: { reason: string; message: string } },
  ): Promise<StackStatus> {
    const now = this.deps.clock.now();
    const { error, ...rest } = input;
    const status = buildStatus({ ...rest, ...(error ? { error: { reason: error.reason, message: error.message } } : {}), now });
    const prev = input.previous;
    if ('stack' in key) this.deps.metrics?.observeStatus(key.stack, status, prev);
    const strip = (s: StackStatus) => ({ ...s, status: { ...s.status, lastReconcileTime: undefined } });
    const lastWrite = prev?.status.lastReconcileTime ? Date.parse(prev.status.lastReconcileTime) : 0;
    if (prev !== undefined && stableHash(strip(prev)) === stableHash(strip(status)) && now.getTime() - lastWrite < HEARTBEAT_MS) {
      return prev;
    }
    await this.deps.state.writeStatus(key, status);
    return status;
  }
}
