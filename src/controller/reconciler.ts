// One reconcile pass for one key: read everything fresh, decide, act, write the status.
// Level-triggered: nothing here depends on what triggered the pass, so a lost event or a
// crash costs one pass, never correctness.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import type { ResolvedStack, StackStatus } from '../api/types.js';
import { parseYaml } from '../api/validate.js';
import { ComposeTimeoutError, type ComposeCli } from '../docker/compose.js';
import type { Engine } from '../docker/engine.js';
import { observeProject } from '../docker/observe.js';
import { ensureImages } from '../docker/pull.js';
import { decide } from '../plan/decide.js';
import { stableHash } from '../plan/hash.js';
import { buildStatus } from '../plan/status.js';
import { asComposeDocument, resolveTarget } from '../plan/target.js';
import type { Desired, Observed, Recorded, RevisionRecord, Step } from '../plan/types.js';
import { readManifest } from '../store/manifests.js';
import type { StateStore, StatusKey } from '../store/state.js';
import type { Clock } from './clock.js';
import type { ManifestIndex, WorkKey } from './index.js';

export interface ReconcilerDeps {
  state: StateStore;
  engine: Engine;
  compose: ComposeCli;
  index: ManifestIndex;
  log: Logger;
  clock: Clock;
  pullTimeoutMs?: number;
  composeTimeoutMs?: number;
}

export interface ReconcileResult {
  /** Come back after this long even if nothing signals a change. */
  requeueAfterMs?: number;
  /** The pass did not reach the desired state; the queue backs off. */
  error?: Error;
  /** Compose files this stack reads, for the watcher. */
  watch?: string[];
}

/** Rewrite an unchanged status at least this often, so its lastReconcileTime shows berth is alive. */
const HEARTBEAT_MS = 10 * 60_000;
/** While something is in motion (applied, health pending), look again soon. */
const SETTLE_MS = 2_000;

class StepError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

export class Reconciler {
  private readonly lastValid = new Map<string, ResolvedStack>();

  constructor(private readonly deps: ReconcilerDeps) {}

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
    await this.writeStatus(key, { name: fileName, desired, recorded: {}, observed, plan });
    return {};
  }

  private async loadDesired(name: string, file: string): Promise<{ desired: Desired; watch: string[] }> {
    const entry = await readManifest(file);
    const last = this.lastValid.get(name);
    const invalid = (error: string): Desired => ({
      valid: false,
      manifest: file,
      error,
      ...(last !== undefined ? { lastValidMode: last.spec.mode } : {}),
    });
    if (entry.stack === undefined) return { desired: invalid(entry.error?.message ?? `${file}: invalid`), watch: [] };
    const stack = entry.stack;
    const composeFile = isAbsolute(stack.spec.compose.file) ? stack.spec.compose.file : join(dirname(file), stack.spec.compose.file);
    let text: string;
    try {
      text = await readFile(composeFile, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      return {
        desired: invalid(`${file}: spec.compose.file: cannot read ${composeFile} (${code}); the path is relative to the manifest`),
        watch: [composeFile],
      };
    }
    try {
      const compose = asComposeDocument(composeFile, parseYaml(composeFile, text));
      const target = resolveTarget({ stack, manifest: file, composeFile, compose });
      this.lastValid.set(name, stack);
      return { desired: { valid: true, target }, watch: [composeFile] };
    } catch (err) {
      // YAML errors, a compose file without services, images naming unknown services.
      if (err instanceof Error) return { desired: invalid(err.message), watch: [composeFile] };
      throw err;
    }
  }

  private async loadRecorded(name: string, status: StackStatus | undefined): Promise<Recorded> {
    const { state } = this.deps;
    const revision = status?.status.revision;
    const applied = revision !== undefined ? await state.readRevision(name, revision) : undefined;
    const latest = await state.latestRevision(name);
    return { ...(applied ? { applied } : {}), ...(latest ? { latest } : {}) };
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

  private async reconcileStack(name: string): Promise<ReconcileResult> {
    const { index, engine, log, clock } = this.deps;
    const key: StatusKey = { stack: name };
    const previous = await this.readPreviousStatus(key);
    const file = index.fileOfStack(name);
    if (file === undefined) return this.markRemoved(name, previous);

    const { desired, watch } = await this.loadDesired(name, file);
    let recorded = await this.loadRecorded(name, previous);
    const last = this.lastValid.get(name);
    const project = desired.valid
      ? desired.target.project
      : (recorded.applied?.project ?? last?.spec.compose.project ?? name);
    let observed = await observeProject(engine, project);
    const plan = decide({ desired, recorded, observed, now: clock.now() });
    const slog = log.child({ stack: name });
    if (plan.action !== 'none') slog.info({ action: plan.action, reason: plan.reason }, plan.message);

    let error: StepError | undefined;
    let appliedAt: Date | undefined;
    if (plan.steps.length > 0) {
      try {
        const applied = await this.execute(name, plan.steps, slog);
        if (applied !== undefined) {
          recorded = { ...recorded, applied };
          appliedAt = clock.now();
          slog.info({ revision: applied.revision, version: applied.version }, 'compose up finished');
        }
      } catch (err) {
        error = err instanceof StepError ? err : new StepError('ReconcileFailed', String(err), { cause: err });
        slog.error({ reason: error.reason, err: error.cause }, error.message);
      }
      observed = await observeProject(engine, project);
    }

    const status = await this.writeStatus(key, {
      name,
      desired,
      recorded,
      observed,
      plan,
      previous,
      ...(error ? { error: { reason: error.reason, message: error.message } } : {}),
      ...(appliedAt ? { appliedAt } : {}),
    });
    const ready = status.status.conditions.find((c) => c.type === 'Ready');
    const wasReady = previous?.status.conditions.find((c) => c.type === 'Ready');
    if (ready && (ready.status !== wasReady?.status || ready.reason !== wasReady?.reason)) {
      slog.info({ ready: ready.status, reason: ready.reason }, ready.message);
    }
    const healthPending = status.status.conditions.some((c) => c.type === 'Healthy' && c.reason === 'HealthPending');
    const resyncMs = (desired.valid ? desired.target.stack.spec.resyncSeconds : (last?.spec.resyncSeconds ?? 30)) * 1000;
    return {
      requeueAfterMs: plan.action !== 'none' || healthPending ? SETTLE_MS : resyncMs,
      ...(error ? { error } : {}),
      watch,
    };
  }

  /** Runs the plan's steps in order; returns the revision a successful compose up applied. */
  private async execute(name: string, steps: readonly Step[], log: Logger): Promise<RevisionRecord | undefined> {
    const { engine, compose, state } = this.deps;
    let applied: RevisionRecord | undefined;
    for (const step of steps) {
      switch (step.kind) {
        case 'pull':
          try {
            await ensureImages(engine, step.images, { log, timeoutMs: this.deps.pullTimeoutMs ?? 10 * 60_000 });
          } catch (err) {
            throw new StepError('PullFailed', `nothing was changed: ${(err as Error).message}`, { cause: err });
          }
          break;
        case 'writeRevision':
          try {
            await state.writeRevision(step.record, step.composeText);
          } catch (err) {
            throw new StepError('WriteFailed', `writing revision ${step.record.revision} failed: ${(err as Error).message}`, {
              cause: err,
            });
          }
          break;
        case 'composeUp': {
          const record = await state.readRevision(name, step.revision);
          if (record === undefined) {
            throw new StepError('RevisionMissing', `revision ${step.revision} of ${name} is not on disk under ${state.root}`, {
              cause: undefined,
            });
          }
          try {
            await compose.up({
              project: step.project,
              projectDirectory: step.projectDirectory,
              file: state.revisionComposePath(name, step.revision),
              ...(this.deps.composeTimeoutMs ? { timeoutMs: this.deps.composeTimeoutMs } : {}),
            });
          } catch (err) {
            const reason = err instanceof ComposeTimeoutError ? 'ApplyTimedOut' : 'ApplyFailed';
            throw new StepError(reason, `compose up of revision ${step.revision} failed: ${(err as Error).message}`, {
              cause: err,
            });
          }
          applied = record;
          break;
        }
      }
    }
    return applied;
  }

  /** The manifest is gone: berth stops managing the stack and leaves its containers running. */
  private async markRemoved(name: string, previous: StackStatus | undefined): Promise<ReconcileResult> {
    this.lastValid.delete(name);
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
  private async writeStatus(key: StatusKey, input: Omit<Parameters<typeof buildStatus>[0], 'now'>): Promise<StackStatus> {
    const now = this.deps.clock.now();
    const status = buildStatus({ ...input, now });
    const prev = input.previous;
    const strip = (s: StackStatus) => ({ ...s, status: { ...s.status, lastReconcileTime: undefined } });
    const lastWrite = prev?.status.lastReconcileTime ? Date.parse(prev.status.lastReconcileTime) : 0;
    if (prev !== undefined && stableHash(strip(prev)) === stableHash(strip(status)) && now.getTime() - lastWrite < HEARTBEAT_MS) {
      return prev;
    }
    await this.deps.state.writeStatus(key, status);
    return status;
  }
}

