// Which stack holds a compose project when several resolve to the same one. compose knows a
// project only by its name, so two stacks under one name would each take the other's
// services for orphans (`up --remove-orphans`) and remove them. One stack holds the name;
// every other is InvalidSpec and runs nothing under it.
//
// Who holds it must not depend on the order passes happen to run in, nor change across a
// restart, so that a copy of a manifest never takes a running install over:
//  1. a stack whose applied revision runs under the project (its containers are there);
//  2. else the stack that held it earlier in this run;
//  3. else the first by manifest file name, as for duplicate stack names.
// Among several running ones (possible only from before berth refused them), 2 and 3 decide.

import type { RevisionRecord, Target } from './types.js';

export interface ProjectClaim {
  stack: string;
  /** Absolute path of the stack's manifest. */
  manifest: string;
  project: string;
  /** The stack's applied revision runs under this project. */
  running: boolean;
}

function byRank(previous: string | undefined) {
  return (a: ProjectClaim, b: ProjectClaim): number => {
    if (a.running !== b.running) return a.running ? -1 : 1;
    if ((a.stack === previous) !== (b.stack === previous)) return a.stack === previous ? -1 : 1;
    return a.manifest < b.manifest ? -1 : a.manifest > b.manifest ? 1 : a.stack < b.stack ? -1 : a.stack > b.stack ? 1 : 0;
  };
}

/** The holder of every claimed project (project -> claim of the stack that holds it). */
export function projectHolders(claims: Iterable<ProjectClaim>, previous: ReadonlyMap<string, string>): Map<string, ProjectClaim> {
  const byProject = new Map<string, ProjectClaim[]>();
  for (const c of claims) byProject.set(c.project, [...(byProject.get(c.project) ?? []), c]);
  const holders = new Map<string, ProjectClaim>();
  for (const [project, cs] of byProject) holders.set(project, [...cs].sort(byRank(previous.get(project)))[0] as ProjectClaim);
  return holders;
}

/** Why a stack that does not hold its project cannot run: both stacks and both files, and what to do. */
export function projectClashMessage(loser: ProjectClaim, holder: ProjectClaim): string {
  return (
    `${loser.manifest}: stack "${loser.stack}" resolves to compose project "${loser.project}", which stack "${holder.stack}" ` +
    `(${holder.manifest}) already uses; two stacks in one project would remove each other's services as orphans. ` +
    `Give this stack another project (spec.compose.project, or the compose file's name:)`
  );
}

/** The claim a stack's pass makes once compose resolved its target. */
export function claimOf(stack: string, manifest: string, target: Target, applied: RevisionRecord | undefined): ProjectClaim {
  return { stack, manifest, project: target.project, running: applied?.project === target.project };
}
