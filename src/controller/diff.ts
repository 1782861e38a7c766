// `berth diff`: what berth's next revision of a stack would make compose recreate, compared
// with what runs, before anything is applied (as when a running install is adopted). compose
// is asked for the config hash of each service of the revision berth would render
// (`config --hash`) and the engine for the hash label of each container compose made; the
// comparison is plan/recreate.ts. Writes nothing to the state folder. `berth render` prints
// the same rendered file (nextRevision).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedStack } from '../api/types.js';
import type { ComposeCli } from '../docker/compose.js';
import { ComposeModels } from '../docker/compose-model.js';
import type { Engine } from '../docker/engine.js';
import { observeProject } from '../docker/observe.js';
import { parseServiceHashes, recreatePlan, type ServiceDiff } from '../plan/recreate.js';
import { renderRevision } from '../plan/render.js';
import { storedInstanceId } from '../store/channel.js';
import { scanManifests, readManifest } from '../store/manifests.js';
import type { StateStore } from '../store/state.js';
import { PRIVATE, writeFileAtomic } from '../util/atomic.js';
import { keepLegacyKey } from './legacy-revision.js';
import { resolveTargetFile } from './target-file.js';

export interface StackDiff {
  stack: string;
  manifest: string;
  project: string;
  /** The revision that runs (undefined: berth has applied none), and the one berth would write, if any. */
  applied?: number;
  next?: number;
  services: ServiceDiff[];
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
  applied?: number;
  /** The revision berth would write; undefined when the applied one is still the target. */
  next?: number;
  /** The compose file berth would run (the applied revision's own when no new one is due). */
  composeText: string;
  profiles: string[];
}

/**
 * The compose file berth's next pass would run for a stack, rendered exactly as the
 * reconciler renders a revision (plan/render.ts), without writing anything. `berth render`
 * prints it; `berth diff` compares it with what runs.
 */
export async function nextRevision(name: string, deps: { state: StateStore; compose: ComposeCli; manifestsDir?: string }): Promise<NextRevision> {
  const { state, compose } = deps;
  const { file, stack } = await manifestOf(state, name, deps.manifestsDir);
  if (stack.spec.channel !== undefined) {
    throw new Error(`stack "${name}" follows channel "${stack.spec.channel.name}": berth diff and render show only stacks with spec.version for now`);
  }
  const status = await state.readStatus({ stack: name }).catch(() => undefined);
  const appliedNumber = status?.status.revision;
  const applied = appliedNumber !== undefined ? await state.readRevision(name, appliedNumber) : undefined;
  const models = new ComposeModels(compose);
  const resolved = await resolveTargetFile(file, stack, models, undefined, applied?.project);
  if ('error' in resolved) throw new Error(resolved.error);
  const target = await keepLegacyKey(models, resolved.target, applied, state.revisionComposePath(name, applied?.revision ?? 0));
  const isNew = applied === undefined || applied.targetKey !== target.key;
  const common = { stack: name, manifest: file, ...(applied !== undefined ? { applied: applied.revision } : {}) };
  if (isNew) {
    const next = Math.max((await state.latestRevision(name))?.revision ?? 0, applied?.revision ?? 0) + 1;
    const rendered = renderRevision(target, next, applied?.services ?? [], await storedInstanceId(state).catch(() => undefined));
    return { ...common, next, project: target.project, projectDirectory: target.projectDirectory, composeText: rendered.composeText, profiles: rendered.profiles };
  }
  const record = applied as NonNullable<typeof applied>;
  return {
    ...common,
    project: record.project,
    projectDirectory: record.projectDirectory,
    composeText: await readFile(state.revisionComposePath(name, record.revision), 'utf8'),
    profiles: record.profiles ?? [],
  };
}

export async function diffStack(name: string, deps: { state: StateStore; engine: Engine; compose: ComposeCli; manifestsDir?: string }): Promise<StackDiff> {
  const { engine, compose } = deps;
  const rev = await nextRevision(name, deps);
  // Revision files can hold secrets: the rendered one goes to a private folder, removed after.
  const dir = await mkdtemp(join(tmpdir(), 'berth-diff-'));
  try {
    const revisionFile = join(dir, 'compose.yaml');
    await writeFileAtomic(revisionFile, rev.composeText, PRIVATE.file, PRIVATE.dir);
    const args = ['-p', rev.project, '--project-directory', rev.projectDirectory, '-f', revisionFile, ...rev.profiles.flatMap((p) => ['--profile', p])];
    const { stdout } = await compose.run([...args, 'config', '--hash', '*'], { timeoutMs: 60_000 });
    const observed = await observeProject(engine, rev.project);
    const running = observed.containers.map((c) => ({ service: c.service, name: c.name, ...(c.configHash !== undefined ? { configHash: c.configHash } : {}) }));
    return {
      stack: name,
      manifest: rev.manifest,
      project: rev.project,
      ...(rev.applied !== undefined ? { applied: rev.applied } : {}),
      ...(rev.next !== undefined ? { next: rev.next } : {}),
      services: recreatePlan(parseServiceHashes(stdout), running),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
