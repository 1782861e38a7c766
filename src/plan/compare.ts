// "Is what runs what was asked?" answered service by service. Pure.
import type { Drift, Observed, ObservedContainer } from './types.js';

export interface ExpectedRun {
  name: string;
  pinned?: string;
  /** Checked only when set: the berth revision label the service's containers must carry. */
  revision?: number;
  /** Checked only when set: compose's config hash the service's containers must carry (an adopted service). */
  configHash?: string;
  /**
   * Exactly the containers expected (`deploy.replicas`/`scale`, else 1); 0 expects none.
   * Absent only for a revision an older berth wrote, before it read replicas: at least one.
   */
  replicas?: number;
  /** A one-shot job: exited 0 is done, a non-zero exit is a failure (see plan/services.ts). */
  job?: boolean;
  /** Not of an active profile: nothing is expected, and its containers are not strays. */
  inactive?: boolean;
}

/** Exit codes of a process told to stop (SIGINT, SIGKILL, SIGTERM): not a verdict on a job. */
export const SIGNAL_CODES: ReadonlySet<number> = new Set([130, 137, 143]);

/** A job's container that ran to completion. */
export function jobDone(svc: Pick<ExpectedRun, 'job'>, c: ObservedContainer): boolean {
  return svc.job === true && c.state === 'exited' && exitCodeOf(c) === 0;
}

/** A job's container that exited with a code of its own (not 0, not a stop signal). */
export function jobFailed(svc: Pick<ExpectedRun, 'job'>, c: ObservedContainer): boolean {
  const code = exitCodeOf(c);
  return svc.job === true && c.state === 'exited' && code !== undefined && code !== 0 && !SIGNAL_CODES.has(code);
}

/** The exit code, from an inspect when the gate asked for one, else from the list API. */
export function exitCodeOf(c: ObservedContainer): number | undefined {
  return c.details?.exitCode ?? c.exitCode;
}

/** Services compose expects nothing of: a profile that is not active, or zero replicas. */
export function expectsNone(svc: ExpectedRun): boolean {
  return svc.inactive === true || svc.replicas === 0;
}

/** States a `compose up` would change. Restarting and paused containers are a health matter, not drift. */
const REPAIRABLE_STATES = new Set(['created', 'exited', 'dead']);

export function digestOf(ref: string): string | undefined {
  const at = ref.lastIndexOf('@');
  return at < 0 ? undefined : ref.slice(at + 1);
}

export function runsDigest(c: ObservedContainer, digest: string): boolean {
  return c.imageDigests.some((d) => digestOf(d) === digest);
}

export function findDrift(expected: readonly ExpectedRun[], observed: Observed): Drift[] {
  const byService = new Map<string, ObservedContainer[]>();
  for (const c of observed.containers) {
    const list = byService.get(c.service);
    if (list) list.push(c);
    else byService.set(c.service, [c]);
  }
  const drift: Drift[] = [];
  for (const svc of expected) {
    const containers = byService.get(svc.name) ?? [];
    byService.delete(svc.name);
    // compose keeps what a person started of an inactive profile (even with --remove-orphans): so does berth.
    if (svc.inactive === true) continue;
    if (svc.replicas === 0) {
      // compose up removes them: a repair converges.
      if (containers.length > 0) {
        drift.push({ service: svc.name, kind: 'unexpected', detail: `${containers.map((c) => c.name).join(', ')} exist(s) although replicas is 0` });
      }
      continue;
    }
    if (containers.length === 0) {
      drift.push({ service: svc.name, kind: 'missing', detail: svc.job === true ? 'the job has no container (it never ran)' : 'no container' });
      continue;
    }
    if (svc.replicas !== undefined && containers.length !== svc.replicas) {
      // compose up scales to the model's count: it creates the missing replicas and removes the extra ones.
      const names = containers.map((c) => c.name).join(', ');
      drift.push(
        containers.length < svc.replicas
          ? { service: svc.name, kind: 'missing', detail: `${containers.length} of ${svc.replicas} replicas (${names})` }
          : { service: svc.name, kind: 'unexpected', detail: `${containers.length} containers (${names}), ${svc.replicas} expected` },
      );
    }
    const failed = containers.filter((c) => jobFailed(svc, c));
    if (failed.length > 0) {
      drift.push({
        service: svc.name,
        kind: 'jobFailed',
        detail: `job ${svc.name} failed: ${failed.map((c) => `${c.name} exited with code ${exitCodeOf(c)}`).join(', ')}`,
      });
    }
    const stopped = containers.filter((c) => REPAIRABLE_STATES.has(c.state) && !jobDone(svc, c) && !jobFailed(svc, c));
    if (stopped.length > 0) {
      drift.push({ service: svc.name, kind: 'notRunning', detail: stopped.map((c) => `${c.name} is ${c.state}`).join(', ') });
    }
    const digest = svc.pinned !== undefined ? digestOf(svc.pinned) : undefined;
    if (digest !== undefined) {
      const wrong = containers.filter((c) => !runsDigest(c, digest));
      if (wrong.length > 0) {
        drift.push({
          service: svc.name,
          kind: 'wrongImage',
          detail: `${wrong.map((c) => c.name).join(', ')} not on ${digest.slice(0, 19)}`,
        });
      }
    }
    if (svc.configHash !== undefined) {
      // An adopted service carries no berth label: compose's own hash says whether it runs the revision's definition.
      const stale = containers.filter((c) => c.configHash !== svc.configHash);
      if (stale.length > 0) {
        drift.push({
          service: svc.name,
          kind: 'staleRevision',
          detail: `${stale.map((c) => c.name).join(', ')} not created from this revision's definition (compose config hash ${svc.configHash.slice(0, 12)})`,
        });
      }
    } else if (svc.revision !== undefined) {
      const stale = containers.filter((c) => c.revision !== svc.revision);
      if (stale.length > 0) {
        drift.push({
          service: svc.name,
          kind: 'staleRevision',
          detail: `${stale.map((c) => `${c.name} has revision ${c.revision ?? 'none'}`).join(', ')}, expected ${svc.revision}`,
        });
      }
    }
  }
  for (const [service, containers] of byService) {
    drift.push({ service, kind: 'orphan', detail: `${containers.map((c) => c.name).join(', ')} not in the compose file` });
  }
  return drift;
}

export function describeDrift(drift: readonly Drift[]): string {
  return drift.map((d) => `${d.service}: ${d.detail}`).join('; ');
}
