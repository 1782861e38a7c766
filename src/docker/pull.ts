// Images come down before anything is stopped: berth pulls every pinned image of a
// revision first, and only when all are present does compose touch a container.
import type { Logger } from 'pino';
import { missingRefs } from '../plan/image-ref.js';
import type { Engine } from './engine.js';

/** The pinned refs the engine does not hold yet (it holds one when an image has that repo@digest). */
export async function missingImages(engine: Engine, refs: readonly string[]): Promise<string[]> {
  if (refs.length === 0) return [];
  return missingRefs((await engine.listImages()).flatMap((img) => img.RepoDigests ?? []), refs);
}

export interface PullOptions {
  concurrency?: number;
  timeoutMs?: number;
  log?: Logger;
}

/** Pulls what is missing, a few at a time; the first failure is thrown once the others finish. */
export async function ensureImages(engine: Engine, refs: readonly string[], opts: PullOptions = {}): Promise<string[]> {
  const missing = await missingImages(engine, refs);
  const queue = [...missing];
  const errors: Error[] = [];
  const worker = async () => {
    for (let ref = queue.shift(); ref !== undefined; ref = queue.shift()) {
      opts.log?.info({ image: ref }, 'pulling image');
      try {
        await engine.pull(ref, opts.timeoutMs ?? 10 * 60_000);
        opts.log?.info({ image: ref }, 'pulled image');
      } catch (err) {
        errors.push(err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 3, queue.length) }, worker));
  if (errors.length > 0) throw errors[0]!;
  return missing;
}
