// The health gate: has a freshly applied revision proven itself? Pure: the controller
// observes (and probes) once per pass and this answers passed, failed or not yet.
//
// A revision passes after `stableForSeconds` of unbroken health: every container running,
// none restarting, healthy where it has a healthcheck, every probe answering as expected.
// It fails as soon as failure is certain (a container exited, one keeps restarting, the
// engine calls one unhealthy) and at the latest at the deadline. Health is sampled, so a
// restart between two samples is caught through the container's start time and restart
// count rather than missed.
import type { HealthSpec, Operation } from '../api/types.js';
import { SIGNAL_CODES, describeDrift, exitCodeOf, findDrift, jobDone, jobFailed, type ExpectedRun } from './compare.js';
import { revisionRuns } from './runs.js';
import type { Observed, ObservedContainer, ProbeResult, RevisionRecord } from './types.js';

/** Restarts during verification that make a crash loop certain, not a hiccup. */
export const CRASH_LOOP_RESTARTS = 2;

export type GateVerdict =
  | { verdict: 'passed'; message: string }
  | { verdict: 'failed'; reason: string; message: string }
  | { verdict: 'pending'; message: string; healthySince?: string; restartBaseline: Record<string, number> };

export interface GateInput {
  record: RevisionRecord;
  observed: Observed;
  probes: readonly ProbeResult[];
  operation: Operation;
  health: Required<Pick<HealthSpec, 'stableForSeconds'>>;
  now: Date;
}

function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

/**
 * Exited with the code of a process that was told to stop (0 after a clean shutdown, 130/143
 * after SIGINT/SIGTERM, 137 after SIGKILL without the OOM killer): a person or the engine
 * stopped it, e.g. dockerd restarting. That is not proof the revision is bad, so it counts
 * against the revision only at the deadline, while berth re-applies the revision on an engine restart.
 */
export function stoppedFromOutside(c: ObservedContainer): boolean {
  const code = c.details?.exitCode;
  return c.state === 'exited' && code !== undefined && (code === 0 || SIGNAL_CODES.has(code)) && c.details?.oomKilled !== true;
}

export function evaluateGate(input: GateInput): GateVerdict {
  const { record, observed, probes, operation, now } = input;
  const runs = revisionRuns(record);
  const byName = new Map(runs.map((r) => [r.name, r]));
  const none: ExpectedRun = { name: '' };
  // What a person runs of a profile the stack does not enable is not the revision's to judge.
  const containers = observed.containers.filter((c) => byName.get(c.service)?.inactive !== true);
  const runOf = (c: ObservedContainer): ExpectedRun => byName.get(c.service) ?? none;
  const baseline: Record<string, number> = { ...(operation.restartBaseline ?? {}) };
  for (const c of containers) {
    if (c.details !== undefined && !(c.id in baseline)) {
      // A container this operation created started from zero restarts; one it left alone
      // (an unchanged service) may carry restarts from long before, which are not this
      // revision's doing.
      const createdByOperation = c.created !== undefined && c.created >= Date.parse(operation.started);
      baseline[c.id] = createdByOperation ? 0 : c.details.restartCount;
    }
  }

  // Certain failures first: waiting longer cannot fix them.
  for (const c of containers) {
    if (jobFailed(runOf(c), c)) {
      return {
        verdict: 'failed',
        reason: 'JobFailed',
        message: `job ${c.service} (container ${c.name}) exited with code ${exitCodeOf(c)}`,
      };
    }
    // A one-shot job that exited 0 is done, not down.
    if (jobDone(runOf(c), c)) continue;
    if ((c.state === 'exited' || c.state === 'dead') && !stoppedFromOutside(c)) {
      const code = c.details?.exitCode;
      return {
        verdict: 'failed',
        reason: 'ContainerExited',
        message: `container ${c.name} (${c.service}) ${c.state}${code !== undefined ? ` with code ${code}` : ''}`,
      };
    }
    // The engine keeps calling a stopped container unhealthy; only a running one's verdict counts.
    if (c.health === 'unhealthy' && c.state === 'running') {
      const output = c.details?.lastHealthOutput;
      return {
        verdict: 'failed',
        reason: 'Unhealthy',
        message: `container ${c.name} (${c.service}) is unhealthy${output ? `: ${output}` : ''}`,
      };
    }
    const restarts = (c.details?.restartCount ?? 0) - (baseline[c.id] ?? 0);
    if (restarts >= CRASH_LOOP_RESTARTS) {
      return {
        verdict: 'failed',
        reason: 'CrashLooping',
        message: `container ${c.name} (${c.service}) restarted ${restarts} times during verification`,
      };
    }
  }

  const deadline = operation.verifyDeadline !== undefined ? Date.parse(operation.verifyDeadline) : Number.POSITIVE_INFINITY;
  const problems: string[] = [];
  const drift = findDrift(runs, observed).filter((d) => d.kind !== 'orphan');
  if (drift.length > 0) problems.push(describeDrift(drift));
  const waiting = containers.filter((c) => !jobDone(runOf(c), c) && (c.state !== 'running' || c.health === 'starting'));
  if (waiting.length > 0) problems.push(waiting.map((c) => `${c.name} is ${c.state === 'running' ? 'starting' : c.state}`).join(', '));
  // A job has proven nothing until it has finished.
  const unfinished = containers.filter((c) => runOf(c).job === true && c.state === 'running' && c.health !== 'starting');
  if (unfinished.length > 0) problems.push(unfinished.map((c) => `job ${c.service} (${c.name}) is still running`).join(', '));
  const failedProbes = probes.filter((p) => !p.ok);
  if (failedProbes.length > 0) {
    problems.push(
      failedProbes.map((p) => `probe ${p.url} of ${p.container}: ${p.error ?? `status ${p.status ?? '?'}`}`).join(', '),
    );
  }

  if (problems.length > 0) {
    if (now.getTime() >= deadline) {
      return {
        verdict: 'failed',
        reason: 'ProgressDeadlineExceeded',
        message: `revision ${record.revision} was not healthy by ${operation.verifyDeadline}: ${problems.join('; ')}`,
      };
    }
    return { verdict: 'pending', message: `verifying revision ${record.revision}: ${problems.join('; ')}`, restartBaseline: baseline };
  }

  // Healthy now. The stretch began at the later of the last unhealthy sample and the newest
  // container start: a restart between samples breaks the stretch even if it went unseen.
  const starts = containers.map((c) => c.details?.startedAt).reduce<string | undefined>(latest, undefined);
  const since = latest(operation.healthySince ?? now.toISOString(), starts) ?? now.toISOString();
  const stableMs = now.getTime() - Date.parse(since);
  const needMs = input.health.stableForSeconds * 1000;
  if (stableMs >= needMs) {
    return {
      verdict: 'passed',
      message: `revision ${record.revision} stayed healthy for ${input.health.stableForSeconds}s (${containers.length} container(s)${probes.length > 0 ? `, ${probes.length} probe(s)` : ''})`,
    };
  }
  if (now.getTime() >= deadline) {
    return {
      verdict: 'failed',
      reason: 'ProgressDeadlineExceeded',
      message: `revision ${record.revision} was healthy for only ${Math.floor(stableMs / 1000)}s of the ${input.health.stableForSeconds}s needed by ${operation.verifyDeadline}`,
    };
  }
  return {
    verdict: 'pending',
    message: `verifying revision ${record.revision}: healthy for ${Math.floor(stableMs / 1000)}s of ${input.health.stableForSeconds}s`,
    healthySince: since,
    restartBaseline: baseline,
  };
}
