// `berth diff`: what berth's next revision of a stack would make compose recreate, compared
// with what runs, before anything is applied (as when a running install is adopted). compose
// is asked for the config hash of each service of the revision berth would render
// (`config --hash`) and the engine for the hash label of each container compose made; the
// comparison is plan/recreate.ts. The revision is rendered as the reconcile pass would render
// it: over a running install, with the services it adopts as they run (plan/adopt.ts); for a
// stack that follows a channel, from the release berth would apply next. Writes nothing to
// the state folder, and the rendered file (which can hold secrets) goes to compose on stdin.
// `berth render` prints the same rendered file (nextRevision).
import { readFile } from 'node:fs/promises';
import type { ResolvedStack } from '../api/types.js';
import type { ComposeCli } from '../docker/compose.js';
import { ComposeModels, type ModelSource } from '../docker/compose-model.js';
import type { Engine } from '../docker/engine.js';
import { observeProject } from '../docker/observe.js';
import { serviceConfigHashes } from '../docker/config-hash.js';
import { adoptedServices } from '../plan/adopt.js';
import { recreatePlan, type ServiceDiff } from '../plan/recreate.js';
import { carriedServices, renderRevision } from '../plan/render.js';
import type { ExpectedService, RevisionRecord, Target } from '../plan/types.js';
import { storedInstanceId } from '../store/channel.js';
import { scanManifests, readManifest } from '../store/manifests.js';
import type { StateStore } from '../store/state.js';
import { readRegularFile } from '../util/files.js';
import { mayAdopt, unlabelledHashes } from './adoption.js';
import { diffLines, splitLines, type DiffLine } from '../plan/text-diff.js';
import { redactComposeText } from '../util/redact.js';
import { keepLegacyKey } from './legacy-revision.js';
import { followContext, ReleaseCache } from './releases.js';
import { resolveTargetFile, type FollowContext } from './target-file.js';

export interface StackDiff {
  stack: string;
  manifest: string;
  project: string;
  /** The version berth would run: the Stack's, or the release of its channel it would apply next. */
  version: string;
  /** Why that version is not applied yet by itself (approval, policy, cooldown), if it waits. */
  waiting?: string;
  /** The revision that runs (undefined: berth has applied none), and the one berth would write, if any. */
  applied?: number;
  next?: number;
  /** The image each pinned service would run (a channel's from the release berth would apply). */
  images: Record<string, string>;
  services: ServiceDiff[];
  /** The compose file that runs against the one the next pass would run, credentials redacted. */
  compose: ComposeDiff;
}

/** A line diff of two compose files, both redacted (util/redact.ts) before they were compared. */
export interface ComposeDiff {
  /** What each side is: "revision 3 (runs)", "revision 4 (next pass)". */
  from: string;
  to: string;
  lines: DiffLine[];
}

/** The manifest of a stack: the one its status names, else the first file of the folder that declares it. */
async function manifestOf(state: StateStore, name: string, manifestsDir: string | undefined): Promise<{ file: string; stack: ResolvedStack }> {
  const known = (await state.readStatus({ stack: name }).catch(() => undefined))?.status.manifest;
  const scanned = known !== undefined ? undefined : await scanManifests(manifestsDir ?? '.');
  const entry = known !== undefined ? await readManifest(known) : scanned?.find((e) => e.stack?.metadata.name === name);
  if (entry === undefined) {
    // A typo in NAME is likelier than the wrong folder: name what the folder does declare.
    const names = [...new Set((scanned ?? []).map((e) => e.stack?.metadata.name ?? e.declaredName).filter((n) => n !== undefined))].sort();
    const holds = names.length > 0 ? `its manifests declare: ${names.join(', ')}` : 'it holds no Stack manifests';
    throw new Error(`no manifest in ${manifestsDir ?? '.'} declares stack "${name}" (${holds}); check the name, or pass the folder that holds it with --manifests`);
  }
  if (entry.stack === undefined) throw new Error(entry.error?.message ?? `${entry.file}: not a valid Stack`);
  return { file: entry.file, stack: entry.stack };
}

/** What berth's next pass would run: the revision it would write (or the applied one, when none is due), rendered. */
export interface NextRevision {
  stack: string;
  manifest: string;
  project: string;
  projectDirectory: string;
  /** The version berth would run: the Stack's, or the release of its channel it would apply next. */
  version: string;
  /** Why that version is not applied yet by itself (approval, policy, cooldown), if it waits. */
  waiting?: string;
  applied?: number;
  /** The revision berth would write; undefined when the applied one is still the target. */
  next?: number;
  /** The compose file berth would run (the applied revision's own when no new one is due). */
  composeText: string;
  profiles: string[];
  services: ExpectedService[];
  /** What runs of the project now (the diff compares with it; adoption depends on it). */
  observed: Awaited<ReturnType<typeof observeProject>>;
}

/**
 * The compose file berth's next pass would run for a stack, rendered exactly as the
 * reconciler renders a revision (plan/render.ts, adopting what runs as it runs), without
 * writing anything. `berth render` prints it; `berth diff` compares it with what runs.
 */
export async function nextRevision(name: string, deps: { state: StateStore; engine: Engine; compose: ComposeCli; manifestsDir?: string }): Promise<NextRevision> {
  const { state, engine, compose } = deps;
  const { file, stack } = await manifestOf(state, name, deps.manifestsDir);
  const status = await state.readStatus({ stack: name }).catch(() => undefined);
  const appliedNumber = status?.status.revision;
  const applied = appliedNumber !== undefined ? await state.readRevision(name, appliedNumber) : undefined;
  const models = new ComposeModels(compose);
  const follow = await followContext(new ReleaseCache(state), name, stack, file, applied, status?.status.quarantine, new Date());
  const resolved = await resolveTargetFile(file, stack, models, follow, applied?.project);
  if ('error' in resolved) throw new Error(resolved.error);
  const offered = await offeredTarget(file, stack, models, follow, applied, resolved.target);
  if (offered.target.version === '') {
    throw new Error(`stack "${name}" follows channel "${stack.spec.channel?.name ?? ''}" and has no release from it yet: there is nothing to compare; wait for a check-in (berth get ${name})`);
  }
  const target = await keepLegacyKey(models, offered.target, applied, state.revisionComposePath(name, applied?.revision ?? 0));
  const isNew = applied === undefined || applied.targetKey !== target.key;
  const next = isNew ? Math.max((await state.latestRevision(name))?.revision ?? 0, applied?.revision ?? 0) + 1 : undefined;

  const observed = await observeProject(engine, diffedProject(target, applied, next));
  const common = {
    stack: name,
    manifest: file,
    version: target.version,
    observed,
    ...(offered.waiting !== undefined ? { waiting: offered.waiting } : {}),
    ...(applied !== undefined ? { applied: applied.revision } : {}),
  };
  if (next !== undefined) {
    const recorded = applied !== undefined ? { applied } : {};
    // Adopting a running install: what runs as berth would render it unlabelled stays (plan/adopt.ts).
    let adopted: Record<string, string> = {};
    if (mayAdopt({ valid: true, target }, recorded, observed)) adopted = adoptedServices(await unlabelledHashes(compose, target), observed);
    const rendered = renderRevision(target, next, carriedServices(applied, target), await storedInstanceId(state).catch(() => undefined), adopted);
    return { ...common, next, project: target.project, projectDirectory: target.projectDirectory, composeText: rendered.composeText, profiles: rendered.profiles, services: rendered.services };
  }
  const record = applied as NonNullable<typeof applied>;
  return {
    ...common,
    project: record.project,
    projectDirectory: record.projectDirectory,
    composeText: await readRegularFile(state.revisionComposePath(name, record.revision)),
    profiles: record.profiles ?? [],
    services: record.services,
  };
}

/**
 * The compose file of the revision that runs (as stored in the state folder) against the one
 * the next pass would run. Both sides are redacted before they are compared: rendered files
 * hold interpolated values, and this diff is shown on the console and printed by `berth diff`.
 */
export async function composeDiff(rev: NextRevision, state: StateStore): Promise<ComposeDiff> {
  const to = rev.next !== undefined ? `revision ${rev.next} (next pass)` : `revision ${rev.applied} (runs; no new revision is due)`;
  if (rev.applied === undefined) return { from: 'nothing (berth has applied no revision)', to, lines: diffLines([], splitLines(redactComposeText(rev.composeText))) };
  const path = state.revisionComposePath(rev.stack, rev.applied);
  const running = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read the compose file of revision ${rev.applied} that runs (${path}): ${(err as Error).message}; berth writes it with the revision, so the state folder may have been edited by hand`);
  });
  return { from: `revision ${rev.applied} (runs)`, to, lines: diffLines(splitLines(redactComposeText(running)), splitLines(redactComposeText(rev.composeText))) };
}

export async function diffStack(name: string, deps: { state: StateStore; engine: Engine; compose: ComposeCli; manifestsDir?: string }): Promise<StackDiff> {
  const rev = await nextRevision(name, deps);
  const wanted = await serviceConfigHashes(deps.compose, { project: rev.project, projectDirectory: rev.projectDirectory, composeText: rev.composeText, profiles: rev.profiles });
  // compose leaves what a person runs of an inactive profile alone (--remove-orphans included): not a removal.
  const inactive = new Set(rev.services.filter((x) => x.inactive === true).map((x) => x.name));
  const running = rev.observed.containers
    .filter((c) => !inactive.has(c.service))
    .map((c) => ({ service: c.service, name: c.name, ...(c.configHash !== undefined ? { configHash: c.configHash } : {}) }));
  return {
    stack: name,
    manifest: rev.manifest,
    project: rev.project,
    version: rev.version,
    ...(rev.waiting !== undefined ? { waiting: rev.waiting } : {}),
    ...(rev.applied !== undefined ? { applied: rev.applied } : {}),
    ...(rev.next !== undefined ? { next: rev.next } : {}),
    images: Object.fromEntries(rev.services.flatMap((x) => (x.pinned !== undefined ? [[x.name, x.pinned]] : []))),
    services: recreatePlan(wanted, running),
    compose: await composeDiff(rev, deps.state),
  };
}

/**
 * The target the diff is about. A release on offer that waits (for approval, a cooldown)
 * leaves the stack's target where it is, yet it is what a person asks diff about before
 * approving: it is resolved as that approval would make it (spec.approve set to its
 * version, nothing else), and why it waits is said beside it.
 */
async function offeredTarget(
  manifest: string,
  stack: ResolvedStack,
  models: ModelSource,
  follow: FollowContext | undefined,
  applied: RevisionRecord | undefined,
  target: Target,
): Promise<{ target: Target; waiting?: string }> {
  const waiting = target.hold?.message;
  const offered = target.channel?.available;
  const version = offered?.release.spec.version;
  if (offered === undefined || version === undefined || version === target.version || stack.spec.version !== undefined) {
    return { target, ...(waiting !== undefined ? { waiting } : {}) };
  }
  const approved: ResolvedStack = { ...stack, spec: { ...stack.spec, approve: version } };
  const again = await resolveTargetFile(manifest, approved, models, follow, applied?.project);
  if ('error' in again || again.target.version !== version) return { target, ...(waiting !== undefined ? { waiting } : {}) };
  const why = offered.waitingFor ?? waiting;
  return { target: again.target, ...(why !== undefined ? { waiting: why } : {}) };
}

/** The project the diff is about: the target's when a revision is due, else the applied one's. */
function diffedProject(target: Target, applied: RevisionRecord | undefined, next: number | undefined): string {
  return next !== undefined || applied === undefined ? target.project : applied.project;
}
