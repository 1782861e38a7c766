// The decision: from desired, recorded and observed state to the steps to take now and the
// reason for them. Pure and total: every input has an answer, so the controller never has
// to guess, and every case is a row in a table test.
import fastJsonPatch from 'fast-json-patch';
import { HEALTH_DEFAULTS, ROLLBACK_DEFAULTS } from '../api/schema.js';
import type { ResolvedStack } from '../api/types.js';
import { describeDrift, digestOf, expectsNone, findDrift, jobDone, type ExpectedRun } from './compare.js';
import { approvalHold, bindApproval } from './approval.js';
import { evaluateGate } from './gate.js';
import {
  RETRY_ANNOTATION,
  abandonOperation,
  failOperation,
  finishOperation,
  markRolledBack,
  releaseQuarantine,
  startOperation,
  trimHistory,
  withVerification,
} from './progress.js';
import { ADOPT_ANNOTATION } from '../api/labels.js';
import { adoptedServices } from './adopt.js';
import { modeOfInvalid } from './mode.js';
import { managedElsewhere } from './ownership.js';
import { carriedServices, renderRevision } from './render.js';
import { pinnedImages, revisionRuns, targetRuns } from './runs.js';
import type { Desired, Drift, Observed, Plan, PlanAction, PlanInput, Progress, RevisionRecord, Step } from './types.js';

const { compare } = fastJsonPatch;

type ServiceView = { image?: string; state: string };
type View = { services: Record<string, ServiceView> };

/** A job's state once it is done; the observed side writes a job that exited 0 the same way. */
const COMPLETED = 'completed';

function desiredView(services: readonly ExpectedRun[]): View {
  const out: View = { services: {} };
  for (const s of services) {
    if (expectsNone(s)) continue;
    out.services[s.name] = { ...(s.pinned !== undefined ? { image: s.pinned } : {}), state: s.job === true ? COMPLETED : 'running' };
  }
  return out;
}

/**
 * One entry per service, whatever its replica count: the state is 'running' only when every
 * container runs, and the image is the pinned one only when every container runs it, so a
 * single stray replica shows in the patch.
 */
function observedView(expected: readonly ExpectedRun[], observed: Observed): View {
  const pinnedBy = new Map(expected.map((s) => [s.name, s.pinned]));
  const runOf = new Map(expected.map((s) => [s.name, s]));
  const byService = new Map<string, Observed['containers']>();
  for (const c of observed.containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  const out: View = { services: {} };
  for (const [service, containers] of byService) {
    const run = runOf.get(service);
    // Left alone like compose leaves it: not part of either side.
    if (run?.inactive === true) continue;
    const done = run !== undefined && containers.every((c) => jobDone(run, c));
    const notRunning = containers.find((c) => c.state !== 'running');
    const view: ServiceView = { state: done ? COMPLETED : (notRunning?.state ?? 'running') };
    const pinned = pinnedBy.get(service);
    if (pinned !== undefined) {
      const want = digestOf(pinned);
      const stray = containers.find((c) => !c.imageDigests.some((d) => digestOf(d) === want));
      // Written the way the desired side is, so an unchanged image yields no operation.
      view.image = stray === undefined ? pinned : (stray.imageDigests[0] ?? stray.imageId);
    }
    out.services[service] = view;
  }
  return out;
}

/** Pull before anything stops, then compose up: the order every apply, resume, repair and rollback keeps. */
function applySteps(record: RevisionRecord): Step[] {
  return [
    { kind: 'pull', images: pinnedImages(revisionRuns(record)) },
    { kind: 'composeUp', revision: record.revision, project: record.project, projectDirectory: record.projectDirectory },
  ];
}

function plan(partial: Omit<Plan, 'patch'>, expected: readonly ExpectedRun[], observed: Observed): Plan {
  return { ...partial, patch: compare(observedView(expected, observed), desiredView(expected)) };
}

type Why = { reason: string; message: string; awaitingApproval: boolean };

/** What one pass knows beyond the planner's input: the journal so far, and an id for a new operation. */
interface Pass {
  input: PlanInput;
  progress: Progress;
  operationId: string;
}

export function retryTokenOf(stack: ResolvedStack): string | undefined {
  return stack.metadata.annotations?.[RETRY_ANNOTATION];
}

/**
 * A revision is verified by the health settings it was made with: a rollback to last-good
 * must pass last-good's own gate, not the probes of the version that just failed.
 * Revisions written before the health gate existed carry none: the defaults apply.
 */
export function healthOf(record: RevisionRecord): ResolvedStack['spec']['health'] {
  const spec: Partial<ResolvedStack['spec']> = record.spec;
  return { ...HEALTH_DEFAULTS, ...spec.health };
}

/** The rollback settings in force: what the person asks now, else what the revision was made with. */
export function rollbackPolicy(desired: Desired, record: RevisionRecord | undefined): ResolvedStack['spec']['rollback'] {
  if (desired.valid) return desired.target.stack.spec.rollback;
  const spec: Partial<ResolvedStack['spec']> = record?.spec ?? {};
  return { ...ROLLBACK_DEFAULTS, ...spec.rollback };
}

/** Keeps berth's applied revision running (self-heal), or says all is well. */
function keepApplied(pass: Pass, applied: RevisionRecord, why: Why): Plan {
  const { observed, now } = pass.input;
  const runs = revisionRuns(applied);
  const drift: Drift[] = findDrift(runs, observed);
  // A job that failed is reported, not re-run on every pass: a new revision or a person runs it again.
  if (drift.every((d) => d.kind === 'jobFailed')) return plan({ action: 'none', steps: [], drift, ...why, progress: pass.progress }, runs, observed);
  const progress = startOperation(pass.progress, {
    id: pass.operationId,
    kind: 'repair',
    record: applied,
    desiredKey: applied.targetKey,
    step: 'pull',
    now,
  });
  return plan(
    {
      action: 'repair',
      steps: applySteps(applied),
      drift,
      reason: why.awaitingApproval || why.reason === 'InvalidSpec' || why.reason === 'RolledBack' ? why.reason : 'Repairing',
      message: `${why.message}; repairing revision ${applied.revision} (version ${applied.version}): ${describeDrift(drift)}`,
      awaitingApproval: why.awaitingApproval,
      progress,
    },
    runs,
    observed,
  );
}

function idle(pass: Pass, runs: readonly ExpectedRun[], why: Why): Plan {
  const { observed } = pass.input;
  return plan({ action: 'none', steps: [], drift: findDrift(runs, observed), ...why, progress: pass.progress }, runs, observed);
}

/**
 * Whether a revision passed its health gate, as far as the journal remembers: its newest
 * history entry says Healthy, or the history no longer holds it (trimmed, or applied
 * before berth kept one), in which case berth does not second-guess what runs.
 */
function provenOrUnknown(p: Progress, revision: number): boolean {
  const newest = p.history.find((h) => h.revision === revision);
  return newest === undefined || newest.outcome === 'Healthy';
}

type Continued = { plan: Plan } | { progress: Progress };

/** A failed update rolls back to the last-good revision when it may; anything else just stops. */
function onFailure(pass: Pass, record: RevisionRecord, reason: string, message: string): Continued {
  const { desired, recorded, observed, now } = pass.input;
  const op = pass.progress.operation!;
  const retryToken = desired.valid ? retryTokenOf(desired.target.stack) : pass.progress.quarantine?.retryToken;
  const intent = desired.valid ? desired.target.intent : pass.progress.quarantine?.intent;
  let progress = failOperation(pass.progress, {
    reason,
    message,
    version: record.version,
    now,
    ...(retryToken !== undefined ? { retryToken } : {}),
    ...(intent !== undefined ? { intent } : {}),
  });
  const lastGood = recorded.lastGood;
  if (op.kind !== 'update' || !rollbackPolicy(pass.input.desired, record).auto || lastGood === undefined || lastGood.revision === op.revision) {
    return { progress };
  }
  progress = startOperation(progress, {
    id: pass.operationId,
    kind: 'rollback',
    record: lastGood,
    desiredKey: op.desiredKey,
    fromRevision: op.revision,
    step: 'pull',
    now,
  });
  progress = markRolledBack(progress, op.revision, lastGood);
  const runs = revisionRuns(lastGood);
  return {
    plan: plan(
      {
        action: 'rollback',
        steps: applySteps(lastGood),
        drift: findDrift(runs, observed),
        reason: 'RollingBack',
        message: `revision ${op.revision} (version ${record.version}) failed (${reason}: ${message}); rolling back to revision ${lastGood.revision} (version ${lastGood.version})`,
        awaitingApproval: false,
        progress,
      },
      runs,
      observed,
    ),
  };
}

/** Carries the operation in flight one step further, or ends it so the steady state takes over. */
function continueOperation(pass: Pass): Continued {
  const { desired, recorded, observed, now } = pass.input;
  const p = pass.progress;
  const op = p.operation!;
  if (op.kind === 'repair') {
    // Repairs are recomputed from what runs on every pass; an interrupted one needs no memory.
    const { operation: _dropped, ...rest } = p;
    return { progress: rest };
  }
  if (desired.valid && desired.target.stack.spec.mode === 'disabled') {
    return { progress: finishOperation(p, 'Superseded', 'UpdatesDisabled', 'mode was set to disabled; berth stopped acting', now) };
  }
  if (!desired.valid && modeOfInvalid(desired).handsOff) {
    return { progress: finishOperation(p, 'Superseded', 'UpdatesDisabled', `berth stopped acting: ${modeOfInvalid(desired).because}`, now) };
  }
  // A rollback asked for by the target itself (the feed no longer offers the failed version)
  // is what the target wants, not a new one.
  const rollbackWanted = op.kind === 'rollback' && desired.valid && desired.target.key === op.targetKey;
  if (desired.valid && desired.target.key !== op.desiredKey && !rollbackWanted) {
    // A new desired target cancels whatever was in flight, a health wait included.
    const message = `superseded by version ${desired.target.version} before revision ${op.revision} was proven`;
    return { progress: finishOperation(p, 'Superseded', 'NewTarget', message, now) };
  }
  const record = recorded.operating;
  if (record === undefined) {
    if (op.kind === 'update' && (op.step === 'pull' || op.step === 'writeRevision')) {
      // Crashed before the revision reached the disk: forget it; the steady state starts
      // over under the same number if the target still asks for it.
      return { progress: abandonOperation(p) };
    }
    const message = `revision ${op.revision} is not on disk although the journal says it was written`;
    const version =
      p.history.find((h) => h.revision === op.revision && h.operation === op.kind)?.version ??
      (desired.valid ? desired.target.version : 'unknown');
    const intent = desired.valid ? desired.target.intent : p.quarantine?.intent;
    return { progress: failOperation(p, { reason: 'RevisionMissing', message, version, now, ...(intent !== undefined ? { intent } : {}) }) };
  }
  const runs = revisionRuns(record);
  const rollingBack = op.kind === 'rollback';
  if (op.step !== 'verify' || op.interrupted !== undefined) {
    const why = op.interrupted !== undefined ? ` (${op.interrupted})` : '';
    return {
      plan: plan(
        {
          action: rollingBack ? 'rollback' : 'resume',
          steps: applySteps(record),
          drift: findDrift(runs, observed),
          reason: rollingBack ? 'RollingBack' : 'Resuming',
          message: `${rollingBack ? 'rolling back to' : 'resuming'} revision ${record.revision} (version ${record.version}) from its ${op.step} step${why}`,
          awaitingApproval: false,
          progress: p,
        },
        runs,
        observed,
      ),
    };
  }
  const verdict = evaluateGate({
    record,
    observed,
    probes: pass.input.probes ?? [],
    operation: op,
    health: healthOf(record),
    now,
  });
  if (verdict.verdict === 'passed') return { progress: finishOperation(p, 'Healthy', 'HealthGatePassed', verdict.message, now) };
  if (verdict.verdict === 'failed') return onFailure(pass, record, verdict.reason, verdict.message);
  return {
    plan: plan(
      {
        action: 'verify',
        steps: [],
        drift: findDrift(runs, observed),
        reason: rollingBack ? 'RollingBack' : 'Verifying',
        message: verdict.message,
        awaitingApproval: false,
        progress: withVerification(p, verdict.healthySince, verdict.restartBaseline),
      },
      runs,
      observed,
    ),
  };
}

function quarantineMessage(pass: Pass): string {
  const q = pass.progress.quarantine!;
  return `version ${q.version} (revision ${q.revision}) failed: ${q.reason}: ${q.message}`;
}

const RETRY_HINT = `name something else in the spec (version, approve, images, compose file or channel), or set metadata.annotations["${RETRY_ANNOTATION}"] to a new value to try it again`;

/** No operation in flight: compare what is asked with what berth applied, and start what is needed. */
function steady(pass: Pass): Plan {
  const { desired, recorded, observed, now } = pass.input;
  const { applied, latest } = recorded;
  const q = pass.progress.quarantine;

  if (q?.rollbackFailed === true) {
    // Acting again could only repeat what already failed twice.
    const why = {
      reason: 'RollbackFailed',
      message: `${quarantineMessage(pass)}; rolling back to the last good revision failed too, so berth stopped acting on this stack: ${RETRY_HINT}`,
      awaitingApproval: false,
    };
    return idle(pass, applied !== undefined ? revisionRuns(applied) : [], why);
  }

  if (!desired.valid) {
    // Act on the last valid desired state: repair what berth applied, apply nothing new;
    // unless the stack is (or may be) disabled.
    const mode = modeOfInvalid(desired);
    const message = applied !== undefined ? `${desired.error}; ${mode.because}` : desired.error;
    const why = { reason: 'InvalidSpec', message, awaitingApproval: false };
    if (applied === undefined || mode.handsOff || applied.targetKey === q?.targetKey) {
      return plan({ action: 'none', steps: [], drift: [], ...why, progress: pass.progress }, [], observed);
    }
    return keepApplied(pass, applied, why);
  }

  const target = desired.target;
  const spec = target.stack.spec;

  if (spec.mode === 'disabled') {
    // Hands off: a person may be running compose by hand; report, never act.
    const runs = targetRuns(target);
    const drift = findDrift(runs, observed);
    const message =
      drift.length === 0
        ? `version ${target.version} runs; mode is disabled, berth only observes`
        : `mode is disabled: berth applies and repairs nothing (${describeDrift(drift)})`;
    return plan(
      { action: 'none', steps: [], drift, reason: 'UpdatesDisabled', message, awaitingApproval: false, progress: pass.progress },
      runs,
      observed,
    );
  }

  // The quarantined target is asked for (a pinned stack), or the feed offers nothing newer
  // than what berth went back to (a stack that follows a channel).
  const wentBack = applied !== undefined && applied.targetKey === target.key && q !== undefined && applied.revision < q.revision;
  if (q !== undefined && (q.targetKey === target.key || wentBack)) {
    if (applied !== undefined && applied.targetKey !== q.targetKey) {
      return keepApplied(pass, applied, {
        reason: 'RolledBack',
        message: `${quarantineMessage(pass)}; revision ${applied.revision} (version ${applied.version}) runs instead; ${RETRY_HINT}`,
        awaitingApproval: false,
      });
    }
    // Nothing good to go back to (or rollback is off): leave the failed revision be, never loop on it.
    const why = { reason: 'Failed', message: `${quarantineMessage(pass)}; ${RETRY_HINT}`, awaitingApproval: false };
    return idle(pass, applied !== undefined ? revisionRuns(applied) : targetRuns(target), why);
  }

  if (applied !== undefined && applied.targetKey === target.key && !provenOrUnknown(pass.progress, applied.revision)) {
    // The applied revision never passed its gate (it failed and a retry was asked, or it was
    // superseded and is asked for again): put it through the gate once more.
    return startUpdate(pass, applied, undefined, {
      action: 'resume',
      reason: 'Resuming',
      message: `verifying revision ${applied.revision} (version ${applied.version}) again; it has not passed its health gate`,
    });
  }

  if (applied !== undefined && applied.targetKey === target.key) {
    pass.progress = bindApproval(pass.progress, target, now);
    return keepApplied(pass, applied, {
      reason: 'InSync',
      message: `revision ${applied.revision} (version ${target.version}) is applied`,
      awaitingApproval: false,
    });
  }

  // A new target that must wait: notify mode without an approval of exactly this version,
  // a release beyond the policy, a cooldown, or a channel that has offered nothing yet.
  const hold = target.hold ?? approvalHold(target, pass.progress.approval, applied);
  if (hold !== undefined) {
    const why = { ...hold };
    if (applied !== undefined) return keepApplied(pass, applied, why);
    return idle(pass, targetRuns(target), why);
  }

  // The revision was written but berth has no journal of applying it (its status was lost):
  // finish that revision instead of writing a duplicate.
  if (latest !== undefined && latest.targetKey === target.key && latest.revision > (applied?.revision ?? 0)) {
    return startUpdate(pass, latest, applied, {
      action: 'resume',
      reason: 'Resuming',
      message: pass.progress.history.some((e) => e.revision === latest.revision)
        ? `applying revision ${latest.revision} (version ${target.version}) again; it is on disk already`
        : `resuming revision ${latest.revision} (version ${target.version}), written but not yet applied`,
    });
  }

  const revision = Math.max(latest?.revision ?? 0, applied?.revision ?? 0) + 1;
  const rendered = renderRevision(target, revision, carriedServices(applied, target), pass.input.instance, adoptedNow(pass.input, applied));
  const record: RevisionRecord = {
    revision,
    stack: target.stack.metadata.name,
    version: target.version,
    images: target.images,
    targetKey: target.key,
    generation: target.generation,
    project: target.project,
    projectDirectory: target.projectDirectory,
    services: rendered.services,
    ...(rendered.profiles.length > 0 ? { profiles: rendered.profiles } : {}),
    resolved: true,
    spec: target.stack.spec,
    created: now.toISOString(),
    ...(target.release !== undefined ? { release: target.release } : {}),
  };
  const from = applied === undefined ? '' : ` (from version ${applied.version}, revision ${applied.revision})`;
  return startUpdate(
    pass,
    record,
    applied,
    { action: 'apply', reason: 'Applying', message: `applying version ${target.version} as revision ${revision}${from}` },
    { kind: 'writeRevision', record, composeText: rendered.composeText },
  );
}

/** The services of a running install the first revision adopts as they run (plan/adopt.ts). */
function adoptedNow(input: PlanInput, applied: RevisionRecord | undefined): Record<string, string> {
  if (applied !== undefined || input.adoptable === undefined) return {};
  return adoptedServices(input.adoptable, input.observed);
}

/**
 * Starts an update operation to `record` (journal entry and history) and plans its steps:
 * pull, then `write` when the revision is new, then compose up.
 */
function startUpdate(
  pass: Pass,
  record: RevisionRecord,
  from: RevisionRecord | undefined,
  why: { action: PlanAction; reason: string; message: string },
  write?: Step,
): Plan {
  const { desired, observed, now } = pass.input;
  const bound = desired.valid ? bindApproval(pass.progress, desired.target, now) : pass.progress;
  const progress = startOperation(bound, {
    id: pass.operationId,
    kind: 'update',
    record,
    desiredKey: desired.valid ? desired.target.key : record.targetKey,
    ...(from !== undefined ? { fromRevision: from.revision } : {}),
    step: 'pull',
    now,
  });
  const runs = revisionRuns(record);
  const [pull, composeUp] = applySteps(record);
  return plan(
    {
      ...why,
      steps: write !== undefined ? [pull!, write, composeUp!] : [pull!, composeUp!],
      drift: findDrift(runs, observed),
      awaitingApproval: false,
      progress,
    },
    runs,
    observed,
  );
}

function operationIdOf(input: PlanInput): string {
  return input.newOperationId ?? `op-${input.now.getTime().toString(36)}`;
}

export function decide(input: PlanInput): Plan {
  const { desired } = input;
  let progress: Progress = input.progress ?? { history: [] };
  if (desired.valid) progress = releaseQuarantine(progress, desired.target, input.recorded.applied);
  const pass: Pass = { input, progress, operationId: operationIdOf(input) };
  const adopt = desired.valid ? desired.target.stack.metadata.annotations?.[ADOPT_ANNOTATION] : undefined;
  const elsewhere = managedElsewhere({
    observed: input.observed,
    ...(input.instance !== undefined ? { instance: input.instance } : {}),
    ...(adopt !== undefined ? { adopt } : {}),
  });
  if (elsewhere !== undefined) return bounded(input, standBack(pass, elsewhere.message));
  let result: Plan | undefined;
  if (progress.operation !== undefined) {
    const continued = continueOperation(pass);
    if ('plan' in continued) result = continued.plan;
    else pass.progress = continued.progress;
  }
  return bounded(input, result ?? steady(pass));
}

/** Another berth manages the project: end what was in flight here, and take no step. */
function standBack(pass: Pass, message: string): Plan {
  const { observed, now } = pass.input;
  let progress = pass.progress;
  const op = progress.operation;
  if (op?.kind === 'repair') {
    const { operation: _dropped, ...rest } = progress;
    progress = rest;
  } else if (op !== undefined) {
    progress = finishOperation(progress, 'Superseded', 'ManagedElsewhere', message, now);
  }
  return plan({ action: 'none', steps: [], drift: [], reason: 'ManagedElsewhere', message, awaitingApproval: false, progress }, [], observed);
}

/** The history as long as the Stack keeps it. */
function bounded(input: PlanInput, result: Plan): Plan {
  const { keep } = rollbackPolicy(input.desired, input.recorded.applied ?? input.recorded.operating);
  return { ...result, progress: trimHistory(result.progress, keep) };
}

/**
 * A step of the operation in flight failed (compose up exited non-zero or timed out): record
 * the failure and, for an update the Stack lets berth undo, plan the rollback to last-good.
 * `input.recorded.operating` must be the record of the operation's revision.
 */
export function decideOnFailure(input: PlanInput & { progress: Progress }, failure: { reason: string; message: string }): Plan {
  const pass: Pass = { input, progress: input.progress, operationId: operationIdOf(input) };
  const record = input.recorded.operating;
  let result: Plan | undefined;
  if (pass.progress.operation !== undefined && record !== undefined) {
    const continued = onFailure(pass, record, failure.reason, failure.message);
    if ('plan' in continued) result = continued.plan;
    else pass.progress = continued.progress;
  }
  return bounded(input, result ?? steady(pass));
}
