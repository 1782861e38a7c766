// The observed state written after every pass, computed from what berth now knows. Pure.
// Conditions follow the Kubernetes shape; a condition's lastTransitionTime moves only when
// its status does, so watchers can tell a flap from a steady state.
import { API_VERSION } from '../api/schema.js';
import type { Available, Condition, ConditionStatus, Health, ServiceStatus, StackStatus } from '../api/types.js';
import { describeDrift, exitCodeOf, findDrift, jobDone, jobFailed, type ExpectedRun } from './compare.js';
import { modeOfInvalid } from './mode.js';
import { revisionRuns, targetRuns } from './runs.js';
import type { AvailableRelease } from './offer.js';
import { quarantinedVersions } from './progress.js';
import type { ChannelView, Desired, Drift, Observed, Plan, Progress, Recorded } from './types.js';

export interface StatusInput {
  /** Key of the status: the stack's name, or the file name of a manifest that never parsed. */
  name: string;
  desired: Desired;
  recorded: Recorded;
  /** Observed after the plan's steps ran. */
  observed: Observed;
  plan: Plan;
  /** berth's journal after this pass. */
  progress: Progress;
  /** Why the steps did not complete, if they did not. */
  error?: { reason: string; message: string };
  /** Set when this pass applied a revision. */
  appliedAt?: Date;
  previous?: StackStatus;
  now: Date;
}

type Cond = { type: string; status: ConditionStatus; reason: string; message: string };

function healthCondition(observed: Observed, expected: readonly ExpectedRun[]): Cond {
  const runs = new Map(expected.map((e) => [e.name, e]));
  // A job that exited 0 is done and a profile not enabled is not berth's: neither is "down".
  const cs = observed.containers.filter((c) => {
    const run = runs.get(c.service);
    return run === undefined || (run.inactive !== true && !jobDone(run, c));
  });
  const failedJobs = observed.containers.filter((c) => jobFailed(runs.get(c.service) ?? {}, c));
  if (failedJobs.length > 0) {
    const what = failedJobs.map((c) => `job ${c.service} (${c.name}) exited with code ${exitCodeOf(c)}`).join(', ');
    return { type: 'Healthy', status: 'False', reason: 'JobFailed', message: what };
  }
  if (cs.length === 0) return { type: 'Healthy', status: 'Unknown', reason: 'NoContainers', message: 'the project has no containers' };
  const names = (pred: (h: Health, state: string) => boolean) =>
    cs.filter((c) => pred(c.health, c.state)).map((c) => c.name);
  const unhealthy = names((h) => h === 'unhealthy');
  if (unhealthy.length > 0) return { type: 'Healthy', status: 'False', reason: 'Unhealthy', message: `unhealthy: ${unhealthy.join(', ')}` };
  const restarting = names((_, s) => s === 'restarting');
  if (restarting.length > 0) return { type: 'Healthy', status: 'False', reason: 'CrashLooping', message: `restarting: ${restarting.join(', ')}` };
  const down = names((_, s) => s !== 'running');
  if (down.length > 0) return { type: 'Healthy', status: 'False', reason: 'NotRunning', message: `not running: ${down.join(', ')}` };
  const starting = names((h) => h === 'starting');
  if (starting.length > 0) {
    return { type: 'Healthy', status: 'Unknown', reason: 'HealthPending', message: `health check pending: ${starting.join(', ')}` };
  }
  return { type: 'Healthy', status: 'True', reason: 'AllHealthy', message: `${cs.length} container(s) running and healthy` };
}

const QUARANTINE_REASONS: ReadonlySet<string> = new Set(['RolledBack', 'Failed', 'RollbackFailed']);

const STEP_REASONS = { pull: 'Pulling', writeRevision: 'Applying', composeUp: 'Applying', verify: 'Verifying' } as const;

/** Is an update or rollback under way, and if the last one ended badly, why? */
function progressingCondition(input: StatusInput): Cond {
  const { progress, plan } = input;
  const op = progress.operation;
  if (op !== undefined && op.kind !== 'repair') {
    const reason = op.kind === 'rollback' ? 'RollingBack' : STEP_REASONS[op.step];
    const message =
      plan.action === 'none'
        ? `${op.kind} to revision ${op.revision} is at its ${op.step} step`
        : plan.message;
    return { type: 'Progressing', status: 'True', reason, message };
  }
  const last = progress.history[0];
  if (last === undefined) return { type: 'Progressing', status: 'False', reason: 'NoUpdate', message: 'berth has not applied an update yet' };
  if (last.outcome === 'Healthy') {
    const what = last.operation === 'rollback' ? 'the rollback to revision' : 'revision';
    return { type: 'Progressing', status: 'False', reason: 'Complete', message: `${what} ${last.revision} passed the health gate at ${last.finished ?? '?'}` };
  }
  const q = progress.quarantine;
  if (q !== undefined) {
    return { type: 'Progressing', status: 'False', reason: q.reason, message: `revision ${q.revision} (version ${q.version}) failed: ${q.message}` };
  }
  return {
    type: 'Progressing',
    status: 'False',
    reason: last.reason ?? last.outcome,
    message: last.message ?? `revision ${last.revision}: ${last.outcome}`,
  };
}

/** Is the stack worse off than asked: an update undone or failed, or what runs unhealthy? */
function degradedCondition(input: StatusInput, healthy: Cond): Cond {
  const { progress, plan, desired } = input;
  const q = progress.quarantine;
  const asked = desired.valid ? desired.target.key : q?.targetKey;
  // A stack that follows a channel no longer asks for the failed release, but until
  // something newer than it was applied, the update it wanted is undone.
  const applied = input.recorded.applied;
  const wentBack = q !== undefined && applied !== undefined && applied.revision < q.revision;
  if (q !== undefined && (q.targetKey === asked || wentBack)) {
    const reason = q.rollbackFailed === true ? 'RollbackFailed' : plan.reason === 'RolledBack' || progress.operation?.kind === 'rollback' ? 'RolledBack' : 'Failed';
    return { type: 'Degraded', status: 'True', reason, message: plan.message };
  }
  if (progress.operation === undefined && healthy.status === 'False') {
    return { type: 'Degraded', status: 'True', reason: healthy.reason, message: healthy.message };
  }
  return { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'nothing failed' };
}

/**
 * Is a newer release on the channel, and what becomes of it? "Being applied" only while it
 * is: not while it is rolled back, quarantined, or held by the plan.
 */
function updateAvailableCondition(channel: ChannelView, input: StatusInput): Cond {
  const a = channel.available;
  if (a === undefined) {
    const message = channel.lastCheckIn === undefined ? `no release seen on channel ${channel.name} yet` : `nothing newer than what runs on channel ${channel.name}`;
    return { type: 'UpdateAvailable', status: 'False', reason: 'UpToDate', message };
  }
  const what = `version ${a.release.spec.version} (${a.change}) on channel ${channel.name}`;
  const fetched = a.downloaded === true ? '; its images are downloaded' : '';
  const version = a.release.spec.version;
  const q = input.progress.quarantine;
  if (a.waitingReason === 'Quarantined' || (q !== undefined && quarantinedVersions(q).includes(version) && input.plan.action !== 'apply')) {
    const why = a.waitingFor ?? `it failed (${q?.reason ?? 'its health gate'}) and was rolled back; ${input.plan.message}`;
    return { type: 'UpdateAvailable', status: 'True', reason: 'Quarantined', message: `${what} is quarantined: ${why}${fetched}` };
  }
  if (a.waitingFor === undefined) {
    const op = input.progress.operation;
    const applying = (op?.kind === 'update' && input.desired.valid && input.desired.target.version === version) || input.plan.action === 'apply';
    if (applying) return { type: 'UpdateAvailable', status: 'True', reason: 'Applying', message: `${what} is being applied${fetched}` };
    return { type: 'UpdateAvailable', status: 'True', reason: input.plan.reason, message: `${what} is not being applied: ${input.plan.message}${fetched}` };
  }
  return { type: 'UpdateAvailable', status: 'True', reason: a.waitingReason ?? 'Waiting', message: `${what} waits: ${a.waitingFor}${fetched}` };
}

/** Did the last check-in with the feed go through, and if not, why was it refused? */
function feedCondition(channel: ChannelView): Cond {
  const r = channel.refused;
  if (r !== undefined && (channel.lastCheckIn === undefined || r.at >= channel.lastCheckIn)) {
    const kept = channel.lastCheckIn !== undefined ? `; berth keeps the releases it accepted at ${channel.lastCheckIn}` : '';
    return { type: 'FeedAccepted', status: 'False', reason: r.reason, message: `${r.message}${kept}; nothing in the running stack was changed` };
  }
  if (channel.lastCheckIn === undefined) {
    return { type: 'FeedAccepted', status: 'Unknown', reason: 'NotCheckedIn', message: `berth has not checked in with ${channel.url} yet` };
  }
  return { type: 'FeedAccepted', status: 'True', reason: 'Verified', message: `the check-in at ${channel.lastCheckIn} was accepted: every release verified` };
}

function mergeConditions(next: Cond[], previous: readonly Condition[], generation: string | undefined, now: Date): Condition[] {
  const before = new Map(previous.map((c) => [c.type, c]));
  return next.map((c) => {
    const old = before.get(c.type);
    const lastTransitionTime = old !== undefined && old.status === c.status ? old.lastTransitionTime : now.toISOString();
    return { ...c, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  });
}

/** How a service that is not simply "keep one running" is doing, in Kubernetes' reason/message shape. */
function serviceShape(e: ExpectedRun, observed: Observed): Pick<ServiceStatus, 'desiredReplicas' | 'job' | 'reason' | 'message'> {
  if (e.inactive === true) {
    return { desiredReplicas: 0, reason: 'ProfileInactive', message: 'none of its profiles is enabled: nothing is expected to run, and what runs of it is left alone' };
  }
  if (e.replicas === 0) return { desiredReplicas: 0, reason: 'ScaledToZero', message: 'replicas is 0: no container is expected' };
  const replicas = e.replicas !== undefined && e.replicas !== 1 ? { desiredReplicas: e.replicas } : {};
  if (e.job !== true) return replicas;
  const cs = observed.containers.filter((c) => c.service === e.name);
  const failed = cs.find((c) => jobFailed(e, c));
  if (failed !== undefined) return { ...replicas, job: true, reason: 'JobFailed', message: `${failed.name} exited with code ${exitCodeOf(failed)}` };
  if (cs.length > 0 && cs.every((c) => jobDone(e, c))) return { ...replicas, job: true, reason: 'JobCompleted', message: 'ran to completion (exit code 0)' };
  if (cs.some((c) => c.state === 'running')) return { ...replicas, job: true, reason: 'JobRunning', message: 'the job is running' };
  return { ...replicas, job: true };
}

function serviceStatuses(observed: Observed, expected: readonly ExpectedRun[]): ServiceStatus[] {
  const byName = new Map<string, ServiceStatus>();
  for (const e of expected) {
    byName.set(e.name, { name: e.name, ...(e.pinned !== undefined ? { desiredImage: e.pinned } : {}), ...serviceShape(e, observed), containers: [] });
  }
  for (const c of observed.containers) {
    let s = byName.get(c.service);
    if (s === undefined) {
      s = { name: c.service, containers: [] };
      byName.set(c.service, s);
    }
    s.containers.push({
      id: c.id.slice(0, 12),
      name: c.name,
      state: c.state,
      health: c.health,
      imageId: c.imageId,
      imageDigests: c.imageDigests,
      ...(c.revision !== undefined ? { revision: c.revision } : {}),
      ...(c.configHash !== undefined ? { configHash: c.configHash } : {}),
      ...(exitCodeOf(c) !== undefined ? { exitCode: exitCodeOf(c)! } : {}),
    });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function availableOf(a: AvailableRelease & { downloaded?: boolean }, channel: string): Available {
  const { spec } = a.release;
  return {
    version: spec.version,
    channel,
    ...(spec.notes !== undefined ? { notes: spec.notes } : {}),
    ...(spec.published !== undefined ? { published: spec.published } : {}),
    change: a.change,
    ...(a.downloaded !== undefined ? { downloaded: a.downloaded } : {}),
    ...(a.waitingFor !== undefined ? { waitingFor: a.waitingFor } : {}),
  };
}

function awaitingMessage(name: string, version: string, why: string, running: string | undefined): string {
  const keeps = running !== undefined ? `; until then version ${running} keeps running` : '; nothing runs until then';
  return `${why} (or run \`berth approve ${name} ${version}\`)${keeps}`;
}

export function buildStatus(input: StatusInput): StackStatus {
  const { desired, recorded, observed, plan, error, previous, now } = input;
  const applied = recorded.applied;
  const conds: Cond[] = [];

  // Is what runs what was asked?
  const wanted = desired.valid ? targetRuns(desired.target) : undefined;
  // The target runs when berth applied it and that revision runs as recorded. Digests alone
  // cannot tell: a new version may keep every digest and change only the compose file. In
  // disabled mode berth applies nothing, so what runs can only be compared with the target.
  const targetApplied = desired.valid && applied !== undefined && applied.targetKey === desired.target.key;
  let targetDrift: Drift[] | undefined;
  if (desired.valid) {
    if (desired.target.stack.spec.mode === 'disabled') targetDrift = findDrift(wanted!, observed);
    else if (targetApplied) targetDrift = findDrift(revisionRuns(applied!), observed);
    else {
      const notApplied: Drift = { service: '*', kind: 'missing', detail: desired.target.version === '' ? 'no release to apply yet' : `version ${desired.target.version} is not applied` };
      targetDrift = [notApplied, ...findDrift(wanted!, observed).filter((d) => d.kind !== 'wrongImage')];
    }
  }
  let synced: Cond;
  if (!desired.valid) {
    synced = { type: 'Synced', status: 'Unknown', reason: 'InvalidSpec', message: 'the desired state cannot be read' };
  } else if (targetDrift!.length === 0) {
    synced = { type: 'Synced', status: 'True', reason: 'InSync', message: `what runs is version ${desired.target.version}` };
  } else if (error !== undefined) {
    synced = { type: 'Synced', status: 'False', reason: error.reason, message: error.message };
  } else {
    const reason = plan.reason === 'InSync' || plan.reason === 'Repairing' || plan.reason === 'Applying' ? 'OutOfSync' : plan.reason;
    // A version that waits for a person differs from what runs by design: listing that as
    // drift ("*: version 2.0.0 is not applied") read like an error. Say what keeps running
    // and how to approve instead.
    const message = plan.awaitingApproval && !targetApplied ? awaitingMessage(input.name, desired.target.version, plan.message, applied?.version) : `${plan.message}; differs: ${describeDrift(targetDrift!)}`;
    synced = { type: 'Synced', status: 'False', reason, message };
  }
  const expected = desired.valid && plan.action !== 'none' ? wanted! : applied !== undefined ? revisionRuns(applied) : (wanted ?? []);
  const healthy = healthCondition(observed, expected);

  const progressing = progressingCondition(input);
  const degraded = degradedCondition(input, healthy);

  let ready: Cond;
  if (plan.reason === 'ManagedElsewhere') {
    ready = { type: 'Ready', status: 'False', reason: 'ManagedElsewhere', message: plan.message };
  } else if (!desired.valid) {
    // With a revision on record, say whether berth still keeps it running.
    const message = applied !== undefined ? `${desired.error}; ${modeOfInvalid(desired).because}` : desired.error;
    ready = { type: 'Ready', status: 'False', reason: 'InvalidSpec', message };
  } else if (progressing.status === 'True') {
    ready = { type: 'Ready', status: 'False', reason: progressing.reason, message: progressing.message };
  } else if (degraded.status === 'True' && QUARANTINE_REASONS.has(degraded.reason)) {
    // A stack that follows a channel runs its own target again after a rollback, but the
    // update it wanted was undone: that is not ready, whatever the feed offers now.
    ready = { type: 'Ready', status: 'False', reason: degraded.reason, message: degraded.message };
  } else if (synced.status === 'True' && healthy.status === 'True') {
    ready = { type: 'Ready', status: 'True', reason: 'Converged', message: `version ${desired.target.version} runs and is healthy` };
  } else if (synced.status !== 'True') {
    ready = { type: 'Ready', status: 'False', reason: synced.reason, message: synced.message };
  } else {
    ready = { type: 'Ready', status: 'False', reason: healthy.reason, message: healthy.message };
  }
  conds.push(ready, synced, healthy, progressing, degraded);

  const channel = desired.valid ? desired.target.channel : undefined;
  const offered = channel?.available;
  conds.push(
    plan.awaitingApproval
      ? { type: 'AwaitingApproval', status: 'True', reason: plan.reason === 'ApprovalStale' ? 'ApprovalStale' : 'ApprovalRequired', message: plan.message }
      : offered?.awaitingApproval === true
        ? {
            type: 'AwaitingApproval',
            status: 'True',
            reason: 'ApprovalRequired',
            message: `version ${offered.release.spec.version} from channel ${channel!.name} waits: ${offered.waitingFor ?? ''}`,
          }
        : { type: 'AwaitingApproval', status: 'False', reason: 'NothingToApprove', message: 'no version waits for approval' },
  );
  if (channel !== undefined) conds.push(updateAvailableCondition(channel, input), feedCondition(channel));
  conds.push(
    desired.valid
      ? { type: 'SpecInvalid', status: 'False', reason: 'Valid', message: 'the manifest is valid' }
      : { type: 'SpecInvalid', status: 'True', reason: 'InvalidSpec', message: desired.error },
  );

  // The version of what runs: the target's when it runs, else the applied revision's when
  // that is what runs; otherwise berth does not claim to know.
  let currentVersion: string | undefined;
  if (desired.valid && targetDrift!.length === 0) currentVersion = desired.target.version;
  else if (applied !== undefined && findDrift(revisionRuns(applied), observed).length === 0) currentVersion = applied.version;

  const lastAppliedTime = input.appliedAt?.toISOString() ?? previous?.status.lastAppliedTime;
  const generation = desired.valid ? desired.target.generation : previous?.status.observedGeneration;
  const mode = desired.valid ? desired.target.stack.spec.mode : modeOfInvalid(desired).mode;
  const manifest = desired.valid ? desired.target.manifest : desired.manifest;

  return {
    apiVersion: API_VERSION,
    kind: 'StackStatus',
    metadata: { name: input.name },
    status: {
      manifest,
      ...(observed.project !== '' ? { project: observed.project } : {}),
      ...(mode !== undefined ? { mode } : {}),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(desired.valid && desired.target.version !== '' ? { targetVersion: desired.target.version } : {}),
      ...(currentVersion !== undefined ? { currentVersion } : {}),
      ...(input.progress.revision !== undefined ? { revision: input.progress.revision } : {}),
      ...(input.progress.lastGoodRevision !== undefined ? { lastGoodRevision: input.progress.lastGoodRevision } : {}),
      ...(input.progress.operation !== undefined ? { operation: input.progress.operation } : {}),
      ...(input.progress.quarantine !== undefined ? { quarantine: input.progress.quarantine } : {}),
      ...(input.progress.approval !== undefined ? { approval: input.progress.approval } : {}),
      history: input.progress.history,
      ...(channel?.lastCheckIn !== undefined ? { lastCheckIn: channel.lastCheckIn } : {}),
      ...(offered !== undefined ? { available: availableOf(offered, channel!.name) } : {}),
      ...(lastAppliedTime !== undefined ? { lastAppliedTime } : {}),
      lastReconcileTime: now.toISOString(),
      ...(error !== undefined ? { lastError: error.message } : {}),
      services: serviceStatuses(observed, expected),
      conditions: mergeConditions(conds, previous?.status.conditions ?? [], generation, now),
    },
  };
}
