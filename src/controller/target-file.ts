// A Stack manifest on disk resolved against its compose inputs (and, for a stack that follows
// a channel, against the releases berth accepted): the one way berth turns files into a
// Target, shared by the reconcile pass and by commands that must predict what berth will do
// with an edited manifest (`berth rollback`). compose itself resolves the files (see
// docker/compose-model.ts); the planner gets its model.
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { ResolvedStack } from '../api/types.js';
import { DEFAULT_FILES, type ComposeInputs, type ModelSource } from '../docker/compose-model.js';
import { asComposeDocument, channelTarget, resolveTarget, type FollowContext, type TargetSource } from '../plan/target.js';
import type { Target } from '../plan/types.js';
import { projectFlag } from '../plan/project-name.js';

export type TargetFile =
  | { target: Target; composeFile: string; inputs: string[] }
  | { error: string; composeFile: string; inputs: string[] };

export type { FollowContext };

function fromManifest(manifest: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(manifest), path);
}

/** The compose file a Stack names (its first one), relative to its manifest's folder unless absolute. */
export function composeFileOf(manifest: string, stack: ResolvedStack): string {
  const c = stack.spec.compose;
  const first = c.files?.[0] ?? c.file;
  if (first !== undefined) return fromManifest(manifest, first);
  return join(composeInputsOf(manifest, stack).projectDirectory, DEFAULT_FILES[0] as string);
}

/** compose's discovery in the file's folder would pick this very file (no name before it in its order is there). */
function isDiscovered(file: string): boolean {
  const i = DEFAULT_FILES.indexOf(basename(file));
  return i >= 0 && DEFAULT_FILES.slice(0, i).every((name) => !existsSync(join(dirname(file), name)));
}

/**
 * The flags `docker compose` gets for a Stack. A lone `file` named as compose would discover
 * it is left to that discovery, so its override file is read as `docker compose` in its
 * folder reads it; any other name is passed with -f, as before.
 */
export function composeInputsOf(manifest: string, stack: ResolvedStack, appliedProject?: string): ComposeInputs {
  const c = stack.spec.compose;
  const files = c.files?.map((f) => fromManifest(manifest, f)) ?? (c.file !== undefined ? [fromManifest(manifest, c.file)] : undefined);
  const first = files?.[0];
  const projectDirectory =
    c.directory !== undefined ? fromManifest(manifest, c.directory) : first !== undefined ? dirname(first) : dirname(resolve(manifest));
  const project = projectFlag(c.project, stack.metadata.name, appliedProject);
  const discovered = c.files === undefined && first !== undefined && dirname(first) === projectDirectory && isDiscovered(first);
  return {
    projectDirectory,
    ...(files !== undefined && !discovered ? { files } : {}),
    ...(c.profiles !== undefined && c.profiles.length > 0 ? { profiles: c.profiles } : {}),
    ...(c.envFiles !== undefined ? { envFiles: c.envFiles.map((e) => (isAbsolute(e) ? e : join(projectDirectory, e))) } : {}),
    ...(project !== undefined ? { project } : {}),
  };
}

/**
 * The channel target, with the compose file of the release it is made from (when it carries
 * one) resolved by compose like the stack's own: same project directory, env files and
 * profiles, under the stack's project. Only that release is resolved, not every one the feed
 * listed; a release compose refuses makes the stack invalid, naming the release.
 */
async function withReleaseModel(
  src: TargetSource,
  follow: FollowContext,
  models: ModelSource,
  inputs: ComposeInputs,
  stackInputs: string[],
): Promise<TargetFile> {
  const first = channelTarget(src, follow);
  // The target uses the release's own file exactly when it holds that object (releaseTarget).
  const chosen = follow.releases.find((r) => r.compose !== undefined && first.compose === r.compose);
  const text = chosen?.release.spec.compose;
  if (chosen === undefined || text === undefined) return { target: first, composeFile: src.composeFile, inputs: stackInputs };
  const version = chosen.release.spec.version;
  const { files: _files, defaultProject: _default, ...shared } = inputs;
  let model;
  try {
    model = await models.resolve(`${src.stack.metadata.name}\u0000release ${version}`, { ...shared, text, project: first.project });
  } catch (err) {
    return {
      error: `the compose file of release ${version} cannot be loaded by compose in ${inputs.projectDirectory}: ${(err as Error).message}`,
      composeFile: src.composeFile,
      inputs: stackInputs,
    };
  }
  const compose = asComposeDocument(`the compose file of release ${version}`, model.model);
  const releases = follow.releases.map((r) => (r === chosen ? { ...r, compose } : r));
  const all = [...new Set([...stackInputs, ...model.inputs])];
  return { target: channelTarget(src, { ...follow, releases }), composeFile: src.composeFile, inputs: all };
}

export async function resolveTargetFile(
  manifest: string,
  stack: ResolvedStack,
  models: ModelSource,
  follow?: FollowContext,
  appliedProject?: string,
): Promise<TargetFile> {
  const composeFile = composeFileOf(manifest, stack);
  const inputs = composeInputsOf(manifest, stack, appliedProject);
  let resolved;
  try {
    resolved = await models.resolve(stack.metadata.name, inputs);
  } catch (err) {
    const message = (err as Error).message;
    return {
      error: `${manifest}: spec.compose: compose cannot load the stack's files: ${message}; fix them (try \`docker compose config\` in ${inputs.projectDirectory})`,
      composeFile,
      inputs: models.inputsOf?.(stack.metadata.name) ?? [composeFile],
    };
  }
  try {
    const compose = asComposeDocument(composeFile, resolved.model);
    // The model's names (networks, volumes) derive from the project it was resolved under: berth runs that one.
    // compose's model holds the services of every profile; those of the profiles compose enables are expected.
    const src = { stack, manifest, composeFile, compose, projectDirectory: inputs.projectDirectory, project: resolved.project, activeProfiles: resolved.activeProfiles };
    if (stack.spec.channel === undefined || follow === undefined) {
      if (stack.spec.version === undefined) {
        return { error: `${manifest}: spec.version is not set and no channel releases were loaded`, composeFile, inputs: resolved.inputs };
      }
      return { target: resolveTarget(src), composeFile, inputs: resolved.inputs };
    }
    return await withReleaseModel(src, follow, models, inputs, resolved.inputs);
  } catch (err) {
    // A model without services, images naming unknown services.
    if (err instanceof Error) return { error: err.message, composeFile, inputs: resolved.inputs };
    throw err;
  }
}
