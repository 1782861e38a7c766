// A berth that just started finds an operation under verification. Its deadline is in the
// journal and stays: a berth that keeps restarting must not keep an update from ever
// reaching it. compose up runs again only when what runs is no longer the revision, or was
// stopped under it from outside (what an engine restart while berth was down leaves);
// otherwise the gate goes on judging what runs. Pure.
import type { Operation } from '../api/types.js';
import { describeDrift, findDrift, jobDone, jobFailed } from './compare.js';
import { stoppedFromOutside } from './gate.js';
import { revisionRuns } from './runs.js';
import type { Observed, RevisionRecord } from './types.js';

export interface Resumption {
  /** Run compose up for the revision again before judging it (the deadline is kept). */
  reapply: boolean;
  why: string;
}

export function resumeAfterRestart(op: Operation | undefined, record: RevisionRecord | undefined, observed: Observed): Resumption {
  if (op === undefined) return { reapply: false, why: 'nothing in flight' };
  if (op.kind === 'repair') return { reapply: false, why: 'a repair is recomputed from what runs' };
  if (op.interrupted !== undefined) return { reapply: false, why: `already marked to run compose up again (${op.interrupted})` };
  if (op.step !== 'verify') return { reapply: false, why: `the ${op.step} step repeats by itself` };
  if (record === undefined) return { reapply: false, why: `revision ${op.revision} is not on disk` };
  // Extra containers are compose's to remove, and a stopped one is judged below.
  const expectedRuns = revisionRuns(record);
  const drift = findDrift(expectedRuns, observed).filter((d) => d.kind !== 'orphan' && d.kind !== 'notRunning');
  if (drift.length > 0) {
    return { reapply: true, why: `what runs is not revision ${op.revision}'s (${describeDrift(drift)}); compose up runs again, the deadline stays` };
  }
  const runs = new Map(expectedRuns.map((r) => [r.name, r]));
  const expected = new Set(record.services.filter((s) => s.inactive !== true).map((s) => s.name));
  // A job that ran to its end (either way) was not stopped under it: the gate judges it.
  const ended = (c: (typeof observed.containers)[number]) => jobDone(runs.get(c.service) ?? {}, c) || jobFailed(runs.get(c.service) ?? {}, c);
  // created or dead: compose never got it running; exited on a stop signal: stopped under it.
  // A container that exited with a code of its own is the revision failing: the gate says so.
  const stopped = observed.containers.filter(
    (c) => expected.has(c.service) && !ended(c) && (c.state === 'created' || c.state === 'dead' || (c.state === 'exited' && (c.details === undefined || stoppedFromOutside(c)))),
  );
  if (stopped.length > 0) {
    const names = stopped.map((c) => `${c.name} (${c.service}) is ${c.state}`).join(', ');
    return { reapply: true, why: `stopped from outside while berth was down, as an engine restart stops containers: ${names}; compose up runs again, the deadline stays` };
  }
  return { reapply: false, why: `revision ${op.revision} runs; verification resumes with its deadline ${op.verifyDeadline ?? '(none recorded)'}` };
}
