// "Is what runs what was asked?" answered service by service. Pure.
import type { Drift, Observed, ObservedContainer } from './types.js';

export interface ExpectedRun {
  name: string;
  pinned?: string;
  /** Checked only when set: the berth revision label the service's containers must carry. */
  revision?: number;
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
    if (containers.length === 0) {
      drift.push({ service: svc.name, kind: 'missing', detail: 'no container' });
      continue;
    }
    const stopped = containers.filter((c) => REPAIRABLE_STATES.has(c.state));
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
    if (svc.revision !== undefined) {
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
