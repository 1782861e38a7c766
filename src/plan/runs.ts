// What a target or a revision expects to run, service by service: the common currency of
// drift detection, the health gate and the status.
import type { ExpectedRun } from './compare.js';
import type { RevisionRecord, Target } from './types.js';

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

export function pinnedImages(runs: readonly ExpectedRun[]): string[] {
  return runs.flatMap((s) => (s.pinned !== undefined ? [s.pinned] : []));
}
