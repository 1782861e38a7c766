// The decision: from desired, recorded and observed state to the steps to take now and the
// reason for them. Pure and total: every input has an answer, so the controller never has
// to guess, and every case is a row in a table test.
import fastJsonPatch from 'fast-json-patch';
import { describeDrift, digestOf, findDrift, type ExpectedRun } from './compare.js';
import { renderRevision } from './render.js';
import type { Drift, Observed, Plan, PlanInput, RevisionRecord, Step, Target } from './types.js';

const { compare } = fastJsonPatch;

type ServiceView = { image?: string; state: string };
type View = { services: Record<string, ServiceView> };

function desiredView(services: readonly ExpectedRun[]): View {
  const out: View = { services: {} };
  for (const s of services) out.services[s.name] = { ...(s.pinned !== undefined ? { image: s.pinned } : {}), state: 'running' };
  return out;
}

/**
 * One entry per service, whatever its replica count: the state is 'running' only when every
 * container runs, and the image is the pinned one only when every container runs it, so a
 * single stray replica shows in the patch.
 */
function observedView(expected: readonly ExpectedRun[], observed: Observed): View {
  const pinnedBy = new Map(expected.map((s) => [s.name, s.pinned]));
  const byService = new Map<string, Observed['containers']>();
  for (const c of observed.containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  const out: View = { services: {} };
  for (const [service, containers] of byService) {
    const notRunning = containers.find((c) => c.state !== 'running');
    const view: ServiceView = { state: notRunning?.state ?? 'running' };
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

/** What the target asks each service to run: its pinned image, if any. */
export function targetRuns(target: Target): ExpectedRun[] {
  return Object.keys(target.compose.services).map((name) => {
    const pinned = target.images[name];
    return pinned !== undefined ? { name, pinned } : { name };
  });
}

/** What berth's own revision must look like when running: digests and revision labels. */
export function revisionRuns(record: RevisionRecord): ExpectedRun[] {
  return record.services.map((s) => ({
    name: s.name,
    revision: s.revision,
    ...(s.pinned !== undefined ? { pinned: s.pinned } : {}),
  }));
}

function pinnedImages(runs: readonly ExpectedRun[]): string[] {
  return runs.flatMap((s) => (s.pinned !== undefined ? [s.pinned] : []));
}

function repairSteps(record: RevisionRecord): Step[] {
  return [
    { kind: 'pull', images: pinnedImages(revisionRuns(record)) },
    { kind: 'composeUp', revision: record.revision, project: record.project, projectDirectory: record.projectDirectory },
  ];
}

function plan(partial: Omit<Plan, 'patch'>, expected: readonly ExpectedRun[], observed: Observed): Plan {
  return { ...partial, patch: compare(observedView(expected, observed), desiredView(expected)) };
}

/** Keeps berth's applied revision running (self-heal), or says all is well. */
function keepApplied(
  applied: RevisionRecord,
  observed: Observed,
  why: { reason: string; message: string; awaitingApproval: boolean },
): Plan {
  const runs = revisionRuns(applied);
  const drift: Drift[] = findDrift(runs, observed);
  if (drift.length === 0) return plan({ action: 'none', steps: [], drift, ...why }, runs, observed);
  return plan(
    {
      action: 'repair',
      steps: repairSteps(applied),
      drift,
      reason: why.awaitingApproval || why.reason === 'InvalidSpec' ? why.reason : 'Repairing',
      message: `${why.message}; repairing revision ${applied.revision} (version ${applied.version}): ${describeDrift(drift)}`,
      awaitingApproval: why.awaitingApproval,
    },
    runs,
    observed,
  );
}

export function decide(input: PlanInput): Plan {
  const { desired, recorded, observed } = input;
  const { applied, latest } = recorded;

  if (!desired.valid) {
    // Act on the last valid desired state: repair what berth applied, apply nothing new.
    const mode = desired.lastValidMode ?? applied?.spec.mode;
    const why = { reason: 'InvalidSpec', message: desired.error, awaitingApproval: false };
    if (applied === undefined || mode === undefined || mode === 'disabled') {
      return plan({ action: 'none', steps: [], drift: [], ...why }, [], observed);
    }
    return keepApplied(applied, observed, why);
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
    return plan({ action: 'none', steps: [], drift, reason: 'UpdatesDisabled', message, awaitingApproval: false }, runs, observed);
  }

  if (applied !== undefined && applied.targetKey === target.key) {
    return keepApplied(applied, observed, {
      reason: 'InSync',
      message: `revision ${applied.revision} (version ${target.version}) is applied`,
      awaitingApproval: false,
    });
  }

  // A new target. notify mode applies it only with an approval of exactly this version.
  if (spec.mode === 'notify' && spec.approve !== target.version) {
    const ask = `version ${target.version} waits for approval: set spec.approve to "${target.version}"`;
    const message =
      spec.approve === undefined ? ask : `${ask} (spec.approve is "${spec.approve}", which approves no other version)`;
    const why = { reason: 'AwaitingApproval', message, awaitingApproval: true };
    if (applied !== undefined) return keepApplied(applied, observed, why);
    const runs = targetRuns(target);
    return plan({ action: 'none', steps: [], drift: findDrift(runs, observed), ...why }, runs, observed);
  }

  // A crash after the revision was written but before it was recorded as applied: finish
  // that revision instead of writing a duplicate.
  if (latest !== undefined && latest.targetKey === target.key && latest.revision > (applied?.revision ?? 0)) {
    const runs = revisionRuns(latest);
    return plan(
      {
        action: 'resume',
        steps: repairSteps(latest),
        drift: findDrift(runs, observed),
        reason: 'Resuming',
        message: `resuming revision ${latest.revision} (version ${target.version}), written but not yet applied`,
        awaitingApproval: false,
      },
      runs,
      observed,
    );
  }

  const revision = Math.max(latest?.revision ?? 0, applied?.revision ?? 0) + 1;
  const rendered = renderRevision(target, revision, applied?.services ?? []);
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
    spec: target.stack.spec,
    created: input.now.toISOString(),
  };
  const runs = revisionRuns(record);
  const from = applied === undefined ? '' : ` (from version ${applied.version}, revision ${applied.revision})`;
  return plan(
    {
      action: 'apply',
      steps: [
        { kind: 'pull', images: pinnedImages(runs) },
        { kind: 'writeRevision', record, composeText: rendered.composeText },
        { kind: 'composeUp', revision, project: target.project, projectDirectory: target.projectDirectory },
      ],
      drift: findDrift(runs, observed),
      reason: 'Applying',
      message: `applying version ${target.version} as revision ${revision}${from}`,
      awaitingApproval: false,
    },
    runs,
    observed,
  );
}
