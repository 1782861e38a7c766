// berth's journal of one stack, and every way it may change. Pure: each function takes the
// journal and returns the next one, so the controller's only job is to persist each version
// before the step it announces (write-ahead) and the planner's tables can check them all.
import type { HistoryEntry, Operation, OperationKind, OperationStep, Outcome, Quarantine, StackStatus } from '../api/types.js';
import type { Progress, RevisionRecord, Target } from './types.js';

export const RETRY_ANNOTATION = 'berth.dev/retry';

/** The journal kept in a status; a status from before the journal existed yields an empty one. */
export function progressOf(status: StackStatus | undefined): Progress {
  const s = status?.status;
  if (s === undefined) return { history: [] };
  const p: Progress = {
    ...(s.revision !== undefined ? { revision: s.revision } : {}),
    ...(s.lastGoodRevision !== undefined ? { lastGoodRevision: s.lastGoodRevision } : {}),
    ...(s.operation !== undefined ? { operation: s.operation } : {}),
    ...(s.quarantine !== undefined ? { quarantine: s.quarantine } : {}),
    ...(s.approval !== undefined ? { approval: s.approval } : {}),
    history: s.history ?? [],
  };
  // A revision applied before berth kept a journal, and healthy then, is the best last-good
  // there is; without it the first failed update would have nowhere to roll back to.
  const healthy = s.conditions.find((c) => c.type === 'Healthy')?.status === 'True';
  if (p.lastGoodRevision === undefined && p.revision !== undefined && p.operation === undefined && healthy && s.history === undefined) {
    p.lastGoodRevision = p.revision;
  }
  return p;
}

export interface StartOperation {
  id: string;
  kind: OperationKind;
  record: RevisionRecord;
  desiredKey: string;
  fromRevision?: number;
  step: OperationStep;
  now: Date;
}

export function startOperation(p: Progress, o: StartOperation): Progress {
  const now = o.now.toISOString();
  const operation: Operation = {
    id: o.id,
    kind: o.kind,
    revision: o.record.revision,
    ...(o.fromRevision !== undefined ? { fromRevision: o.fromRevision } : {}),
    targetKey: o.record.targetKey,
    desiredKey: o.desiredKey,
    step: o.step,
    started: now,
    stepStarted: now,
  };
  if (o.kind === 'repair') return { ...p, operation };
  const entry: HistoryEntry = {
    revision: o.record.revision,
    version: o.record.version,
    operation: o.kind,
    started: now,
    outcome: 'Progressing',
  };
  // An update resumed after a crash before its revision was written starts over under the
  // same number: one entry, not two.
  const history = p.history.filter((h) => !(h.outcome === 'Progressing' && h.revision === entry.revision && h.operation === entry.operation));
  return { ...p, operation, history: [entry, ...history] };
}

export function withStep(p: Progress, step: OperationStep, now: Date): Progress {
  if (p.operation === undefined) return p;
  const { composePid: _pid, composeStartTime: _started, ...op } = p.operation;
  return { ...p, operation: { ...op, step, stepStarted: now.toISOString() } };
}

/** The compose process berth just started; its start time tells it from a later process under a reused pid. */
export function withComposePid(p: Progress, pid: number, startTime?: number): Progress {
  if (p.operation === undefined) return p;
  const { composeStartTime: _old, ...op } = p.operation;
  return { ...p, operation: { ...op, composePid: pid, ...(startTime !== undefined ? { composeStartTime: startTime } : {}) } };
}

/** The engine went away under the operation: its containers may have been stopped with it. */
export function interrupted(p: Progress, why: string): Progress {
  return p.operation === undefined || p.operation.interrupted !== undefined ? p : { ...p, operation: { ...p.operation, interrupted: why } };
}

/**
 * The engine itself went away under the operation (berth saw it go): what it ran was stopped
 * with it, so compose up runs again and verification starts over with a full deadline.
 */
export function engineWentAway(p: Progress, why: string): Progress {
  const marked = interrupted(p, why);
  if (marked.operation === undefined || marked === p) return marked;
  const { verifyDeadline: _reset, ...op } = marked.operation;
  return { ...marked, operation: op };
}

/**
 * compose up finished: the revision is applied; updates and rollbacks go on to verification.
 * The deadline is set once per operation: compose up run again after a berth restart keeps
 * it, so restarts cannot postpone the verdict (engineWentAway clears it on purpose).
 */
export function afterComposeUp(p: Progress, now: Date, deadlineSeconds: number): Progress {
  const op = p.operation;
  if (op === undefined) return p;
  if (op.kind === 'repair') {
    const { operation: _done, ...rest } = p;
    return { ...rest, revision: op.revision };
  }
  const { composePid: _pid, composeStartTime: _started, healthySince: _since, interrupted: _why, ...kept } = op;
  return {
    ...p,
    revision: op.revision,
    operation: {
      ...kept,
      step: 'verify',
      stepStarted: now.toISOString(),
      verifyDeadline: op.verifyDeadline ?? new Date(now.getTime() + deadlineSeconds * 1000).toISOString(),
      restartBaseline: {},
    },
  };
}

export function withVerification(p: Progress, healthySince: string | undefined, restartBaseline: Record<string, number>): Progress {
  const op = p.operation;
  if (op === undefined) return p;
  const { healthySince: _old, ...rest } = op;
  return { ...p, operation: { ...rest, ...(healthySince !== undefined ? { healthySince } : {}), restartBaseline } };
}

function settle(history: HistoryEntry[], op: Operation, outcome: Outcome, reason: string, message: string, now: Date): HistoryEntry[] {
  return history.map((h) =>
    h.outcome === 'Progressing' && h.revision === op.revision && h.operation === op.kind
      ? { ...h, outcome, reason, message, finished: now.toISOString() }
      : h,
  );
}

/** Ends the operation in flight with an outcome recorded in the history. */
export function finishOperation(p: Progress, outcome: Outcome, reason: string, message: string, now: Date): Progress {
  const op = p.operation;
  if (op === undefined) return p;
  const { operation: _done, ...rest } = p;
  if (op.kind === 'repair') return rest;
  return {
    ...rest,
    ...(outcome === 'Healthy' ? { lastGoodRevision: op.revision } : {}),
    history: settle(p.history, op, outcome, reason, message, now),
  };
}

export interface Failure {
  reason: string;
  message: string;
  /** The version of the failed revision. */
  version: string;
  retryToken?: string;
  /** What the spec named when it failed (Target.intent). */
  intent?: string;
  now: Date;
}

/** Every version a quarantine keeps out, the newest failure first. */
export function quarantinedVersions(q: Quarantine): string[] {
  return q.versions ?? [q.version];
}

/**
 * The operation failed. A failed update is quarantined (never applied again by itself); a
 * failed rollback also stops berth acting on the stack. The caller decides whether to roll
 * back; this only records what happened.
 */
export function failOperation(p: Progress, f: Failure): Progress {
  const op = p.operation;
  if (op === undefined) return p;
  if (op.kind === 'repair') return finishOperation(p, 'Failed', f.reason, f.message, f.now);
  const done = finishOperation(p, 'Failed', f.reason, f.message, f.now);
  if (op.kind === 'rollback' && p.quarantine !== undefined) {
    return { ...done, quarantine: { ...p.quarantine, rollbackFailed: true } };
  }
  // Under the same intent, versions that failed before stay out too: a second failure must
  // not hand the first one back to the feed.
  const earlier = p.quarantine !== undefined && f.intent !== undefined && p.quarantine.intent === f.intent
    ? quarantinedVersions(p.quarantine)
    : [];
  const versions = [f.version, ...earlier.filter((v) => v !== f.version)];
  return {
    ...done,
    quarantine: {
      // What was asked for when it failed: for an update, the revision itself.
      targetKey: op.desiredKey,
      version: f.version,
      revision: op.revision,
      reason: f.reason,
      message: f.message,
      since: f.now.toISOString(),
      ...(f.retryToken !== undefined ? { retryToken: f.retryToken } : {}),
      ...(f.intent !== undefined ? { intent: f.intent } : {}),
      ...(versions.length > 1 ? { versions } : {}),
      ...(op.kind === 'rollback' ? { rollbackFailed: true } : {}),
    },
  };
}

/** Marks the failed update as rolled back, once the rollback to `to` has begun. */
export function markRolledBack(p: Progress, revision: number, to: RevisionRecord): Progress {
  return {
    ...p,
    history: p.history.map((h) =>
      h.revision === revision && h.operation === 'update' && h.outcome === 'Failed'
        ? { ...h, outcome: 'RolledBack', message: `${h.message ?? h.reason ?? 'failed'}; rolled back to revision ${to.revision} (version ${to.version})` }
        : h,
    ),
  };
}

/**
 * A quarantine holds until a person changes what the spec names (its intent) or sets a new,
 * non-empty retry value. Removing the annotation is no request to retry. A quarantine
 * written before intents were recorded holds for whatever the spec names now.
 */
export function quarantineHolds(q: Quarantine, intent: string, retryToken: string | undefined): boolean {
  if (q.intent !== undefined && q.intent !== intent) return false;
  if (retryToken !== undefined && retryToken !== '' && retryToken !== q.retryToken) return false;
  return true;
}

/**
 * Forgets a quarantine a person released (see quarantineHolds). One written before intents
 * were recorded holds while the target is the failed one or what berth went back to, and
 * then learns the intent it holds for.
 */
export function releaseQuarantine(p: Progress, target: Target, applied: RevisionRecord | undefined): Progress {
  const q = p.quarantine;
  if (q === undefined) return p;
  const retryToken = target.stack.metadata.annotations?.[RETRY_ANNOTATION];
  if (q.intent === undefined) {
    const wentBack = applied !== undefined && applied.targetKey === target.key && applied.revision < q.revision;
    if ((q.targetKey === target.key || wentBack) && quarantineHolds(q, target.intent, retryToken)) {
      return { ...p, quarantine: { ...q, intent: target.intent } };
    }
  } else if (quarantineHolds(q, target.intent, retryToken)) {
    return p;
  }
  const { quarantine: _released, ...rest } = p;
  return rest;
}

export function trimHistory(p: Progress, keep: number): Progress {
  return p.history.length <= keep ? p : { ...p, history: p.history.slice(0, keep) };
}

/** The operation changed nothing (its pull or write failed): forget it as if it never began. */
export function abandonOperation(p: Progress): Progress {
  const op = p.operation;
  if (op === undefined) return p;
  const { operation: _dropped, ...rest } = p;
  return {
    ...rest,
    history: p.history.filter((h) => !(h.outcome === 'Progressing' && h.revision === op.revision && h.operation === op.kind)),
  };
}
