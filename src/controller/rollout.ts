// Where a stack's rollout stands, as `kubectl rollout status` asks it of a Deployment: has
// berth acted on the manifest as it is now, and did the target come up and pass its health
// gate, or fail and roll back? Read from the status berth writes; no engine call.
import { stat } from 'node:fs/promises';
import type { Condition, StackStatus } from '../api/types.js';
import { parseStack } from '../api/validate.js';
import type { ModelSource } from '../docker/compose-model.js';
import type { StateStore } from '../store/state.js';
import { readFile } from 'node:fs/promises';
import { waitingApproval } from './actions.js';
import { resolveTargetFile } from './target-file.js';
import { readRollbackRequest } from '../store/rollback-request.js';

export type RolloutPhase =
  /** The target runs and passed its health gate. */
  | 'Complete'
  /** The target failed (and was rolled back, or could not be). */
  | 'Failed'
  /** Still moving, or berth has not acted on the manifest yet, or a version waits for a person. */
  | 'Progressing';

export interface Rollout {
  phase: RolloutPhase;
  /** One line for a person: what happens now. */
  message: string;
  version?: string;
}

const FAILED = new Set(['RolledBack', 'Failed', 'RollbackFailed']);

const cond = (s: StackStatus, type: string): Condition | undefined => s.status.conditions.find((c) => c.type === type);

/**
 * Has berth acted on the manifest as it is now? A pinned stack's spec resolves to the
 * generation the status records when berth has; otherwise (a channel stack, no compose CLI)
 * the status must have been written after the manifest last changed.
 */
async function caughtUp(status: StackStatus, models: ModelSource | undefined, statusPath: string): Promise<boolean> {
  const manifest = status.status.manifest;
  if (manifest === undefined) return true;
  const text = await readFile(manifest, 'utf8').catch(() => undefined);
  if (text === undefined) return true;
  let stack;
  try {
    stack = parseStack(manifest, text);
  } catch {
    // berth reports an invalid manifest in the status; the Ready condition says so.
    return true;
  }
  if (stack.spec.version !== undefined && status.status.targetVersion !== stack.spec.version) return false;
  if (models !== undefined && stack.spec.channel === undefined) {
    const resolved = await resolveTargetFile(manifest, stack, models, undefined, status.status.project);
    if ('target' in resolved) return resolved.target.generation === status.status.observedGeneration;
  }
  const [m, s] = await Promise.all([stat(manifest), stat(statusPath)]);
  return s.mtimeMs >= m.mtimeMs;
}

/**
 * What the operation is to a person. berth applies a `berth rollback` as an update to a new
 * revision (the manifest edit is what it converges to), but the person asked for a rollback:
 * the revision's record says so once written, the pending request before that (the pull).
 */
async function operationOf(state: StateStore, name: string, status: StackStatus['status']): Promise<string> {
  const op = status.operation as NonNullable<StackStatus['status']['operation']>;
  const plain = `${op.kind} to revision ${op.revision}`;
  if (op.kind !== 'update') return plain;
  const cause = (await state.readRevision(name, op.revision).catch(() => undefined))?.cause;
  if (cause?.kind === 'rollback') return `rollback to revision ${cause.toRevision} (as revision ${op.revision})`;
  // Before the revision is written, the request counts only for the version it asked for:
  // an edit made after `berth rollback` is an update again.
  const asked = op.step === 'pull' ? await readRollbackRequest(state, name) : undefined;
  const forThis = typeof asked?.toRevision === 'number' && asked.version === status.targetVersion;
  return forThis ? `rollback to revision ${asked.toRevision} (as revision ${op.revision})` : plain;
}

/** The rollout of `name` now; undefined when berth has written no status for it. */
export async function rolloutOf(state: StateStore, name: string, models?: ModelSource): Promise<Rollout | undefined> {
  const status = await state.readStatus({ stack: name });
  if (status === undefined) return undefined;
  const s = status.status;
  const version = s.targetVersion ?? s.available?.version;
  const v = version !== undefined ? { version } : {};
  const ready = cond(status, 'Ready');
  const degraded = cond(status, 'Degraded');
  if (!(await caughtUp(status, models, state.statusPath({ stack: name })))) {
    return { phase: 'Progressing', message: `berth has not acted on the manifest's last change yet (is berth running with this state folder?)`, ...v };
  }
  if (ready?.reason === 'InvalidSpec' || cond(status, 'SpecInvalid')?.status === 'True') {
    return { phase: 'Failed', message: `the manifest is invalid: ${ready?.message ?? cond(status, 'SpecInvalid')?.message ?? ''}`, ...v };
  }
  if (degraded?.status === 'True' && FAILED.has(degraded.reason) && s.operation === undefined) {
    return { phase: 'Failed', message: `${degraded.reason}: ${degraded.message}`, ...v };
  }
  const waiting = waitingApproval(status);
  if (waiting !== undefined && (s.targetVersion === waiting.version || ready?.status !== 'True')) {
    return { phase: 'Progressing', message: `version ${waiting.version} waits for approval: berth approve ${name} ${waiting.version}`, ...v };
  }
  if (ready?.status === 'True' && s.operation === undefined) {
    return { phase: 'Complete', message: `version ${s.currentVersion ?? version ?? '?'} runs and passed its health gate (revision ${s.revision ?? '?'})`, ...v };
  }
  const op = s.operation;
  if (op !== undefined) return { phase: 'Progressing', message: `${await operationOf(state, name, s)}: ${op.step}`, ...v };
  return { phase: 'Progressing', message: `${ready?.reason ?? 'Unknown'}: ${ready?.message ?? 'no Ready condition yet'}`, ...v };
}

export interface WaitOptions {
  /** Give up after this long (ms); undefined: wait for as long as it takes. */
  timeoutMs?: number;
  pollMs?: number;
  /** Called with each rollout that differs from the one before. */
  onProgress?: (r: Rollout) => void;
  signal?: AbortSignal;
}

/** Waits until the rollout is Complete or Failed; `timedOut` when the time ran out first. */
export async function waitForRollout(state: StateStore, name: string, models: ModelSource | undefined, opts: WaitOptions = {}): Promise<Rollout & { timedOut?: boolean }> {
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
  let last = '';
  for (;;) {
    const r = (await rolloutOf(state, name, models)) ?? { phase: 'Progressing' as const, message: `berth has written no status for "${name}" yet` };
    const line = `${r.phase} ${r.message}`;
    if (line !== last) {
      opts.onProgress?.(r);
      last = line;
    }
    if (r.phase !== 'Progressing') return r;
    const left = deadline !== undefined ? deadline - Date.now() : Infinity;
    if (left <= 0 || opts.signal?.aborted === true) return { ...r, timedOut: true };
    await new Promise((resolve) => setTimeout(resolve, Math.min(opts.pollMs ?? 1000, left)));
  }
}
