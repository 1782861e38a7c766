// Images come down before anything is stopped: berth pulls every pinned image of a
// revision first, and only when all are present does compose touch a container.
import type { Logger } from 'pino';
import { missingRefs } from '../plan/image-ref.js';
import type { Engine, PullEvent } from './engine.js';

/** The pinned refs the engine does not hold yet (it holds one when an image has that repo@digest). */
export async function missingImages(engine: Engine, refs: readonly string[]): Promise<string[]> {
  if (refs.length === 0) return [];
  return missingRefs((await engine.listImages()).flatMap((img) => img.RepoDigests ?? []), refs);
}

/** Who watches pulls as they happen (a progress bar on a terminal); never changes what is pulled. */
export interface PullProgress {
  /** A pull of `ref` starts. */
  start(ref: string): void;
  /** One line of the engine's progress stream for `ref`. */
  event(ref: string, event: PullEvent): void;
  /** The pull of `ref` ended; `error` when it failed. */
  done(ref: string, error?: Error): void;
}

export interface PullOptions {
  concurrency?: number;
  timeoutMs?: number;
  log?: Logger;
  progress?: PullProgress;
}

/** Pulls what is missing, a few at a time; the first failure is thrown once the others finish. */
export async function ensureImages(engine: Engine, refs: readonly string[], opts: PullOptions = {}): Promise<string[]> {
  const missing = await missingImages(engine, refs);
  const queue = [...missing];
  const errors: Error[] = [];
  const worker = async () => {
    for (let ref = queue.shift(); ref !== undefined; ref = queue.shift()) {
      opts.log?.info({ image: ref }, 'pulling image');
      const progress = opts.progress;
      progress?.start(ref);
      try {
        await engine.pull(ref, opts.timeoutMs ?? 10 * 60_000, progress !== undefined ? (e) => progress.event(ref, e) : undefined);
        progress?.done(ref);
        opts.log?.info({ image: ref }, 'pulled image');
      } catch (err) {
        progress?.done(ref, err as Error);
        errors.push(err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 3, queue.length) }, worker));
  if (errors.length > 0) throw errors[0]!;
  return missing;
}
