// A Stack manifest on disk resolved against its compose file (and, for a stack that follows
// a channel, against the releases berth accepted): the one way berth turns files into a
// Target, shared by the reconcile pass and by commands that must predict what berth will do
// with an edited manifest (`berth rollback`).
import { dirname, isAbsolute, join } from 'node:path';
import type { ResolvedStack } from '../api/types.js';
import { parseYaml } from '../api/validate.js';
import { chooseRelease } from '../plan/offer.js';
import { asComposeDocument, followChannel, resolveTarget, type ChannelRelease } from '../plan/target.js';
import type { ChannelView, RevisionRecord, Target } from '../plan/types.js';
import { readRegularFile } from '../util/files.js';

export type TargetFile = { target: Target; composeFile: string } | { error: string; composeFile: string };

/** What a stack with a channel is resolved against besides its files. */
export interface FollowContext {
  releases: readonly ChannelRelease[];
  view: ChannelView;
  /** The revision berth applied last: its version is what runs. */
  applied?: RevisionRecord;
  now: Date;
}

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
    // What runs: the applied revision's version, else (nothing applied yet) the pinned one.
    const current = follow.applied?.version ?? stack.spec.version;
    const offer = chooseRelease({
      releases: follow.releases.map((r) => r.release),
      ...(current !== undefined ? { current } : {}),
      spec: stack.spec,
      now: follow.now,
    });
    const view: ChannelView = { ...follow.view, ...(offer.available !== undefined ? { available: offer.available } : {}) };
    if (stack.spec.version !== undefined) return { target: { ...resolveTarget(src), channel: view }, composeFile };
    return { target: followChannel(src, offer, follow.releases, follow.applied, view), composeFile };
  } catch (err) {
    // YAML errors, a compose file without services, images naming unknown services.
    if (err instanceof Error) return { error: err.message, composeFile };
    throw err;
  }
}
