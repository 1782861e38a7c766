// What a target or a revision expects to run, service by service: the common currency of
// drift detection, the health gate and the status.
import type { ExpectedRun } from './compare.js';
import { serviceExpectations, type ServiceExpectation } from './services.js';
import type { ExpectedService, RevisionRecord, Target } from './types.js';

/** The fields of ExpectedService/ExpectedRun that say how compose runs the service, set only when not the default. */
export function runShape(e: ServiceExpectation): Pick<ExpectedService, 'replicas' | 'job' | 'inactive'> {
  return {
    ...(e.replicas !== 1 ? { replicas: e.replicas } : {}),
    ...(e.isJob ? { job: true as const } : {}),
    ...(!e.active ? { inactive: true as const } : {}),
  };
}

/** What the target asks each service to run: its pinned image, if any, as compose runs it. */
export function targetRuns(target: Target): ExpectedRun[] {
  const shapes = serviceExpectations(target.compose.services, target.profiles);
  return Object.keys(target.compose.services).map((name) => {
    const pinned = target.images[name];
    return { name, ...(pinned !== undefined ? { pinned } : {}), replicas: 1, ...runShape(shapes[name]!) };
  });
}

/** What berth's own revision must look like when running: digests, and revision labels (compose's config hash for an adopted service). */
export function revisionRuns(record: RevisionRecord): ExpectedRun[] {
  return record.services.map((s) => ({
    name: s.name,
    ...(s.configHash !== undefined ? { configHash: s.configHash } : { revision: s.revision }),
    ...(s.pinned !== undefined ? { pinned: s.pinned } : {}),
    // A revision rendered from compose's model records replicas unless 1; an older berth's recorded none.
    ...(s.replicas !== undefined ? { replicas: s.replicas } : record.resolved === true ? { replicas: 1 } : {}),
    ...(s.job === true ? { job: true } : {}),
    ...(s.inactive === true ? { inactive: true } : {}),
  }));
}

/** Images to pull before compose up: those of services compose will run. */
export function pinnedImages(runs: readonly ExpectedRun[]): string[] {
  return runs.flatMap((s) => (s.pinned !== undefined && s.inactive !== true ? [s.pinned] : []));
}
