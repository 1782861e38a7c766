// A Stack manifest on disk resolved against its compose file (and, for a stack that follows
// a channel, against the releases berth accepted): the one way berth turns files into a
// Target, shared by the reconcile pass and by commands that must predict what berth will do
// with an edited manifest (`berth rollback`).
import { dirname, isAbsolute, join } from 'node:path';
import type { ResolvedStack } from '../api/types.js';
import { parseYaml } from '../api/validate.js';
import { asComposeDocument, channelTarget, resolveTarget, type FollowContext } from '../plan/target.js';
import type { Target } from '../plan/types.js';
import { readRegularFile } from '../util/files.js';

export type TargetFile = { target: Target; composeFile: string } | { error: string; composeFile: string };

export type { FollowContext };

/** The compose file a Stack names, relative to its manifest's folder unless absolute. */
export function composeFileOf(manifest: string, stack: ResolvedStack): string {
  const file = stack.spec.compose.file;
  return isAbsolute(file) ? file : join(dirname(manifest), file);
}

export async function resolveTargetFile(manifest: string, stack: ResolvedStack, follow?: FollowContext): Promise<TargetFile> {
  const composeFile = composeFileOf(manifest, stack);
  let text: string;
  try {
    text = await readRegularFile(composeFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (code === 'ENOTREGULAR') return { error: `${manifest}: spec.compose.file: ${(err as Error).message}`, composeFile };
    return { error: `${manifest}: spec.compose.file: cannot read ${composeFile} (${code}); the path is relative to the manifest`, composeFile };
  }
  try {
    const compose = asComposeDocument(composeFile, parseYaml(composeFile, text));
    const src = { stack, manifest, composeFile, compose };
    if (stack.spec.channel === undefined || follow === undefined) {
      if (stack.spec.version === undefined) {
        return { error: `${manifest}: spec.version is not set and no channel releases were loaded`, composeFile };
      }
      return { target: resolveTarget(src), composeFile };
    }
    return { target: channelTarget(src, follow), composeFile };
  } catch (err) {
    // YAML errors, a compose file without services, images naming unknown services.
    if (err instanceof Error) return { error: err.message, composeFile };
    throw err;
  }
}
